"""Renewal notices (timing across zones, month ends, leap days; each once), quotes, approval."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.domain.price_lists import Promotion
from hub.domain.reference import PriceListEntry
from hub.domain.renewals import (
    RenewalPolicy,
    change_bps,
    current_terms,
    must_switch_off,
    notice_due_at,
    notice_schedule,
    notices_to_send,
    quote,
    superseded,
)
from hub.domain.subscriptions import Subscription
from hub.errors import BusinessRuleViolation

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "America/Santiago",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]


def sub(term_end=datetime(2026, 3, 1, tzinfo=UTC), quantity=200, cycle=BillingCycle.ANNUAL):
    start = term_end.replace(year=term_end.year - 1)
    return Subscription(
        subscription_id="s-1",
        order_id="o-1",
        reseller_id="r1",
        customer_id="c1",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="AV1",
        quantity=quantity,
        term=Term.P1Y,
        billing_cycle=cycle,
        status=SubscriptionStatus.ACTIVE,
        term_start=start,
        term_end=term_end,
        window_start=start,
    )


def entry(cost, start, end=None, cycle=BillingCycle.ANNUAL):
    return PriceListEntry(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="AV1",
        term=Term.P1Y,
        billing_cycle=cycle,
        currency="EUR",
        unit_cost_minor=cost,
        effective_from=start,
        effective_to=end,
    )


def test_default_notices_are_30_7_and_1_days_before_at_utc_midnight():
    renews = datetime(2026, 3, 1, tzinfo=UTC)
    sched = notice_schedule(renews, RenewalPolicy())
    assert [(n.lead_days, n.due_at) for n in sched] == [
        (30, datetime(2026, 1, 30, tzinfo=UTC)),
        (7, datetime(2026, 2, 22, tzinfo=UTC)),
        (1, datetime(2026, 2, 28, tzinfo=UTC)),
    ]


def test_a_leap_year_renewal_on_1_march_counts_29_february():
    renews = datetime(2028, 3, 1, tzinfo=UTC)
    assert notice_due_at(renews, 1, "UTC") == datetime(2028, 2, 29, tzinfo=UTC)
    assert notice_due_at(renews, 30, "UTC") == datetime(2028, 1, 31, tzinfo=UTC)


def test_a_zone_west_of_utc_sees_the_renewal_the_evening_before():
    # 00:00 UTC on 1 March is 16:00 on 28 February in Los Angeles: the local renewal day is
    # 28 February, so the 1-day notice is at local midnight on 27 February.
    renews = datetime(2026, 3, 1, tzinfo=UTC)
    due = notice_due_at(renews, 1, "America/Los_Angeles")
    assert due.astimezone(ZoneInfo("America/Los_Angeles")) == datetime(
        2026, 2, 27, tzinfo=ZoneInfo("America/Los_Angeles")
    )


def test_a_notice_across_a_dst_change_stays_at_local_midnight():
    # Berlin moves to summer time on 29 March 2026; a renewal on 5 April.
    renews = datetime(2026, 4, 5, tzinfo=UTC)
    due = notice_due_at(renews, 7, "Europe/Berlin").astimezone(ZoneInfo("Europe/Berlin"))
    assert (due.date(), due.hour, due.minute) == (date(2026, 3, 29), 0, 0)


@given(
    renews=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    lead=st.integers(min_value=1, max_value=365),
    zone=st.sampled_from(ZONES),
)
def test_a_notice_is_lead_calendar_days_before_the_local_renewal_day(renews, lead, zone):
    due = notice_due_at(renews, lead, zone)
    local = due.astimezone(ZoneInfo(zone))
    renew_day = renews.astimezone(ZoneInfo(zone)).date()
    assert local.date() == renew_day - timedelta(days=lead)
    assert due < renews
    # Never earlier than lead+1 days (plus a DST hour) nor later than lead-1 days.
    assert renews - due <= timedelta(days=lead + 1, hours=1)
    assert renews - due > timedelta(days=lead - 1)


@given(
    renews=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    ticks=st.lists(st.integers(min_value=0, max_value=40 * 24), min_size=1, max_size=30),
)
def test_each_notice_goes_out_at_most_once_and_never_an_earlier_one_after_a_later(
    renews, zone, ticks
):
    policy = RenewalPolicy(time_zone=zone)
    sched = notice_schedule(renews, policy)
    start = renews - timedelta(days=40)
    sent: list[int] = []
    for hours in sorted(ticks):
        now = start + timedelta(hours=hours)
        for n in notices_to_send(sched, now, sent, renews):
            assert n.due_at <= now < renews
            sent.append(n.lead_days)
    assert len(sent) == len(set(sent))
    assert sent == sorted(sent, reverse=True)


def test_a_subscription_seen_late_gets_the_latest_due_notice_only():
    renews = datetime(2026, 3, 1, tzinfo=UTC)
    sched = notice_schedule(renews, RenewalPolicy())
    now = datetime(2026, 2, 25, tzinfo=UTC)  # past the 30- and 7-day notices
    (n,) = notices_to_send(sched, now, [], renews)
    assert n.lead_days == 7
    assert superseded(sched, n) == (30,)
    assert notices_to_send(sched, now, [7], renews) == ()
    assert notices_to_send(sched, datetime(2026, 2, 28, tzinfo=UTC), [7], renews)[0].lead_days == 1


def test_nothing_is_sent_at_or_after_the_renewal():
    renews = datetime(2026, 3, 1, tzinfo=UTC)
    sched = notice_schedule(renews, RenewalPolicy())
    assert notices_to_send(sched, renews, [], renews) == ()


def test_lead_days_are_configurable_sorted_and_checked():
    assert RenewalPolicy(lead_days=(1, 14, 60)).lead_days == (60, 14, 1)
    with pytest.raises(ValueError, match="at least one"):
        RenewalPolicy(lead_days=())
    with pytest.raises(ValueError, match="between 1 and 365"):
        RenewalPolicy(lead_days=(0,))
    with pytest.raises(ValueError, match="time zone"):
        RenewalPolicy(time_zone="Mars/Olympus")


def test_without_approval_auto_renew_goes_off_at_the_deadline_not_before():
    renews = datetime(2026, 3, 1, tzinfo=UTC)
    policy = RenewalPolicy(approval_required=True, approval_deadline_days=2)
    before = datetime(2026, 2, 26, 23, 59, tzinfo=UTC)
    at = datetime(2026, 2, 27, tzinfo=UTC)
    assert not must_switch_off(renews, policy, before, approved=False, auto_renew=True)
    assert must_switch_off(renews, policy, at, approved=False, auto_renew=True)
    assert not must_switch_off(renews, policy, at, approved=True, auto_renew=True)
    assert not must_switch_off(renews, policy, at, approved=False, auto_renew=False)
    assert not must_switch_off(renews, RenewalPolicy(), at, approved=False, auto_renew=True)


def test_the_quote_prices_the_renewal_from_the_list_in_force_on_renewal_day():
    s = sub()
    entries = [entry(10_000, date(2025, 1, 1), date(2026, 2, 28)), entry(11_000, date(2026, 3, 1))]
    q = quote(
        s,
        current_terms(s),
        entries=entries,
        currency="EUR",
        markup_bps=1000,
        current_unit_price_minor=11_000,
        policy=RenewalPolicy(),
    )
    assert q.unit_price_minor == 12_100  # 11_000 + 10 %
    assert q.unit_change_minor == 1_100
    assert q.change_bps == 1000
    assert q.term_value_minor == 12_100 * 200
    assert q.changes_until == datetime(2026, 3, 1, tzinfo=UTC)
    assert q.approve_by is None


def test_a_promotion_running_on_renewal_day_lowers_the_renewal_price():
    s = sub()
    promo = Promotion(
        promotion_id="39NFJQT1Q5KT:0001",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="AV1",
        term=Term.P1Y,
        billing_cycle=BillingCycle.ANNUAL,
        discount_bps=1500,
        starts_on=date(2026, 2, 1),
        ends_on=date(2026, 3, 31),
    )
    q = quote(
        s,
        current_terms(s),
        entries=[entry(10_000, date(2025, 1, 1))],
        promotions=[promo],
        currency="EUR",
        markup_bps=0,
        current_unit_price_minor=10_000,
        policy=RenewalPolicy(approval_required=True),
    )
    assert (q.unit_price_minor, q.promotion_id) == (8_500, "39NFJQT1Q5KT:0001")
    assert q.approve_by == datetime(2026, 2, 27, tzinfo=UTC)


def test_no_price_on_renewal_day_is_refused():
    s = sub()
    with pytest.raises(BusinessRuleViolation, match="NoPrice"):
        quote(
            s,
            current_terms(s),
            entries=[entry(1, date(2025, 1, 1), date(2026, 2, 1))],
            currency="EUR",
            markup_bps=0,
            current_unit_price_minor=1,
            policy=RenewalPolicy(),
        )


@given(old=st.integers(min_value=1, max_value=10**9), new=st.integers(min_value=0, max_value=10**9))
def test_change_bps_is_the_relative_change_rounded_toward_zero(old, new):
    bps = change_bps(old, new)
    assert bps is not None
    exact = (new - old) * 10_000 / old
    assert abs(bps) <= abs(exact) < abs(bps) + 1
    assert change_bps(0, new) is None
