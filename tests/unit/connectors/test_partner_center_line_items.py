"""Reconciliation lines in every form Microsoft delivers them: v1 JSON, the CSV file, the v2
export; fixtures are shaped as in "Get invoice line items" and "Modern invoice reconciliation
file"."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.models import (
    Collection,
    InvoiceLineItem,
    file_row,
    read_reconciliation_csv,
)
from hub.domain.charges import BilledSubscription, change_charges
from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.domain.rating import rate_charge
from hub.domain.reconciliation import ReconciliationLine, line_cost, reconcile

FIXTURES = Path(__file__).parent / "fixtures"


def _v1_items() -> list[InvoiceLineItem]:
    payload = wire_json.loads((FIXTURES / "invoice_lineitems_v1.json").read_text())
    return Collection[InvoiceLineItem].model_validate(payload).items


def test_v1_json_with_string_numbers_and_camel_case_names_parses() -> None:
    trial, promoted, _ = _v1_items()
    assert trial.charge_type is ChargeType.NEW
    assert (trial.quantity, trial.billable_quantity) == (Decimal(25), Decimal(25))
    assert trial.reseller_mpn_id == "4649221"
    assert trial.pc_to_bc_exchange_rate_date == datetime(2021, 5, 1, tzinfo=UTC)
    # Promotion: UnitPrice 16 but EffectiveUnitPrice 14.4 is what is billed: 14.4 x 50 = 720.
    assert (promoted.unit_price, promoted.effective_unit_price) == (Decimal(16), Decimal("14.4"))
    assert line_cost(promoted.effective_unit_price, promoted.billable_quantity, "USD") == 72000
    assert promoted.subtotal == Decimal(720)
    assert promoted.total == Decimal(0)  # totalForCustomer


def test_v1_json_numbers_decimal_quantities_and_capitalised_charge_types_parse() -> None:
    *_, metered = _v1_items()
    assert metered.charge_type is ChargeType.NEW  # written "New"
    assert metered.billable_quantity == Decimal("3.1618")
    assert metered.reseller_mpn_id == ""  # written as the number 0
    assert metered.unit_price == Decimal(820)
    assert metered.charge_start_date.astimezone(UTC).date() == date(2019, 2, 4)


def test_csv_rows_parse_by_the_files_column_names() -> None:
    refund, charge = read_reconciliation_csv((FIXTURES / "recon_seat_change.csv").read_text())
    assert refund.charge_type is charge.charge_type is ChargeType.ADD_QUANTITY
    assert (refund.effective_unit_price, refund.billable_quantity) == (Decimal("-3.75"), 10)
    assert (refund.pricing_currency, refund.currency) == ("USD", "GBP")
    assert refund.pc_to_bc_exchange_rate == Decimal("0.8")
    assert refund.charge_start_date == datetime(2026, 11, 16, tzinfo=UTC)
    assert charge.total == Decimal(36)


def test_file_row_and_json_forms_read_back_the_same_line() -> None:
    for item in _v1_items():
        assert InvoiceLineItem.model_validate(file_row(item)) == item
        assert InvoiceLineItem.model_validate(json.loads(wire_json.dumps(item))) == item
        assert "partnerId" in json.loads(wire_json.dumps(item))


def test_a_seat_change_in_a_second_currency_from_the_file_reconciles_with_the_hub() -> None:
    """Priced in USD (7.50), billed in GBP at 0.8 (6.00): 10 seats to 12 on 16 Nov. The file's
    two addQuantity lines match the hub's two lines exactly."""
    rows = read_reconciliation_csv((FIXTURES / "recon_seat_change.csv").read_text())
    microsoft = [ReconciliationLine.model_validate(file_row(item)) for item in rows]
    sub = BilledSubscription(
        subscription_id="sub-1",
        customer_id="c139c4bf-2e8b-4ab5-8bed-d9f50dcca7a2",
        reseller_id="r1",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="GBP",
        quantity=10,
        term_start=date(2026, 11, 1),
        term_end=date(2027, 11, 1),
        unit_cost_minor=600,
        unit_price_minor=700,
    )
    charges = change_charges(
        sub,
        "chg-1",
        kind="change_quantity",
        old_quantity=10,
        new_quantity=12,
        effective_at=datetime(2026, 11, 16, 11, tzinfo=UTC),
    )
    hub = [rate_charge(c, [sub.protected_entry()], 0) for c in charges]
    result = reconcile(microsoft, hub)
    assert result.mismatches == ()
    assert result.summary.microsoft_total_minor == {"GBP": 600}
