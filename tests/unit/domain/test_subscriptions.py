from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.domain.orders import Order, OrderLine
from hub.domain.subscriptions import (
    ALLOWED_TRANSITIONS,
    Change,
    ChangeRejectionCode,
    LifecycleKind,
    Rejected,
    SeatBatch,
    Subscription,
    billing_period,
    cancel,
    cancellation_window_end,
    change_quantity,
    expire,
    provision,
    reactivate,
    refund_minor,
    renew,
    set_auto_renew,
    suspend,
    within_cancellation_window,
)

S = SubscriptionStatus
PURCHASE = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
SEVEN_DAYS = timedelta(days=7)


def sub(status=S.ACTIVE, quantity=10, auto_renew=True, term=Term.P1Y, cycle=BillingCycle.MONTHLY):
    months = {Term.P1M: 1, Term.P1Y: 12, Term.P3Y: 36}[term]
    end = PURCHASE.replace(year=PURCHASE.year + months // 12, month=3 + months % 12)
    return Subscription(
        subscription_id="s-1",
        order_id="o-1",
        reseller_id="r1",
        customer_id="c1",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0LH0R",
        quantity=quantity,
        term=term,
        billing_cycle=cycle,
        status=status,
        auto_renew=auto_renew,
        term_start=PURCHASE,
        term_end=end,
        window_start=PURCHASE,
    )


def accepted(result):
    assert isinstance(result, Change), result
    return result


def rejected(result, code):
    assert isinstance(result, Rejected), result
    assert result.code is code, result.reason
    return result


# --- the 7-day window -------------------------------------------------------------------------


def test_window_ends_exactly_168_hours_after_purchase():
    assert cancellation_window_end(PURCHASE) == datetime(2025, 3, 17, 14, 30, tzinfo=UTC)
    assert sub().cancellation_allowed_until == PURCHASE + SEVEN_DAYS


def test_cancel_at_exactly_seven_days_is_accepted():
    change = accepted(cancel(sub(), PURCHASE + SEVEN_DAYS))
    assert change.subscription.status is S.DELETED


def test_cancel_one_second_after_seven_days_is_rejected():
    result = rejected(
        cancel(sub(), PURCHASE + SEVEN_DAYS + timedelta(seconds=1)),
        ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED,
    )
    assert "2025-03-17T14:30:00+00:00" in result.reason
    assert "auto-renew" in result.reason


def test_cancel_one_microsecond_after_seven_days_is_rejected():
    rejected(
        cancel(sub(), PURCHASE + SEVEN_DAYS + timedelta(microseconds=1)),
        ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED,
    )


def test_cancel_on_day_three_is_accepted_and_on_day_eight_rejected():
    accepted(cancel(sub(), PURCHASE + timedelta(days=3)))
    rejected(
        cancel(sub(), PURCHASE + timedelta(days=8)), ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED
    )


def test_request_in_another_zone_is_judged_by_the_instant_not_the_wall_clock():
    tokyo = timezone(timedelta(hours=9))
    # 17 March 23:30 in Tokyo is 14:30 UTC: exactly the end of the window.
    at_end = datetime(2025, 3, 17, 23, 30, tzinfo=tokyo)
    accepted(cancel(sub(), at_end))
    rejected(
        cancel(sub(), at_end + timedelta(seconds=1)), ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED
    )
    # Same wall clock as the UTC end, but in New York (UTC-4) it is four hours later.
    new_york = datetime(2025, 3, 17, 14, 30, tzinfo=ZoneInfo("America/New_York"))
    rejected(cancel(sub(), new_york), ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED)


def test_window_is_168_elapsed_hours_across_a_daylight_saving_change():
    berlin = ZoneInfo("Europe/Berlin")
    # Bought 27 March 12:00 CET (UTC+1); clocks go forward on 30 March.
    start = datetime(2025, 3, 27, 12, 0, tzinfo=berlin)
    end = cancellation_window_end(start)
    assert end == datetime(2025, 4, 3, 11, 0, tzinfo=UTC)
    assert end.tzinfo is UTC
    # 13:00 CEST on 3 April is 11:00 UTC: the last instant; the wall-clock "same time" 12:00
    # would have been an hour short, and 13:00:01 is outside.
    assert within_cancellation_window(start, datetime(2025, 4, 3, 13, 0, tzinfo=berlin))
    assert not within_cancellation_window(start, datetime(2025, 4, 3, 13, 0, 1, tzinfo=berlin))


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        cancellation_window_end(datetime(2025, 3, 10))
    with pytest.raises(ValueError, match="naive"):
        cancel(sub(), datetime(2025, 3, 11))


@given(st.integers(min_value=0, max_value=14 * 24 * 3600))
def test_cancel_is_accepted_exactly_when_within_168_hours(seconds):
    result = cancel(sub(), PURCHASE + timedelta(seconds=seconds))
    assert isinstance(result, Change) == (seconds <= 7 * 24 * 3600)


def test_request_before_the_current_window_is_rejected_as_stale():
    rejected(
        cancel(sub(), PURCHASE - timedelta(seconds=1)), ChangeRejectionCode.REQUEST_PREDATES_TERM
    )


# --- renewal restarts the window --------------------------------------------------------------


def test_renewal_starts_a_new_term_at_the_old_term_end():
    old = sub()
    change = accepted(renew(old, old.term_end + timedelta(hours=5)))
    new = change.subscription
    assert (new.term_start, new.window_start) == (old.term_end, old.term_end)
    assert new.term_end == datetime(2027, 3, 10, 14, 30, tzinfo=UTC)
    assert change.fact.kind is LifecycleKind.RENEWED
    assert change.fact.charge_type is ChargeType.RENEW
    assert change.fact.effective_at == old.term_end


def test_cancel_three_days_after_renewal_is_accepted_though_purchase_was_a_year_ago():
    renewed = accepted(renew(sub(), sub().term_end)).subscription
    change = accepted(cancel(renewed, renewed.term_start + timedelta(days=3)))
    assert change.fact.refund is not None


def test_cancel_eight_days_after_renewal_is_rejected():
    renewed = accepted(renew(sub(), sub().term_end)).subscription
    rejected(
        cancel(renewed, renewed.term_start + timedelta(days=8)),
        ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED,
    )


def test_renewed_window_ends_exactly_seven_days_after_the_renewal():
    renewed = accepted(renew(sub(), sub().term_end)).subscription
    accepted(change_quantity(renewed, renewed.term_start + SEVEN_DAYS, 5))
    rejected(
        change_quantity(renewed, renewed.term_start + SEVEN_DAYS + timedelta(seconds=1), 5),
        ChangeRejectionCode.SEAT_REDUCTION_WINDOW_CLOSED,
    )


def test_renewal_before_the_term_end_is_refused():
    rejected(
        renew(sub(), sub().term_end - timedelta(seconds=1)), ChangeRejectionCode.TERM_NOT_ENDED
    )


def test_subscription_with_auto_renew_off_does_not_renew_but_expires():
    off = sub(auto_renew=False)
    rejected(renew(off, off.term_end), ChangeRejectionCode.AUTO_RENEW_DISABLED)
    change = accepted(expire(off, off.term_end + timedelta(days=1)))
    assert change.subscription.status is S.EXPIRED
    assert change.fact.effective_at == off.term_end


def test_auto_renewing_active_subscription_cannot_expire():
    rejected(expire(sub(), sub().term_end), ChangeRejectionCode.INVALID_TRANSITION)


def test_suspended_subscription_expires_rather_than_renews():
    suspended = sub(status=S.SUSPENDED)
    rejected(renew(suspended, suspended.term_end), ChangeRejectionCode.INVALID_TRANSITION)
    assert accepted(expire(suspended, suspended.term_end)).subscription.status is S.EXPIRED


def test_expire_before_the_term_end_is_refused():
    off = sub(auto_renew=False)
    rejected(expire(off, off.term_end - timedelta(days=1)), ChangeRejectionCode.TERM_NOT_ENDED)


def test_monthly_term_renews_for_one_month():
    monthly = sub(term=Term.P1M)
    renewed = accepted(renew(monthly, monthly.term_end)).subscription
    assert renewed.term_end == datetime(2025, 5, 10, 14, 30, tzinfo=UTC)


def test_changes_after_the_term_end_wait_for_renewal_or_expiry():
    s = sub()
    rejected(suspend(s, s.term_end), ChangeRejectionCode.TERM_ENDED)
    rejected(change_quantity(s, s.term_end, 20), ChangeRejectionCode.TERM_ENDED)


# --- seat changes -----------------------------------------------------------------------------


def test_adding_seats_mid_term_is_accepted_as_add_quantity():
    change = accepted(change_quantity(sub(), PURCHASE + timedelta(days=100), 15))
    fact = change.fact
    assert (fact.kind, fact.charge_type) == (
        LifecycleKind.QUANTITY_INCREASED,
        ChargeType.ADD_QUANTITY,
    )
    assert (fact.old_quantity, fact.new_quantity) == (10, 15)
    assert fact.refund is None
    assert change.subscription.quantity == 15


def test_reducing_seats_within_the_window_refunds_the_removed_seats():
    at = PURCHASE + timedelta(days=2)
    change = accepted(change_quantity(sub(), at, 4))
    fact = change.fact
    assert (fact.kind, fact.charge_type) == (
        LifecycleKind.QUANTITY_DECREASED,
        ChargeType.REMOVE_QUANTITY,
    )
    assert (fact.old_quantity, fact.new_quantity) == (10, 4)
    assert fact.refund is not None
    assert fact.refund.quantity == 6
    assert fact.effective_at == at


def test_reducing_seats_after_seven_days_is_rejected():
    result = rejected(
        change_quantity(sub(), PURCHASE + SEVEN_DAYS + timedelta(seconds=1), 4),
        ChangeRejectionCode.SEAT_REDUCTION_WINDOW_CLOSED,
    )
    assert "reducing seats" in result.reason


def test_reducing_to_zero_seats_is_refused_in_favour_of_cancel():
    result = rejected(
        change_quantity(sub(), PURCHASE, 0), ChangeRejectionCode.QUANTITY_OUT_OF_RANGE
    )
    assert "cancel" in result.reason


def test_quantity_above_the_catalogue_maximum_is_refused():
    rejected(
        change_quantity(sub(), PURCHASE, 301, max_quantity=300),
        ChangeRejectionCode.QUANTITY_OUT_OF_RANGE,
    )
    accepted(change_quantity(sub(), PURCHASE, 300, max_quantity=300))


def test_setting_the_same_quantity_changes_nothing():
    rejected(change_quantity(sub(), PURCHASE, 10), ChangeRejectionCode.NO_CHANGE)


def test_quantity_of_a_suspended_subscription_cannot_change():
    rejected(
        change_quantity(sub(status=S.SUSPENDED), PURCHASE, 12),
        ChangeRejectionCode.INVALID_TRANSITION,
    )


# --- refunds ----------------------------------------------------------------------------------


def test_cancel_on_day_three_refunds_the_unused_days_of_the_billing_period():
    # Monthly billing from 10 March: the period is 10 March..9 April (31 days). Cancelled on
    # 13 March, the 28 days from the 13th on are refunded.
    change = accepted(cancel(sub(), PURCHASE + timedelta(days=3)))
    refund = change.fact.refund
    assert refund is not None
    assert (refund.period_start, refund.period_end, refund.from_day) == (
        date(2025, 3, 10),
        date(2025, 4, 9),
        date(2025, 3, 13),
    )
    assert refund.quantity == 10
    assert refund_minor(refund, 310) == 310 * 10 * 28 // 31
    assert change.fact.charge_type is ChargeType.CANCEL_IMMEDIATE


def test_cancel_of_an_annual_billed_subscription_refunds_against_the_year():
    change = accepted(cancel(sub(cycle=BillingCycle.ANNUAL), PURCHASE + timedelta(days=1)))
    refund = change.fact.refund
    assert refund is not None
    assert (refund.period_start, refund.period_end) == (date(2025, 3, 10), date(2026, 3, 9))
    assert refund_minor(refund, 36_500) == 36_400 * 10


def test_cancel_on_the_purchase_day_refunds_everything():
    change = accepted(cancel(sub(), PURCHASE + timedelta(hours=1)))
    assert change.fact.refund is not None
    assert refund_minor(change.fact.refund, 999) == 9_990


def test_refund_day_is_the_utc_day_of_the_request():
    # 11 March 01:00 in UTC+3 is 10 March 22:00 UTC: the purchase day, so a full refund.
    east = datetime(2025, 3, 11, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    refund = accepted(cancel(sub(), east)).fact.refund
    assert refund is not None
    assert refund.from_day == date(2025, 3, 10)


def test_billing_period_is_counted_from_the_term_start_without_drift():
    start = datetime(2025, 1, 31, tzinfo=UTC)
    s = sub().model_copy(
        update={
            "term_start": start,
            "window_start": start,
            "term_end": datetime(2026, 1, 31, tzinfo=UTC),
        }
    )
    assert billing_period(s, datetime(2025, 3, 30, tzinfo=UTC)) == (
        date(2025, 2, 28),
        date(2025, 3, 30),
    )
    assert billing_period(s, datetime(2025, 3, 31, tzinfo=UTC)) == (
        date(2025, 3, 31),
        date(2025, 4, 29),
    )


# --- status transitions -----------------------------------------------------------------------


def test_suspend_then_reactivate_round_trips_without_a_charge():
    suspended = accepted(suspend(sub(), PURCHASE + timedelta(days=30)))
    assert suspended.subscription.status is S.SUSPENDED
    assert suspended.fact.charge_type is None
    back = accepted(reactivate(suspended.subscription, PURCHASE + timedelta(days=31)))
    assert back.subscription.status is S.ACTIVE
    assert (back.fact.old_status, back.fact.new_status) == (S.SUSPENDED, S.ACTIVE)


def test_suspended_subscription_can_be_cancelled_within_the_window():
    change = accepted(cancel(sub(status=S.SUSPENDED), PURCHASE + timedelta(days=1)))
    assert change.subscription.status is S.DELETED
    assert change.subscription.auto_renew is False


@pytest.mark.parametrize("status", [S.SUSPENDED, S.PENDING, S.DISABLED, S.EXPIRED, S.DELETED])
def test_only_an_active_subscription_can_be_suspended(status):
    result = rejected(suspend(sub(status=status), PURCHASE), ChangeRejectionCode.INVALID_TRANSITION)
    assert str(status) in result.reason


@pytest.mark.parametrize("status", [S.ACTIVE, S.PENDING, S.DISABLED, S.EXPIRED, S.DELETED])
def test_only_a_suspended_subscription_can_be_reactivated(status):
    rejected(reactivate(sub(status=status), PURCHASE), ChangeRejectionCode.INVALID_TRANSITION)


@pytest.mark.parametrize("status", [S.PENDING, S.DISABLED, S.EXPIRED, S.DELETED])
def test_cancel_from_a_status_other_than_active_or_suspended_is_an_invalid_transition(status):
    rejected(cancel(sub(status=status), PURCHASE), ChangeRejectionCode.INVALID_TRANSITION)


@pytest.mark.parametrize("status", [S.EXPIRED, S.DELETED])
def test_expired_and_deleted_are_terminal(status):
    assert ALLOWED_TRANSITIONS[status] == frozenset()
    result = rejected(
        set_auto_renew(sub(status=status), PURCHASE, False), ChangeRejectionCode.INVALID_TRANSITION
    )
    assert "final status" in result.reason
    rejected(expire(sub(status=status), sub().term_end), ChangeRejectionCode.INVALID_TRANSITION)


def test_every_accepted_change_stays_within_the_transition_table():
    s = sub(auto_renew=False)
    at = PURCHASE + timedelta(days=1)
    results = [
        suspend(s, at),
        cancel(s, at),
        change_quantity(s, at, 3),
        set_auto_renew(s, at, True),
        expire(s, s.term_end),
        reactivate(sub(status=S.SUSPENDED), at),
    ]
    for result in results:
        fact = accepted(result).fact
        assert fact.new_status in ALLOWED_TRANSITIONS[fact.old_status]


# --- auto-renew -------------------------------------------------------------------------------


def test_turning_auto_renew_off_is_recorded_without_a_charge():
    at = PURCHASE + timedelta(days=200)
    change = accepted(set_auto_renew(sub(), at, False))
    assert change.subscription.auto_renew is False
    assert (change.fact.kind, change.fact.charge_type) == (LifecycleKind.AUTO_RENEW_DISABLED, None)
    back = accepted(set_auto_renew(change.subscription, at, True))
    assert back.fact.kind is LifecycleKind.AUTO_RENEW_ENABLED


def test_setting_auto_renew_to_its_current_value_changes_nothing():
    rejected(set_auto_renew(sub(), PURCHASE, True), ChangeRejectionCode.NO_CHANGE)


# --- the model and provisioning ---------------------------------------------------------------


def test_provisioned_line_becomes_an_active_subscription_with_its_window_at_purchase():
    line = OrderLine(
        product_id="P",
        sku_id="S",
        availability_id="A",
        quantity=7,
        term=Term.P3Y,
        billing_cycle=BillingCycle.ANNUAL,
    )
    order = Order(
        order_id="o-9", reseller_id="r1", customer_id="c1", lines=(line,), requested_at=PURCHASE
    )
    at = datetime(2024, 2, 29, 8, tzinfo=ZoneInfo("Europe/Berlin"))
    s = provision(order, line, "s-9", at)
    assert s.status is S.ACTIVE
    assert s.term_start == s.window_start == datetime(2024, 2, 29, 7, tzinfo=UTC)
    assert s.term_end == datetime(2027, 2, 28, 7, tzinfo=UTC)
    assert (s.catalog_item_id, s.quantity, s.order_id) == ("P:S:A", 7, "o-9")


def test_subscription_with_a_window_outside_its_term_is_refused():
    with pytest.raises(ValueError, match="window_start"):
        Subscription.model_validate({**sub().model_dump(), "window_start": sub().term_end})


def test_subscription_with_a_billing_cycle_longer_than_its_term_is_refused():
    with pytest.raises(ValueError, match="cannot be billed"):
        Subscription.model_validate({**sub().model_dump(), "billing_cycle": BillingCycle.TRIENNIAL})


def test_lifecycle_fact_carries_the_ids_billing_needs():
    fact = accepted(suspend(sub(), PURCHASE + timedelta(days=40))).fact
    assert (fact.subscription_id, fact.order_id, fact.reseller_id, fact.customer_id) == (
        "s-1",
        "o-1",
        "r1",
        "c1",
    )
    assert fact.effective_at.tzinfo is UTC


# --- seat batches: each added lot has its own 7 days ("New commerce cancellation policy") -------


def _tracked(quantity=10):
    return sub(quantity=quantity).model_copy(
        update={"seat_batches": (SeatBatch(quantity=quantity, allow_until=PURCHASE + SEVEN_DAYS),)}
    )


def test_seats_added_mid_term_may_be_removed_within_seven_days_of_their_addition():
    added_at = PURCHASE + timedelta(days=10)
    grown = accepted(change_quantity(_tracked(), added_at, 15)).subscription
    assert grown.refundable_seats(added_at) == 5
    cut = accepted(change_quantity(grown, added_at + timedelta(days=2), 12))
    assert cut.fact.kind is LifecycleKind.QUANTITY_DECREASED
    assert cut.subscription.seat_batches == (
        SeatBatch(quantity=2, allow_until=added_at + SEVEN_DAYS),
    )


def test_removing_more_seats_than_the_open_batches_hold_is_rejected():
    added_at = PURCHASE + timedelta(days=10)
    grown = accepted(change_quantity(_tracked(), added_at, 15)).subscription
    refused = rejected(
        change_quantity(grown, added_at + timedelta(days=2), 9),
        ChangeRejectionCode.SEAT_REDUCTION_WINDOW_CLOSED,
    )
    assert "only 5 may still be removed" in refused.reason
    late = added_at + SEVEN_DAYS + timedelta(seconds=1)
    rejected(change_quantity(grown, late, 14), ChangeRejectionCode.SEAT_REDUCTION_WINDOW_CLOSED)


def test_provisioned_subscription_tracks_its_purchase_batch():
    order = Order(
        order_id="o-1",
        reseller_id="r1",
        customer_id="c1",
        lines=(
            OrderLine(
                product_id="P",
                sku_id="S",
                availability_id="A",
                quantity=4,
                term=Term.P1Y,
                billing_cycle=BillingCycle.MONTHLY,
            ),
        ),
        requested_at=PURCHASE,
    )
    s = provision(order, order.lines[0], "s-9", PURCHASE)
    assert s.seat_batches == (SeatBatch(quantity=4, allow_until=PURCHASE + SEVEN_DAYS),)


def test_partner_centers_cancellation_deadline_wins_over_the_computed_one():
    # The renewal completed a day late: Partner Center allows cancelling until then.
    late = sub().model_copy(
        update={"cancellation_allowed_until_date": PURCHASE + SEVEN_DAYS + timedelta(hours=20)}
    )
    at = PURCHASE + SEVEN_DAYS + timedelta(hours=12)
    assert not within_cancellation_window(late.window_start, at)
    accepted(cancel(late, at))
    rejected(cancel(sub(), at), ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED)


def test_partner_center_refundable_batches_replace_the_hubs_own():
    from hub.domain.subscriptions import with_partner_center_windows

    until = PURCHASE + timedelta(days=12)
    s = with_partner_center_windows(_tracked(), [(3, until)], PURCHASE + SEVEN_DAYS)
    assert s.seat_batches == (SeatBatch(quantity=3, allow_until=until),)
    assert s.refundable_seats(PURCHASE + timedelta(days=11)) == 3
