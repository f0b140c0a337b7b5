"""Claims: monthly fee normalisation, active periods, and selection by service, region, window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.claims import (
    IndexEntry,
    allocation_inputs,
    days_touched,
    monthly_fee_minor,
    select_affected,
)
from hub.domain.enums import BillingCycle, SubscriptionStatus
from hub.errors import ValidationFailed


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def entry(
    sid: str = "s1",
    *,
    service: str = "exchange",
    customer: str = "c1",
    quantity: int = 10,
    unit: int = 600,
    cycle: BillingCycle = BillingCycle.MONTHLY,
    currency: str = "EUR",
    start: date = date(2025, 1, 1),
    end: date = date(2026, 1, 1),
    auto_renew: bool = True,
) -> IndexEntry:
    return IndexEntry.provisioned(
        subscription_id=sid,
        customer_id=customer,
        reseller_id="r1",
        service=service,
        product_id="p",
        quantity=quantity,
        unit_price_minor=unit,
        billing_cycle=cycle,
        currency=currency,
        term_start=start,
        term_end=end,
        auto_renew=auto_renew,
    )


def test_monthly_fee_is_unit_times_seats() -> None:
    assert monthly_fee_minor(600, 10, BillingCycle.MONTHLY) == 6000


def test_annual_fee_is_spread_over_twelve_months_rounded_down() -> None:
    assert monthly_fee_minor(7200, 10, BillingCycle.ANNUAL) == 6000
    assert monthly_fee_minor(1001, 1, BillingCycle.ANNUAL) == 83


def test_triennial_fee_is_spread_over_thirty_six_months() -> None:
    assert monthly_fee_minor(21600, 10, BillingCycle.TRIENNIAL) == 6000


@given(
    unit=st.integers(0, 10**9),
    seats=st.integers(0, 10**5),
    cycle=st.sampled_from(list(BillingCycle)),
)
def test_monthly_fee_never_exceeds_the_exact_monthly_share(
    unit: int, seats: int, cycle: BillingCycle
) -> None:
    months = {BillingCycle.MONTHLY: 1, BillingCycle.ANNUAL: 12, BillingCycle.TRIENNIAL: 36}[cycle]
    fee = monthly_fee_minor(unit, seats, cycle)
    exact = Decimal(unit * seats) / months
    assert fee <= exact < fee + 1


def test_negative_price_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        monthly_fee_minor(-1, 1, BillingCycle.MONTHLY)


def test_subscription_active_in_the_window_is_selected_with_its_evidence() -> None:
    hits = select_affected(
        [entry()], service="exchange", window_start=at(3, 22), window_end=at(4, 2)
    )
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.seats, hit.monthly_fee_minor, hit.affected_days, hit.days_in_month) == (
        10,
        6000,
        2,
        31,
    )
    assert hit.affected_seconds == 4 * 3600


def test_other_service_is_not_selected() -> None:
    hits = select_affected(
        [entry(service="teams")], service="exchange", window_start=at(3), window_end=at(4)
    )
    assert hits == []


def test_subscription_provisioned_after_the_window_is_not_selected() -> None:
    late = entry(start=date(2025, 3, 5))
    assert select_affected([late], service="exchange", window_start=at(3), window_end=at(4)) == []


def test_subscription_suspended_before_the_window_is_not_selected() -> None:
    suspended = entry().changed(
        change_id="ch1", at=at(1), status=SubscriptionStatus.SUSPENDED, quantity=10, auto_renew=True
    )
    assert (
        select_affected([suspended], service="exchange", window_start=at(3), window_end=at(4)) == []
    )


def test_subscription_suspended_during_the_window_counts_only_its_active_part() -> None:
    suspended = entry().changed(
        change_id="ch1",
        at=at(3, 6),
        status=SubscriptionStatus.SUSPENDED,
        quantity=10,
        auto_renew=True,
    )
    hits = select_affected([suspended], service="exchange", window_start=at(3), window_end=at(5))
    assert hits[0].affected_seconds == 6 * 3600
    assert hits[0].affected_days == 1


def test_reactivated_subscription_is_selected_again() -> None:
    e = entry().changed(
        change_id="a", at=at(1), status=SubscriptionStatus.SUSPENDED, quantity=10, auto_renew=True
    )
    e = e.changed(
        change_id="b", at=at(3, 12), status=SubscriptionStatus.ACTIVE, quantity=10, auto_renew=True
    )
    hits = select_affected([e], service="exchange", window_start=at(3), window_end=at(4))
    assert hits[0].affected_seconds == 12 * 3600


def test_expired_term_without_auto_renew_is_not_selected() -> None:
    e = entry(end=date(2025, 3, 1), auto_renew=False)
    assert select_affected([e], service="exchange", window_start=at(3), window_end=at(4)) == []


def test_seats_and_fee_are_those_in_effect_when_the_window_opened() -> None:
    e = entry(quantity=10).changed(
        change_id="q", at=at(2), status=SubscriptionStatus.ACTIVE, quantity=4, auto_renew=True
    )
    hit = select_affected([e], service="exchange", window_start=at(3), window_end=at(4))[0]
    assert (hit.seats, hit.monthly_fee_minor) == (4, 2400)


def test_a_change_delivered_twice_is_applied_once() -> None:
    once = entry().changed(
        change_id="x", at=at(2), status=SubscriptionStatus.SUSPENDED, quantity=10, auto_renew=True
    )
    again = once.changed(
        change_id="b", at=at(3), status=SubscriptionStatus.ACTIVE, quantity=10, auto_renew=True
    ).changed(
        change_id="x", at=at(2), status=SubscriptionStatus.SUSPENDED, quantity=10, auto_renew=True
    )
    assert again.status is SubscriptionStatus.ACTIVE


def test_region_filter_keeps_matching_and_unknown_regions() -> None:
    regions = {"eu": "eu-west", "us": "us-east", "unknown": None}
    entries = [entry(f"s-{c}", customer=c) for c in regions]
    hits = select_affected(
        entries,
        service="exchange",
        window_start=at(3),
        window_end=at(4),
        region="eu-west",
        customer_region=regions.__getitem__,
    )
    assert [h.entry.customer_id for h in hits] == ["eu", "unknown"]


def test_selection_is_sorted_by_subscription_id() -> None:
    entries = [entry(sid) for sid in ("s3", "s1", "s2")]
    hits = select_affected(entries, service="exchange", window_start=at(3), window_end=at(4))
    assert [h.entry.subscription_id for h in hits] == ["s1", "s2", "s3"]


def test_affected_days_never_exceed_the_days_of_the_month() -> None:
    hits = select_affected(
        [entry()], service="exchange", window_start=at(1, month=2), window_end=at(15, month=3)
    )
    assert hits[0].affected_days == hits[0].days_in_month == 28


def test_empty_or_huge_windows_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        select_affected([entry()], service="exchange", window_start=at(4), window_end=at(4))
    with pytest.raises(ValidationFailed):
        select_affected(
            [entry()], service="exchange", window_start=at(1), window_end=at(1) + timedelta(days=90)
        )


@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2025, 12, 1), timezones=st.just(UTC)
    ),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=40)),
)
def test_days_touched_counts_each_calendar_day_once(start: datetime, length: timedelta) -> None:
    end = start + length
    n = days_touched([(start, end), (start, end)])
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    assert n == (last - first).days + 1


def test_customer_in_another_currency_without_rate_is_excluded_not_guessed() -> None:
    hits = select_affected(
        [entry("eur"), entry("gbp", currency="GBP")],
        service="exchange",
        window_start=at(3),
        window_end=at(4),
    )
    inputs, excluded = allocation_inputs(hits, "EUR", {})
    assert [i.subscription_id for i in inputs] == ["eur"]
    assert [(x.subscription_id, x.reason) for x in excluded] == [("gbp", "no_fx_rate")]
    inputs, excluded = allocation_inputs(hits, "EUR", {"GBP": Decimal("1.17")})
    assert [i.rate_to_distributor for i in inputs] == [Decimal(1), Decimal("1.17")]
    assert excluded == []


def test_stated_fx_rates_convert_exactly_and_win_over_inverse_rates() -> None:
    hits = select_affected(
        [entry("eur"), entry("gbp", currency="GBP"), entry("usd", currency="USD")],
        service="exchange",
        window_start=at(3),
        window_end=at(4),
    )
    inputs, excluded = allocation_inputs(
        hits, "EUR", {"GBP": Decimal("9")}, fx_rates={"GBP": Decimal("0.85")}
    )
    gbp = next(i for i in inputs if i.subscription_id == "gbp")
    assert gbp.fx_rate == Decimal("0.85")
    assert gbp.ratio_to_distributor() == (20, 17)  # 1 / 0.85 exactly, not a rounded decimal
    assert [(x.subscription_id, x.reason) for x in excluded] == [("usd", "no_fx_rate")]
