"""Invoices: numbering, due dates, tax per rate, exact totals, credit notes, replays."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, BillingMode, ChargeType, ProductKind, Term
from hub.domain.invoicing import (
    InvoiceKind,
    build_invoice,
    group_by_recipient,
    period_bounds,
)
from hub.domain.rating import RatedLine
from hub.domain.tax import TaxTreatment, default_tax_table
from hub.errors import ValidationFailed

TABLE = default_tax_table()
NOV = period_bounds("2026-11")


def rated(
    n: int,
    price: int,
    *,
    kind: ProductKind = ProductKind.SUBSCRIPTION,
    ct: ChargeType = ChargeType.CYCLE_CHARGE,
    customer: str = "c1",
    reseller: str = "r1",
    currency: str = "EUR",
) -> RatedLine:
    return RatedLine(
        line_id=f"line-{n:04d}",
        source_id=f"e{n}",
        charge_type=ct,
        subscription_id=f"s{n}",
        customer_id=customer,
        reseller_id=reseller,
        product_id="P",
        sku_id="S",
        availability_id="A",
        kind=kind,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency=currency,
        quantity=1,
        unit_cost_minor=abs(price),
        unit_price_minor=abs(price),
        cost_minor=price,
        price_minor=price,
        period_start=NOV[0],
        period_end=NOV[1],
        days=30,
        period_days=30,
    )


def invoice(lines: list[RatedLine], **over: Any) -> Any:
    args: dict[str, Any] = {
        "issuer_id": "distributor",
        "recipient_id": "r1",
        "currency": "EUR",
        "period_start": NOV[0],
        "period_end": NOV[1],
        "issue_date": date(2026, 12, 1),
        "payment_terms_days": 30,
        "last_number": 41,
        "number_prefix": "INV-2026",
        "tax_rule": TABLE.rule_for("BR"),
    }
    args.update(over)
    return build_invoice(lines, **args)


def test_period_bounds_cover_the_calendar_month() -> None:
    assert period_bounds("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_bounds("2028-02")[1] == date(2028, 2, 29)
    with pytest.raises(ValidationFailed):
        period_bounds("2026/11")


def test_invoice_numbers_follow_the_issuers_last_number_and_due_date_follows_terms() -> None:
    inv = invoice([rated(1, 10_000)])
    assert (inv.sequence, inv.number) == (42, "INV-2026-00000042")
    assert inv.due_date == date(2026, 12, 31)
    assert inv.kind is InvoiceKind.INVOICE


def test_tax_is_shown_per_rate_and_totals_add_up() -> None:
    # Brazil: subscriptions 2.90%, services 5.00%.
    inv = invoice([rated(1, 10_000), rated(2, 3_333, kind=ProductKind.SERVICE), rated(3, 5_000)])
    summary = {(s.rate_bps, s.taxable_minor, s.tax_minor) for s in inv.tax_summary}
    assert summary == {(290, 15_000, 435), (500, 3_333, 167)}
    assert (inv.subtotal_minor, inv.tax_minor, inv.total_minor) == (18_333, 602, 18_935)


def test_exempt_reseller_invoice_has_no_tax() -> None:
    inv = invoice([rated(1, 10_000)], tax_rule=TABLE.rule_for("DE"), resale_exempt=True)
    assert inv.tax_minor == 0
    assert inv.tax_summary[0].treatment is TaxTreatment.RESALE_EXEMPT
    assert inv.total_minor == 10_000


def test_negative_total_is_a_credit_note_due_on_issue() -> None:
    inv = invoice(
        [rated(1, 1_000), rated(2, -5_000, ct=ChargeType.CUSTOMER_CREDIT)],
        tax_rule=TABLE.rule_for("DE"),
    )
    assert inv.kind is InvoiceKind.CREDIT_NOTE
    assert (inv.subtotal_minor, inv.tax_minor, inv.total_minor) == (-4_000, -760, -4_760)
    assert inv.due_date == inv.issue_date


def test_replay_in_any_order_gives_the_same_invoice() -> None:
    lines = [rated(i, 1_000 + i) for i in range(20)]
    first = invoice(lines)
    shuffled = list(lines)
    random.Random(3).shuffle(shuffled)
    assert invoice(shuffled) == first
    assert invoice([*lines, lines[0]]) == first  # a redelivered line is not billed twice


def test_two_different_lines_under_one_id_are_refused() -> None:
    clash = rated(1, 999)
    with pytest.raises(ValidationFailed):
        invoice([rated(1, 1_000), clash])


def test_lines_in_another_currency_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        invoice([rated(1, 1_000), rated(2, 1_000, currency="GBP")])


def test_white_label_invoices_go_to_customers_reseller_billed_to_resellers() -> None:
    lines = [rated(1, 1, customer="cA"), rated(2, 1, customer="cB"), rated(3, 1, customer="cA")]
    assert list(group_by_recipient(lines, BillingMode.DISTRIBUTOR_WHITE_LABEL)) == ["cA", "cB"]
    assert list(group_by_recipient(lines, BillingMode.RESELLER_BILLS)) == ["r1"]


@given(
    st.lists(
        st.tuples(st.integers(-(10**7), 10**7), st.sampled_from(list(ProductKind))),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["DE", "FR", "GB", "NL", "JP", "BR", "US"]),
    st.booleans(),
)
def test_totals_add_up_on_every_invoice(
    amounts: list[tuple[int, ProductKind]], country: str, exempt: bool
) -> None:
    lines = [rated(i, a, kind=k) for i, (a, k) in enumerate(amounts)]
    inv = invoice(lines, tax_rule=TABLE.rule_for(country), resale_exempt=exempt)
    assert inv.subtotal_minor == sum(a for a, _ in amounts)
    assert inv.tax_minor == sum(ln.tax_minor for ln in inv.lines)
    assert inv.tax_minor == sum(s.tax_minor for s in inv.tax_summary)
    assert inv.subtotal_minor == sum(s.taxable_minor for s in inv.tax_summary)
    assert inv.total_minor == inv.subtotal_minor + inv.tax_minor
    assert (inv.kind is InvoiceKind.CREDIT_NOTE) == (inv.total_minor < 0)
