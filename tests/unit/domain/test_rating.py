"""Rating each charge type: full periods, annual up front, daily proration, refunds, credits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.domain.rating import (
    Charge,
    ChargeClass,
    RoundingRule,
    classify,
    days_inclusive,
    prorate,
    rate_charge,
    refund_day_possible,
    refund_window_open,
)
from hub.domain.reference import PriceListEntry
from hub.domain.subscriptions import within_cancellation_window
from hub.errors import BusinessRuleViolation

MONTHLY = PriceListEntry(
    product_id="P",
    sku_id="S",
    availability_id="A",
    term=Term.P1Y,
    billing_cycle=BillingCycle.MONTHLY,
    currency="EUR",
    unit_cost_minor=1000,  # 10.00 per seat per month
    effective_from=date(2026, 1, 1),
)
ANNUAL = MONTHLY.model_copy(update={"billing_cycle": BillingCycle.ANNUAL, "unit_cost_minor": 12000})
ENTRIES = [MONTHLY, ANNUAL]
MARKUP = 2000  # +20%


def charge(ct: ChargeType, **over: Any) -> Charge:
    base: dict[str, Any] = {
        "source_id": "evt-1",
        "charge_type": ct,
        "subscription_id": "sub-1",
        "customer_id": "cust-1",
        "reseller_id": "res-1",
        "product_id": "P",
        "sku_id": "S",
        "availability_id": "A",
        "term": Term.P1Y,
        "billing_cycle": BillingCycle.MONTHLY,
        "currency": "EUR",
        "quantity": 10,
        "term_start": date(2026, 11, 1),
        "period_start": date(2026, 11, 1),
        "period_end": date(2026, 11, 30),
    }
    base.update(over)
    return Charge(**base)


@pytest.mark.parametrize("ct", [ChargeType.NEW, ChargeType.RENEW, ChargeType.CYCLE_CHARGE])
def test_full_period_charges_bill_every_seat_for_the_month(ct: ChargeType) -> None:
    line = rate_charge(charge(ct), ENTRIES, MARKUP)
    assert (line.cost_minor, line.price_minor) == (10_000, 12_000)
    assert (line.unit_cost_minor, line.unit_price_minor) == (1000, 1200)
    assert line.charge_type is ct
    assert (line.period_start, line.period_end, line.days) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        30,
    )


def test_annual_billing_charges_the_year_up_front() -> None:
    line = rate_charge(
        charge(
            ChargeType.NEW,
            billing_cycle=BillingCycle.ANNUAL,
            period_end=date(2027, 10, 31),
        ),
        ENTRIES,
        MARKUP,
    )
    assert (line.cost_minor, line.price_minor) == (120_000, 144_000)
    assert line.period_days == 365


def test_mid_cycle_seat_addition_is_prorated_by_day() -> None:
    # 3 seats added on 16 November: 15 of 30 days -> half a month.
    line = rate_charge(
        charge(ChargeType.ADD_QUANTITY, quantity=3, effective_date=date(2026, 11, 16)),
        ENTRIES,
        MARKUP,
    )
    assert (line.cost_minor, line.price_minor) == (1500, 1800)
    assert (line.days, line.period_start) == (15, date(2026, 11, 16))


def test_seat_removal_refund_line_inside_the_window_is_a_prorated_refund() -> None:
    line = rate_charge(
        charge(
            ChargeType.REMOVE_QUANTITY, quantity=1, refund=True, effective_date=date(2026, 11, 5)
        ),
        ENTRIES,
        MARKUP,
    )
    assert line.days == 26
    # Price: 1040 per 26/30 exactly. Cost as Microsoft bills it: 866.67 rounded down per seat.
    assert (line.cost_minor, line.price_minor) == (-866, -1040)


def test_day_three_cancellation_refunds_the_unused_days() -> None:
    # Bought 1 Nov, cancelled 3 Nov: 1-2 Nov are paid, 3-30 Nov (28 days) refunded.
    line = rate_charge(
        charge(ChargeType.CANCEL_IMMEDIATE, effective_date=date(2026, 11, 3)),
        ENTRIES,
        MARKUP,
    )
    assert line.days == 28
    # Cost: 10 seats x 933 (933.33 per seat rounded down, Microsoft's formula); price 11,200.
    assert (line.cost_minor, line.price_minor) == (-9330, -11_200)


def test_cancellation_after_seven_days_is_rejected() -> None:
    with pytest.raises(BusinessRuleViolation, match="RefundWindowClosed"):
        rate_charge(
            charge(ChargeType.CANCEL_IMMEDIATE, effective_date=date(2026, 11, 9)),
            ENTRIES,
            MARKUP,
        )
    with pytest.raises(BusinessRuleViolation, match="RefundWindowClosed"):
        rate_charge(
            charge(
                ChargeType.REMOVE_QUANTITY,
                quantity=1,
                refund=True,
                effective_date=date(2026, 11, 20),
                window_start=datetime(2026, 11, 1, 9, tzinfo=UTC),
                effective_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
            ),
            ENTRIES,
            MARKUP,
        )


def test_seat_removal_by_dates_alone_is_left_to_the_lifecycle_per_batch() -> None:
    # Seats added on 15 Nov may be removed until 22 Nov ("New commerce cancellation policy");
    # by dates alone rating cannot know which batch, so it does not refuse.
    line = rate_charge(
        charge(
            ChargeType.REMOVE_QUANTITY, quantity=1, refund=True, effective_date=date(2026, 11, 20)
        ),
        ENTRIES,
        MARKUP,
    )
    assert line.cost_minor < 0


def test_seven_days_after_purchase_is_still_inside_the_window() -> None:
    # Bought 1 Nov: 168 hours can end during 8 Nov, so a change dated 8 Nov is refunded.
    line = rate_charge(
        charge(ChargeType.CANCEL_IMMEDIATE, effective_date=date(2026, 11, 8)), ENTRIES, MARKUP
    )
    assert line.price_minor == -(12_000 * 23 // 30)


def test_customer_credit_is_a_negative_line() -> None:
    line = rate_charge(
        charge(
            ChargeType.CUSTOMER_CREDIT, quantity=0, credit_cost_minor=500, credit_price_minor=600
        ),
        [],
        MARKUP,
    )
    assert (line.cost_minor, line.price_minor) == (-500, -600)


def test_every_charge_type_microsoft_writes_is_classified() -> None:
    assert {ct: classify(ct) for ct in ChargeType} == {
        ChargeType.NEW: ChargeClass.PERIOD,
        ChargeType.RENEW: ChargeClass.PERIOD,
        ChargeType.CYCLE_CHARGE: ChargeClass.PERIOD,
        ChargeType.ADD_QUANTITY: ChargeClass.SEAT_CHANGE,
        ChargeType.REMOVE_QUANTITY: ChargeClass.SEAT_CHANGE,
        ChargeType.MOVE_QUANTITY: ChargeClass.SEAT_CHANGE,
        ChargeType.CANCEL_IMMEDIATE: ChargeClass.CANCELLATION,
        ChargeType.CONVERT: ChargeClass.PLAN_CHANGE,
        ChargeType.CHANGE_BILLING_PLAN: ChargeClass.PLAN_CHANGE,
        ChargeType.EXTEND_TERM: ChargeClass.TERM_EXTENSION,
        ChargeType.CUSTOMER_CREDIT: ChargeClass.CREDIT,
    }


@pytest.mark.parametrize(
    "ct",
    [
        ChargeType.MOVE_QUANTITY,
        ChargeType.CONVERT,
        ChargeType.CHANGE_BILLING_PLAN,
        ChargeType.EXTEND_TERM,
    ],
)
def test_mid_term_changes_are_rated_as_two_prorated_lines(ct: ChargeType) -> None:
    # Like a seat change: the old plan's days refunded, the new one's charged, same dates.
    on = {"effective_date": date(2026, 11, 16), "quantity": 4}
    refund = rate_charge(charge(ct, refund=True, **on), ENTRIES, MARKUP)
    new = rate_charge(charge(ct, **on), ENTRIES, MARKUP)
    assert (refund.cost_minor, new.cost_minor) == (-2000, 2000)  # 4 x 10.00 x 15/30
    assert refund.line_id != new.line_id
    assert (refund.period_start, refund.period_end) == (new.period_start, new.period_end)


def test_rounding_rule_line_total_rounds_after_the_quantity() -> None:
    # 10.00 x 29/30 = 9.6666..: unit first 9.66 x 7 = 67.62; line total 67.66 (rounded down).
    on = {"effective_date": date(2026, 11, 2), "quantity": 7}
    first = rate_charge(charge(ChargeType.ADD_QUANTITY, **on), ENTRIES, MARKUP)
    total = rate_charge(
        charge(ChargeType.ADD_QUANTITY, **on), ENTRIES, MARKUP, rounding=RoundingRule.LINE_TOTAL
    )
    assert (first.cost_minor, total.cost_minor) == (6762, 6766)


def test_renewal_takes_the_new_price_while_the_term_keeps_the_old() -> None:
    raised = MONTHLY.model_copy(
        update={"unit_cost_minor": 1100, "effective_from": date(2026, 12, 1)}
    )
    entries = [*ENTRIES, raised]
    december = {"period_start": date(2026, 12, 1), "period_end": date(2026, 12, 31)}
    held = rate_charge(charge(ChargeType.CYCLE_CHARGE, **december), entries, MARKUP)
    assert held.unit_cost_minor == 1000
    renewed = rate_charge(
        charge(ChargeType.RENEW, term_start=date(2026, 12, 1), **december), entries, MARKUP
    )
    assert renewed.unit_cost_minor == 1100


def test_line_id_is_the_same_on_replay_and_differs_per_event() -> None:
    a = rate_charge(charge(ChargeType.NEW), ENTRIES, MARKUP)
    assert rate_charge(charge(ChargeType.NEW), ENTRIES, MARKUP) == a
    assert (
        rate_charge(charge(ChargeType.NEW, source_id="evt-2"), ENTRIES, MARKUP).line_id != a.line_id
    )


def test_yen_lines_stay_in_whole_yen() -> None:
    yen = MONTHLY.model_copy(update={"currency": "JPY", "unit_cost_minor": 1234})
    line = rate_charge(
        charge(
            ChargeType.ADD_QUANTITY, currency="JPY", quantity=1, effective_date=date(2026, 11, 30)
        ),
        [yen],
        0,
    )
    assert line.cost_minor == 41  # 1234 / 30 = 41.13


@given(
    st.integers(0, 10**9),
    st.integers(1, 400),
    st.lists(st.integers(1, 40), min_size=1, max_size=20),
)
def test_proration_pieces_sum_to_the_full_charge_within_a_unit_each(
    full: int, period_days: int, cuts: list[int]
) -> None:
    pieces: list[int] = []
    left = period_days
    for cut in cuts:
        if left == 0:
            break
        take = min(cut, left)
        pieces.append(take)
        left -= take
    if left:
        pieces.append(left)
    parts = [prorate(full, d, period_days) for d in pieces]
    assert all(p >= 0 for p in parts)
    assert abs(sum(parts) - full) <= len(parts)
    assert prorate(full, period_days, period_days) == full


@given(st.dates(date(2024, 1, 1), date(2030, 12, 1)), st.integers(0, 30), st.integers(1, 50))
def test_seat_change_proration_never_exceeds_the_month(
    start: date, offset: int, seats: int
) -> None:
    end = start + timedelta(days=30)
    eff = start + timedelta(days=offset)
    line = rate_charge(
        charge(
            ChargeType.ADD_QUANTITY,
            quantity=seats,
            term_start=date(2026, 1, 1),
            period_start=start,
            period_end=end,
            effective_date=eff,
        ),
        ENTRIES,
        MARKUP,
    )
    assert 0 <= line.price_minor <= seats * 1200
    assert line.days == days_inclusive(eff, end)


# --- the refund window agrees with the lifecycle (subscriptions.within_cancellation_window) ---

BOUGHT = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


def _cancel_at(at: datetime, **over: Any) -> Charge:
    return charge(
        ChargeType.CANCEL_IMMEDIATE,
        term_start=BOUGHT.date(),
        period_start=date(2026, 3, 10),
        period_end=date(2026, 4, 9),
        effective_date=at.date(),
        **over,
    )


def test_cancel_on_the_seventh_day_accepted_by_the_lifecycle_is_refunded_by_rating() -> None:
    cancelled = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)
    assert within_cancellation_window(BOUGHT, cancelled)
    exact = rate_charge(
        _cancel_at(cancelled, window_start=BOUGHT, effective_at=cancelled), ENTRIES, MARKUP
    )
    by_date = rate_charge(_cancel_at(cancelled), ENTRIES, MARKUP)
    assert exact.price_minor < 0
    assert exact == by_date


def test_cancel_one_minute_after_168_hours_is_refused_by_both() -> None:
    late = BOUGHT + timedelta(days=7, minutes=1)
    assert not within_cancellation_window(BOUGHT, late)
    with pytest.raises(BusinessRuleViolation, match="RefundWindowClosed"):
        rate_charge(_cancel_at(late, window_start=BOUGHT, effective_at=late), ENTRIES, MARKUP)


@given(st.integers(0, 10 * 24 * 60))
def test_rating_never_refuses_a_refund_the_lifecycle_accepted(minutes: int) -> None:
    at = BOUGHT + timedelta(minutes=minutes)
    lifecycle = within_cancellation_window(BOUGHT, at)
    assert refund_window_open(BOUGHT, at) == lifecycle
    if lifecycle:
        assert refund_day_possible(BOUGHT.date(), at.date())
