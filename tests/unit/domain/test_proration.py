from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.domain import rating
from hub.domain.proration import add_months, period_days, prorate, split_by_days

amounts = st.integers(min_value=0, max_value=10**15)
starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
lengths = st.integers(min_value=1, max_value=1100)


def test_january_monthly_period_has_31_days_with_both_ends_included():
    assert period_days(date(2025, 1, 1), date(2025, 1, 31)) == 31
    assert period_days(date(2025, 1, 1), date(2025, 1, 1)) == 1


def test_an_empty_period_is_refused():
    with pytest.raises(ValueError, match="empty"):
        prorate(100, date(2025, 1, 2), date(2025, 1, 1), date(2025, 1, 1))


def test_from_the_first_day_is_the_whole_amount():
    assert prorate(3100, date(2025, 1, 1), date(2025, 1, 31), date(2025, 1, 1)) == 3100


def test_from_day_three_charges_the_remaining_29_of_31_days():
    # 3100 * 29 / 31 = 2900 exactly
    assert prorate(3100, date(2025, 1, 1), date(2025, 1, 31), date(2025, 1, 3)) == 2900


def test_from_the_last_day_is_one_day_and_after_it_nothing():
    assert prorate(3100, date(2025, 1, 1), date(2025, 1, 31), date(2025, 1, 31)) == 100
    assert prorate(3100, date(2025, 1, 1), date(2025, 1, 31), date(2025, 2, 1)) == 0


def test_from_before_the_period_is_the_whole_amount():
    assert prorate(3100, date(2025, 1, 1), date(2025, 1, 31), date(2024, 12, 1)) == 3100


def test_half_a_minor_unit_rounds_away_from_zero():
    # 1 * 1 / 2 = 0.5 -> 1, and the mirror for a credit.
    assert prorate(1, date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 2)) == 1
    assert prorate(-1, date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 2)) == -1


def test_below_half_a_minor_unit_rounds_down():
    # 1000 * 1 / 30 = 33.33 -> 33
    assert prorate(1000, date(2025, 4, 1), date(2025, 4, 30), date(2025, 4, 30)) == 33


@given(amounts, starts, lengths, st.integers(min_value=-50, max_value=1200))
def test_prorated_amount_is_between_zero_and_the_whole(amount, start, length, offset):
    end = start + timedelta(days=length - 1)
    part = prorate(amount, start, end, start + timedelta(days=offset))
    assert 0 <= part <= amount


@given(amounts, starts, lengths, st.integers(0, 1100), st.integers(0, 1100))
def test_prorated_amount_never_grows_as_the_start_day_moves_later(amount, start, length, a, b):
    end = start + timedelta(days=length - 1)
    early, late = sorted((a, b))
    assert prorate(amount, start, end, start + timedelta(days=early)) >= prorate(
        amount, start, end, start + timedelta(days=late)
    )


@given(amounts, starts, lengths, st.integers(0, 1100))
def test_prorating_a_credit_mirrors_prorating_a_charge(amount, start, length, offset):
    end = start + timedelta(days=length - 1)
    day = start + timedelta(days=offset)
    assert prorate(-amount, start, end, day) == -prorate(amount, start, end, day)


@given(amounts, starts, lengths, st.integers(0, 1100))
def test_prorated_amount_is_within_half_a_minor_unit_of_the_exact_share(
    amount, start, length, offset
):
    end = start + timedelta(days=length - 1)
    remaining = max(0, length - offset)
    part = prorate(amount, start, end, start + timedelta(days=offset))
    assert abs(2 * (part * length - amount * remaining)) <= length


def test_split_gives_the_leftover_unit_to_the_largest_remainder():
    # 100 over 3 equal parts: 33.33 each, the leftover unit goes to the first on a tie.
    assert split_by_days(100, [1, 1, 1]) == [34, 33, 33]
    # 10 over 1:2 -> 3.33 / 6.67: the larger remainder takes the leftover unit.
    assert split_by_days(10, [1, 2]) == [3, 7]


def test_split_gives_nothing_to_a_zero_day_part():
    assert split_by_days(101, [0, 1, 0, 1]) == [0, 51, 0, 50]


@pytest.mark.parametrize("days", [[], [0, 0], [1, -1]])
def test_split_refuses_days_that_name_no_share(days):
    with pytest.raises(ValueError, match="days"):
        split_by_days(100, days)


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40),
)
def test_split_parts_sum_exactly_to_the_whole(amount, days):
    assume(sum(days) > 0)
    parts = split_by_days(amount, days)
    assert sum(parts) == amount
    assert len(parts) == len(days)


@given(
    st.integers(min_value=0, max_value=10**15),
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40),
)
def test_split_parts_are_never_negative_and_within_one_unit_of_the_exact_share(amount, days):
    assume(sum(days) > 0)
    total = sum(days)
    for part, d in zip(split_by_days(amount, days), days, strict=True):
        assert part >= 0
        assert abs(part * total - amount * d) < total


@given(st.integers(0, 10**12), st.lists(st.integers(1, 400), min_size=2, max_size=10))
def test_split_of_a_negative_amount_mirrors_the_positive_split(amount, days):
    assert split_by_days(-amount, days) == [-p for p in split_by_days(amount, days)]


def test_add_months_clamps_to_the_end_of_a_shorter_month():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)


def test_add_months_keeps_time_and_zone_of_a_datetime():
    zone = timezone(timedelta(hours=2))
    moment = datetime(2025, 1, 31, 13, 45, tzinfo=zone)
    assert add_months(moment, 12) == datetime(2026, 1, 31, 13, 45, tzinfo=zone)


@given(starts, st.integers(0, 600))
def test_add_months_lands_in_the_right_month(day, months):
    shifted = add_months(day, months)
    assert shifted.year * 12 + shifted.month == day.year * 12 + day.month + months
    assert shifted.day <= day.day


@given(st.integers(-(10**15), 10**15), starts, lengths, st.integers(0, 1099))
def test_refund_proration_agrees_with_billing_rating(amount, start, length, offset):
    # The refund a lifecycle fact announces must be the one billing later invoices.
    end = start + timedelta(days=length - 1)
    day = start + timedelta(days=min(offset, length - 1))
    days = rating.days_inclusive(day, end)
    total = rating.days_inclusive(start, end)
    assert prorate(amount, start, end, day) == rating.prorate(amount, days, total)
