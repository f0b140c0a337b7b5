"""How billing and collections facts move a reseller's exposure (the credit check's input)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.consumption.invoice_lines import AZURE_PLAN_PRODUCT_ID
from hub.domain.credit import Exposure, commitment_billed_by
from hub.schemas.events.billing import CreditNoteIssued, InvoiceIssued
from hub.streams.orders.intake import apply_exposure_event
from tests.support.samples import sample


@given(
    committed=st.integers(min_value=0, max_value=10**12),
    subtotal=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_an_invoice_never_bills_more_commitment_than_is_open(committed: int, subtotal: int) -> None:
    exposure = Exposure(reseller_id="contoso", currency="EUR", committed_minor=committed)

    billed = commitment_billed_by(exposure, subtotal)

    assert 0 <= billed <= committed
    assert billed == min(max(subtotal, 0), committed)


def test_invoice_moves_billed_commitment_into_receivables_with_tax() -> None:
    invoice = sample("InvoiceIssued")
    assert isinstance(invoice, InvoiceIssued)
    exposure = Exposure(reseller_id="contoso", currency=invoice.currency, committed_minor=10**9)

    after = apply_exposure_event(exposure, invoice)

    assert after.open_receivables_minor == invoice.total_minor
    assert after.committed_minor == 10**9 - invoice.subtotal_minor
    # Tax is owed but was never committed: exposure grows by exactly the tax.
    assert after.total_minor - exposure.total_minor == invoice.tax_minor


def test_consumption_lines_of_an_invoice_pay_no_commitment_off() -> None:
    invoice = sample("InvoiceIssued")
    assert isinstance(invoice, InvoiceIssued)
    licence = invoice.lines[0]
    azure = licence.model_copy(
        update={"line_id": "azure-1", "product_id": AZURE_PLAN_PRODUCT_ID, "amount_minor": 7_000}
    )
    both = invoice.model_copy(
        update={
            "lines": (licence, azure),
            "subtotal_minor": invoice.subtotal_minor + 7_000,
            "total_minor": invoice.total_minor + 7_000,
        }
    )
    exposure = Exposure(reseller_id="contoso", currency=invoice.currency, committed_minor=10**9)

    after = apply_exposure_event(exposure, InvoiceIssued.model_validate(both.model_dump()))

    # Only the licence lines leave the commitment; the whole total becomes a receivable.
    assert after.committed_minor == 10**9 - invoice.subtotal_minor
    assert after.open_receivables_minor == invoice.total_minor + 7_000


def test_credit_note_reduces_receivables() -> None:
    note = sample("CreditNoteIssued")
    assert isinstance(note, CreditNoteIssued)
    exposure = Exposure(
        reseller_id="contoso", currency=note.currency, open_receivables_minor=50_000
    )

    after = apply_exposure_event(exposure, note)

    assert after.open_receivables_minor == 50_000 - note.total_minor
