"""Which charges a subscription gives: purchase, changes, cycles (monthly vs annual), renewal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.domain import charges as ch
from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.domain.proration import add_months
from hub.domain.reference import PriceListEntry


def sub(**over: Any) -> ch.BilledSubscription:
    base: dict[str, Any] = {
        "subscription_id": "s1",
        "customer_id": "c1",
        "reseller_id": "r1",
        "product_id": "P",
        "sku_id": "S",
        "availability_id": "A",
        "term": Term.P1Y,
        "billing_cycle": BillingCycle.MONTHLY,
        "currency": "EUR",
        "quantity": 5,
        "term_start": date(2026, 1, 31),
        "term_end": date(2027, 1, 31),
        "unit_cost_minor": 600,
        "unit_price_minor": 700,
    }
    return ch.BilledSubscription(**{**base, **over})


def test_monthly_periods_count_from_the_term_start_without_drifting() -> None:
    s = sub()
    assert ch.billing_period(s, date(2026, 2, 28)) == (date(2026, 2, 28), date(2026, 3, 30))
    assert ch.billing_period(s, date(2026, 3, 31)) == (date(2026, 3, 31), date(2026, 4, 29))


def test_purchase_of_an_annual_plan_charges_the_whole_year_up_front() -> None:
    charge = ch.purchase_charge(sub(billing_cycle=BillingCycle.ANNUAL), "e1")
    assert charge.charge_type is ChargeType.NEW
    assert (charge.period_start, charge.period_end) == (date(2026, 1, 31), date(2027, 1, 30))


def test_monthly_plan_has_one_cycle_charge_per_month_and_annual_none_mid_term() -> None:
    monthly = ch.cycle_charges(sub(), date(2026, 3, 1), date(2026, 3, 31), "close")
    assert [(c.period_start, c.charge_type) for c in monthly] == [
        (date(2026, 3, 31), ChargeType.CYCLE_CHARGE)
    ]
    annual = sub(billing_cycle=BillingCycle.ANNUAL)
    assert ch.cycle_charges(annual, date(2026, 3, 1), date(2026, 3, 31), "close") == []


def test_cancelled_subscription_has_no_cycle_charge() -> None:
    assert ch.cycle_charges(sub(active=False), date(2026, 3, 1), date(2026, 3, 31), "x") == []


def test_seat_changes_map_to_add_and_remove_quantity_and_suspend_to_nothing() -> None:
    at = datetime(2026, 2, 3, 10, tzinfo=UTC)
    add = ch.change_charge(
        sub(), "e", kind="change_quantity", old_quantity=5, new_quantity=7, effective_at=at
    )
    remove = ch.change_charge(
        sub(), "e", kind="change_quantity", old_quantity=5, new_quantity=4, effective_at=at
    )
    cancel = ch.change_charge(
        sub(), "e", kind="cancel", old_quantity=5, new_quantity=0, effective_at=at
    )
    suspend = ch.change_charge(
        sub(), "e", kind="suspend", old_quantity=5, new_quantity=5, effective_at=at
    )
    assert add is not None
    assert (add.charge_type, add.quantity) == (ChargeType.ADD_QUANTITY, 2)
    assert remove is not None
    assert (remove.charge_type, remove.quantity) == (ChargeType.REMOVE_QUANTITY, 1)
    assert cancel is not None
    assert (cancel.charge_type, cancel.quantity) == (ChargeType.CANCEL_IMMEDIATE, 5)
    assert suspend is None
    assert add.period_start == date(2026, 1, 31)
    assert add.effective_date == date(2026, 2, 3)


def test_renewal_takes_the_price_list_in_force_on_the_renewal_day() -> None:
    entry = PriceListEntry(
        product_id="P",
        sku_id="S",
        availability_id="A",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        unit_cost_minor=650,
        effective_from=date(2027, 1, 1),
    )
    s = sub()
    assert ch.renewal_due(s, date(2027, 1, 31))
    assert not ch.renewal_due(s.model_copy(update={"auto_renew": False}), date(2027, 1, 31))
    renewed = ch.renew(s, [entry], 1000)
    assert (renewed.term_start, renewed.term_end) == (date(2027, 1, 31), date(2028, 1, 31))
    assert (renewed.unit_cost_minor, renewed.unit_price_minor) == (650, 715)
    assert ch.renewal_charge(renewed, "close").charge_type is ChargeType.RENEW


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.sampled_from([1, 12]))
def test_billing_periods_tile_the_term_without_gap_or_overlap(start: date, months: int) -> None:
    s = sub(
        term_start=start,
        term_end=add_months(start, 12),
        billing_cycle=BillingCycle.MONTHLY if months == 1 else BillingCycle.ANNUAL,
    )
    day = start
    periods = 0
    while day < s.term_end:
        first, last = ch.billing_period(s, day)
        assert first == day
        day = date.fromordinal(last.toordinal() + 1)
        periods += 1
    assert day == s.term_end
    assert periods == 12 // months


def _cycles(start: date, n: int) -> list[tuple[date, date]]:
    s = sub(term_start=start, term_end=add_months(start, 12))
    out, day = [], start
    for _ in range(n):
        first, last = ch.billing_period(s, day)
        out.append((first, last))
        day = date.fromordinal(last.toordinal() + 1)
    return out


def test_monthly_cycles_of_a_purchase_on_the_30th_follow_microsofts_table() -> None:
    # "Common billing scenarios: one-time and recurring": Jan30-Feb26, Feb27-Mar29, Mar30-Apr28.
    assert _cycles(date(2026, 1, 30), 4) == [
        (date(2026, 1, 30), date(2026, 2, 26)),
        (date(2026, 2, 27), date(2026, 3, 29)),
        (date(2026, 3, 30), date(2026, 4, 28)),
        (date(2026, 4, 29), date(2026, 5, 29)),
    ]


def test_monthly_cycles_of_a_purchase_on_the_31st_end_the_day_before_the_months_last() -> None:
    assert _cycles(date(2026, 1, 31), 3) == [
        (date(2026, 1, 31), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 3, 30)),
        (date(2026, 3, 31), date(2026, 4, 29)),
    ]


def test_a_change_late_in_the_evening_west_of_utc_is_charged_from_its_utc_day() -> None:
    # 30 Nov 20:00 in New York is 1 Dec 01:00 UTC: the lifecycle counts UTC days, so the
    # change falls in December's period, not November's.
    from zoneinfo import ZoneInfo

    s = sub(term_start=date(2026, 11, 1), term_end=date(2027, 11, 1))
    at = datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("America/New_York"))
    charge = ch.change_charge(
        s, "e1", kind="change_quantity", old_quantity=5, new_quantity=6, effective_at=at
    )
    assert charge is not None
    assert charge.effective_date == date(2026, 12, 1)
    assert (charge.period_start, charge.period_end) == (date(2026, 12, 1), date(2026, 12, 31))


def test_seat_change_gives_the_old_quantity_refunded_and_the_new_total_charged() -> None:
    s = sub(term_start=date(2026, 11, 1), term_end=date(2027, 11, 1))
    at = datetime(2026, 11, 16, 9, tzinfo=UTC)
    refund, charge = ch.change_charges(
        s, "e1", kind="change_quantity", old_quantity=5, new_quantity=3, effective_at=at
    )
    assert (refund.charge_type, charge.charge_type) == (ChargeType.REMOVE_QUANTITY,) * 2
    assert (refund.quantity, refund.refund, charge.quantity, charge.refund) == (5, True, 3, False)
    assert (refund.effective_date, refund.period_end) == (charge.effective_date, charge.period_end)
    (cancel,) = ch.change_charges(
        s, "e2", kind="cancel", old_quantity=5, new_quantity=0, effective_at=at
    )
    assert cancel.charge_type is ChargeType.CANCEL_IMMEDIATE
