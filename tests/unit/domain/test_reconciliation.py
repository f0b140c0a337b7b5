"""Reconciliation: Partner Center lines against the hub's cost lines, every difference found."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, ChargeType, ProductKind, Term
from hub.domain.rating import RatedLine
from hub.domain.reconciliation import Difference, ReconciliationLine, reconcile

START, END = date(2026, 11, 1), date(2026, 11, 30)


def ms_line(**over: Any) -> ReconciliationLine:
    row: dict[str, Any] = {
        "PartnerId": "p-dist",
        "CustomerId": "cust-1",
        "ResellerMpnId": "1234567",
        "OrderId": "ord-1",
        "SubscriptionId": "sub-1",
        "ProductId": "P",
        "SkuId": "S",
        "AvailabilityId": "A",
        "ChargeType": "cycleCharge",
        "UnitPrice": "10.00",
        "EffectiveUnitPrice": "10.00",
        "Quantity": 5,
        "BillableQuantity": "5",
        "Subtotal": "50.00",
        "TaxTotal": "0",
        "Total": "50.00",
        "Currency": "EUR",
        "ChargeStartDate": "2026-11-01T00:00:00Z",
        "ChargeEndDate": "2026-11-30T00:00:00Z",
        "TermAndBillingCycle": "1 Year Subscription - monthly",
        "BillingFrequency": "Monthly",
        "CreditReasonCode": None,
        "SomeNewColumn": "ignored",
    }
    row.update(over)
    return ReconciliationLine.model_validate(row)


def hub_line(**over: Any) -> RatedLine:
    base: dict[str, Any] = {
        "line_id": "l-1",
        "source_id": "e-1",
        "charge_type": ChargeType.CYCLE_CHARGE,
        "subscription_id": "sub-1",
        "customer_id": "cust-1",
        "reseller_id": "r1",
        "product_id": "P",
        "sku_id": "S",
        "availability_id": "A",
        "kind": ProductKind.SUBSCRIPTION,
        "term": Term.P1Y,
        "billing_cycle": BillingCycle.MONTHLY,
        "currency": "EUR",
        "quantity": 5,
        "unit_cost_minor": 1000,
        "unit_price_minor": 1200,
        "cost_minor": 5000,
        "price_minor": 6000,
        "period_start": START,
        "period_end": END,
        "days": 30,
        "period_days": 30,
    }
    base.update(over)
    return RatedLine(**base)


def test_partner_center_columns_parse_by_their_names() -> None:
    line = ms_line()
    assert line.charge_type is ChargeType.CYCLE_CHARGE
    assert line.charge_start_date == START
    assert line.unit_price == Decimal("10.00")


def test_identical_lines_match() -> None:
    result = reconcile([ms_line()], [hub_line()], invoice_number="G000123")
    assert result.mismatches == ()
    assert result.summary.matched == 1
    assert result.summary.microsoft_total_minor == {"EUR": 5000}


def test_injected_price_difference_is_exactly_one_mismatch_with_both_sides() -> None:
    result = reconcile([ms_line(UnitPrice="10.50", Subtotal="52.50")], [hub_line()])
    (mm,) = result.mismatches
    assert mm.differences == (Difference.UNIT_PRICE, Difference.AMOUNT)
    assert mm.microsoft is not None
    assert mm.hub is not None
    assert (mm.microsoft.amount_minor, mm.hub.amount_minor) == (5250, 5000)


def test_quantity_difference() -> None:
    (mm,) = reconcile([ms_line(Quantity=6, Subtotal="60.00")], [hub_line()]).mismatches
    assert Difference.QUANTITY in mm.differences


def test_missing_on_either_side() -> None:
    other = hub_line(subscription_id="sub-2", line_id="l-2")
    result = reconcile([ms_line(SubscriptionId="sub-9")], [hub_line(), other])
    kinds = {(m.subscription_id, m.differences) for m in result.mismatches}
    assert kinds == {
        ("sub-1", (Difference.MISSING_AT_MICROSOFT,)),
        ("sub-2", (Difference.MISSING_AT_MICROSOFT,)),
        ("sub-9", (Difference.MISSING_IN_HUB,)),
    }


def test_currency_difference_is_not_compared_further() -> None:
    (mm,) = reconcile([ms_line(Currency="USD")], [hub_line()]).mismatches
    assert mm.differences == (Difference.CURRENCY,)


def test_refund_lines_match_on_magnitude_of_quantity_and_signed_amount() -> None:
    ms = ms_line(
        ChargeType="cancelImmediate", ChargeStartDate="2026-11-03", Quantity=-5, Subtotal="-46.67"
    )
    ours = hub_line(
        charge_type=ChargeType.CANCEL_IMMEDIATE,
        period_start=date(2026, 11, 3),
        cost_minor=-4667,
        days=28,
    )
    assert reconcile([ms], [ours]).mismatches == ()


def test_rounding_tolerance_is_opt_in() -> None:
    ms = [ms_line(Subtotal="50.01")]
    assert len(reconcile(ms, [hub_line()]).mismatches) == 1
    assert reconcile(ms, [hub_line()], amount_tolerance_minor=1).mismatches == ()


def test_two_lines_under_one_key_compare_as_their_sum() -> None:
    ms = [ms_line(Quantity=2, Subtotal="20.00"), ms_line(Quantity=3, Subtotal="30.00")]
    assert reconcile(ms, [hub_line()]).mismatches == ()


@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(0, 10**5)), max_size=15),
    st.randoms(use_true_random=False),
)
def test_same_lines_in_any_order_reconcile_clean(rows: list[tuple[int, int]], rnd: Any) -> None:
    ms = [
        ms_line(
            SubscriptionId=f"s{i}",
            Quantity=q,
            UnitPrice=str(Decimal(u) / 100),
            Subtotal=str(Decimal(q * u) / 100),
        )
        for i, (q, u) in enumerate(rows)
    ]
    ours = [
        hub_line(
            subscription_id=f"s{i}",
            line_id=f"l{i}",
            quantity=q,
            unit_cost_minor=u,
            cost_minor=q * u,
        )
        for i, (q, u) in enumerate(rows)
    ]
    rnd.shuffle(ms)
    result = reconcile(ms, ours)
    assert result.mismatches == ()
    assert result.summary.matched == len(rows)
