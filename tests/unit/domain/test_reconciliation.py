"""Reconciliation: Partner Center lines against the hub's cost lines, every difference found."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.domain.charges import BilledSubscription, change_charges
from hub.domain.enums import BillingCycle, ChargeType, ProductKind, Term
from hub.domain.rating import RatedLine, RoundingRule, rate_charge
from hub.domain.reconciliation import (
    DEFAULT_POLICY,
    Difference,
    ReconciliationLine,
    ReconciliationPolicy,
    line_cost,
    reconcile,
)

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


def test_list_price_change_alone_is_not_a_difference() -> None:
    # UnitPrice may show a new list price mid-term that is not billed ("Modern invoice
    # reconciliation file"): EffectiveUnitPrice and the subtotal are what was charged.
    assert reconcile([ms_line(UnitPrice="10.50")], [hub_line()]).mismatches == ()


def test_injected_price_difference_is_exactly_one_mismatch_with_both_sides() -> None:
    ms = ms_line(EffectiveUnitPrice="10.50", Subtotal="52.50")
    (mm,) = reconcile([ms], [hub_line()]).mismatches
    assert mm.differences == (Difference.UNIT_PRICE, Difference.AMOUNT)
    assert mm.microsoft is not None
    assert mm.hub is not None
    assert (mm.microsoft.amount_minor, mm.hub.amount_minor) == (5250, 5000)


def test_quantity_difference_is_on_billable_quantity() -> None:
    ms = ms_line(Quantity=5, BillableQuantity="6", Subtotal="60.00")
    (mm,) = reconcile([ms], [hub_line()]).mismatches
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


def test_cancellation_refund_matches_on_magnitude_of_quantity_and_signed_amount() -> None:
    # Older files sign the refund on Quantity; the subtotal's sign is the line's.
    ms = ms_line(
        ChargeType="cancelImmediate",
        ChargeStartDate="2026-11-03",
        Quantity=-5,
        BillableQuantity="-5",
        EffectiveUnitPrice="9.333333",
        Subtotal="-46.65",
    )
    ours = hub_line(
        charge_type=ChargeType.CANCEL_IMMEDIATE,
        period_start=date(2026, 11, 3),
        cost_minor=-4665,
        days=28,
    )
    assert reconcile([ms], [ours]).mismatches == ()


def test_rounding_tolerance_is_per_line_and_opt_in() -> None:
    ms = [ms_line(Subtotal="50.01")]
    assert len(reconcile(ms, [hub_line()]).mismatches) == 1
    assert reconcile(ms, [hub_line()], amount_tolerance_minor=1).mismatches == ()
    policy = ReconciliationPolicy(tolerance_minor=1)
    assert reconcile(ms, [hub_line()], policy=policy).mismatches == ()


def test_cost_is_effective_unit_price_times_billable_quantity() -> None:
    # "Get invoice line items": Power BI Premium Per User, UnitPrice 16, EffectiveUnitPrice
    # 14.4 (a promotion), 50 seats, subtotal 720.
    ms = ms_line(
        UnitPrice="16",
        EffectiveUnitPrice="14.4",
        Quantity="50",
        BillableQuantity="50",
        Subtotal="720",
        Currency="USD",
    )
    ours = hub_line(currency="USD", quantity=50, unit_cost_minor=1440, cost_minor=72000)
    assert reconcile([ms], [ours]).mismatches == ()


def test_exchange_rate_converts_the_pricing_currency_to_the_billing_currency() -> None:
    # Priced in USD, billed in EUR: EffectiveUnitPrice 10.00 USD x PCToBCExchangeRate 0.9.
    ms = ms_line(
        EffectiveUnitPrice="10.00",
        UnitPrice="10.00",
        PricingCurrency="USD",
        PCToBCExchangeRate="0.9",
        Subtotal="45.00",
    )
    ours = hub_line(unit_cost_minor=900, cost_minor=4500)
    assert reconcile([ms], [ours]).mismatches == ()
    (mm,) = reconcile([ms.model_copy(update={"pc_to_bc_exchange_rate": 1})], [ours]).mismatches
    assert Difference.UNIT_PRICE in mm.differences


@pytest.mark.parametrize(
    ("unit", "quantity", "rule", "minor"),
    [
        # The worked examples round after multiplying: 9.408 x 12 = 112.89, 11.2258 x 15 =
        # 168.38 ("Common billing scenarios: one-time and recurring").
        ("9.408", "12", RoundingRule.LINE_TOTAL, 11289),
        ("11.2258", "15", RoundingRule.LINE_TOTAL, 16838),
        # The field table rounds the unit price down first ("Modern invoice reconciliation
        # file"): ROUNDDOWN(9.408, 2) x 12 = 112.80.
        ("9.408", "12", RoundingRule.UNIT_PRICE_FIRST, 11280),
        ("11.2258", "15", RoundingRule.UNIT_PRICE_FIRST, 16830),
        # ROUNDDOWN is toward zero: a refund mirrors its charge.
        ("-9.408", "12", RoundingRule.UNIT_PRICE_FIRST, -11280),
    ],
)
def test_line_cost_follows_the_documented_rounding_rules(
    unit: str, quantity: str, rule: RoundingRule, minor: int
) -> None:
    assert line_cost(Decimal(unit), Decimal(quantity), "USD", rounding=rule) == minor


def test_the_default_rule_is_the_field_tables() -> None:
    assert DEFAULT_POLICY.rounding is RoundingRule.UNIT_PRICE_FIRST
    assert DEFAULT_POLICY.tolerance_minor == 0


def _seat_change_rows() -> list[ReconciliationLine]:
    # 10 seats of 10.00 a month; on 16 Nov two more: Microsoft's two addQuantity lines, the 10
    # old seats refunded (negative EffectiveUnitPrice) and the 12 new charged, same dates.
    eup = "5.000000"  # 10.00 x 15/30
    common = {"ChargeType": "addQuantity", "ChargeStartDate": "2026-11-16T00:00:00Z"}
    return [
        ms_line(
            **common,
            EffectiveUnitPrice=f"-{eup}",
            Quantity=10,
            BillableQuantity="10",
            Subtotal="-50.00",
        ),
        ms_line(
            **common,
            EffectiveUnitPrice=eup,
            Quantity=12,
            BillableQuantity="12",
            Subtotal="60.00",
        ),
    ]


def _hub_seat_change() -> list[RatedLine]:
    sub = BilledSubscription(
        subscription_id="sub-1",
        customer_id="cust-1",
        reseller_id="r1",
        product_id="P",
        sku_id="S",
        availability_id="A",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        quantity=10,
        term_start=START,
        term_end=date(2027, 11, 1),
        unit_cost_minor=1000,
        unit_price_minor=1200,
    )
    charges = change_charges(
        sub,
        "chg-1",
        kind="change_quantity",
        old_quantity=10,
        new_quantity=12,
        effective_at=datetime(2026, 11, 16, 10, tzinfo=UTC),
    )
    return [rate_charge(c, [sub.protected_entry()], 0) for c in charges]


def test_seat_change_is_two_lines_that_match_microsofts_two_lines() -> None:
    ours = _hub_seat_change()
    assert sorted((ln.quantity, ln.cost_minor) for ln in ours) == [(10, -5000), (12, 6000)]
    assert reconcile(_seat_change_rows(), ours).mismatches == ()


def test_difference_on_the_second_line_of_a_key_is_found_in_either_order() -> None:
    ms = [ms_line(), ms_line(EffectiveUnitPrice="10.01", Subtotal="50.05", OrderId="o-2")]
    ours = [hub_line(), hub_line(line_id="l-2")]
    for order in (ms, ms[::-1]):
        (mm,) = reconcile(order, ours).mismatches
        assert mm.differences == (Difference.UNIT_PRICE, Difference.AMOUNT)
        assert mm.microsoft is not None
        assert mm.microsoft.unit_price == Decimal("10.01")


def test_extra_line_on_one_side_of_a_key_is_a_finding() -> None:
    (mm,) = reconcile([ms_line(), ms_line()], [hub_line()]).mismatches
    assert mm.differences == (Difference.MISSING_IN_HUB,)


def test_microsoft_credit_matches_the_hubs_pass_through_in_the_month() -> None:
    credit = {"ChargeType": "customerCredit", "CreditReasonCode": "Azure Consumption Credit"}
    ms = ms_line(
        **credit,
        EffectiveUnitPrice="0",
        UnitPrice="0",
        Quantity=0,
        BillableQuantity="0",
        Subtotal="-25.00",
        ChargeStartDate="2026-11-12",
        ChargeEndDate="2026-11-12",
    )
    passed_on = hub_line(
        charge_type=ChargeType.CUSTOMER_CREDIT,
        quantity=0,
        unit_cost_minor=0,
        cost_minor=-2500,
        period_start=date(2026, 11, 20),
        period_end=date(2026, 11, 20),
        days=1,
        period_days=1,
    )
    assert reconcile([ms], [passed_on]).mismatches == ()
    (mm,) = reconcile([ms], [passed_on.model_copy(update={"cost_minor": -2000})]).mismatches
    assert mm.differences == (Difference.AMOUNT,)


_INJECTIONS = ("price", "quantity", "amount", "drop_ms", "drop_hub", "extra_ms")


@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(1, 50), st.integers(1, 10**5), st.booleans()),
        min_size=1,
        max_size=20,
    ),
    st.sets(st.integers(0, 19), max_size=6),
    st.lists(st.sampled_from(_INJECTIONS), min_size=6, max_size=6),
    st.randoms(use_true_random=False),
)
def test_reconciliation_finds_every_injected_difference_and_nothing_else(
    rows: list[tuple[int, int, int, bool]],
    chosen: set[int],
    kinds: list[str],
    rnd: Any,
) -> None:
    """Lines on a few keys (several per key, refunds among them); some Microsoft lines are
    changed, dropped or doubled, or a hub line dropped; any order on both sides."""
    # Two identical lines on one key, one dropped on each side, leave the sides equal: no
    # reconciliation can tell, so the lines of a key differ.
    assume(len(set(rows)) == len(rows))
    ms: list[ReconciliationLine] = []
    ours: list[RatedLine] = []
    injected: set[str] = set()
    for i, (key, qty, unit, refund) in enumerate(rows):
        sign = -1 if refund else 1
        sid = f"s{key}"
        m = ms_line(
            SubscriptionId=sid,
            OrderId=f"o{i}",
            EffectiveUnitPrice=str(sign * Decimal(unit) / 100),
            Quantity=qty,
            BillableQuantity=str(qty),
            Subtotal=str(sign * Decimal(qty * unit) / 100),
        )
        h = hub_line(
            subscription_id=sid,
            line_id=f"l{i}",
            quantity=qty,
            unit_cost_minor=unit,
            cost_minor=sign * qty * unit,
        )
        kind = kinds[sorted(chosen).index(i) % len(kinds)] if i in chosen else None
        if kind is not None:
            injected.add(sid)
        if kind == "price":
            m = m.model_copy(
                update={
                    "effective_unit_price": sign * Decimal(unit + 1) / 100,
                    "subtotal": sign * Decimal(qty * (unit + 1)) / 100,
                }
            )
        elif kind == "quantity":
            m = m.model_copy(
                update={
                    "billable_quantity": Decimal(qty + 1),
                    "subtotal": sign * Decimal((qty + 1) * unit) / 100,
                }
            )
        elif kind == "amount":
            m = m.model_copy(update={"subtotal": m.subtotal + sign * Decimal("0.01")})
        if kind != "drop_ms":
            ms.append(m)
        if kind == "extra_ms":
            ms.append(m)
        if kind != "drop_hub":
            ours.append(h)
    rnd.shuffle(ms)
    rnd.shuffle(ours)
    found = {mm.subscription_id for mm in reconcile(ms, ours).mismatches}
    assert found == injected


@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(0, 10**5)), max_size=15),
    st.randoms(use_true_random=False),
)
def test_same_lines_in_any_order_reconcile_clean(rows: list[tuple[int, int]], rnd: Any) -> None:
    ms = [
        ms_line(
            SubscriptionId=f"s{i}",
            Quantity=q,
            BillableQuantity=str(q),
            EffectiveUnitPrice=str(Decimal(u) / 100),
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
