"""Revenue recognition: annual charges month by month, exact parts, cancellation re-plans."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.revenue import adjust_on_cancellation, schedule_revenue
from hub.errors import ValidationFailed


def test_annual_charge_from_the_first_is_twelve_months_by_days() -> None:
    s = schedule_revenue("l1", 365_00, "EUR", date(2026, 1, 1), date(2026, 12, 31))
    amounts = {e.period: e.amount_minor for e in s.entries}
    assert len(amounts) == 12
    assert amounts["2026-01"] == 31_00
    assert amounts["2026-02"] == 28_00
    assert sum(amounts.values()) == 365_00


def test_mid_month_start_touches_thirteen_months() -> None:
    s = schedule_revenue("l1", 120_000, "EUR", date(2026, 11, 15), date(2027, 11, 14))
    assert s.entries[0].period == "2026-11"
    assert s.entries[-1].period == "2027-11"
    assert len(s.entries) == 13
    assert sum(e.amount_minor for e in s.entries) == 120_000


def test_cancellation_keeps_booked_months_and_replans_the_rest() -> None:
    s = schedule_revenue("l1", 365_00, "EUR", date(2026, 1, 1), date(2026, 12, 31))
    # Cancelled effective 1 March after January was booked; 306 days refunded.
    adjusted = adjust_on_cancellation(
        s, cancel_date=date(2026, 3, 1), refund_minor=306_00, closed_through="2026-01"
    )
    assert [(e.period, e.amount_minor) for e in adjusted.entries] == [
        ("2026-01", 31_00),
        ("2026-02", 28_00),
    ]
    assert adjusted.total_minor == 59_00


def test_cancellation_after_booking_too_much_reverses_in_the_open_month() -> None:
    s = schedule_revenue("l1", 12_000, "EUR", date(2026, 1, 1), date(2026, 12, 31))
    booked = sum(e.amount_minor for e in s.entries if e.period <= "2026-03")
    adjusted = adjust_on_cancellation(
        s, cancel_date=date(2026, 1, 4), refund_minor=11_000, closed_through="2026-03"
    )
    assert adjusted.entries[-1].period == "2026-04"
    assert adjusted.entries[-1].amount_minor == 1_000 - booked
    assert sum(e.amount_minor for e in adjusted.entries) == 1_000


def test_refund_larger_than_the_charge_is_refused() -> None:
    s = schedule_revenue("l1", 100, "EUR", date(2026, 1, 1), date(2026, 1, 31))
    with pytest.raises(ValidationFailed):
        adjust_on_cancellation(s, cancel_date=date(2026, 1, 2), refund_minor=101)


@given(
    st.integers(0, 10**10),
    st.dates(date(2024, 1, 1), date(2030, 1, 1)),
    st.integers(0, 3 * 366),
)
def test_schedule_parts_sum_exactly_and_are_never_negative(
    total: int, start: date, length: int
) -> None:
    s = schedule_revenue("x", total, "EUR", start, start + timedelta(days=length))
    assert sum(e.amount_minor for e in s.entries) == total
    assert all(e.amount_minor >= 0 for e in s.entries)
    assert len({e.period for e in s.entries}) == len(s.entries)


@given(
    st.integers(1, 10**8),
    st.integers(0, 364),
    st.integers(0, 100),
    st.sampled_from([None, "2026-01", "2026-03", "2026-12"]),
)
def test_cancellation_sums_to_what_is_kept(
    total: int, cancel_offset: int, refund_pct: int, closed: str | None
) -> None:
    start = date(2026, 1, 1)
    s = schedule_revenue("x", total, "EUR", start, date(2026, 12, 31))
    refund = total * refund_pct // 100
    adjusted = adjust_on_cancellation(
        s,
        cancel_date=start + timedelta(days=cancel_offset),
        refund_minor=refund,
        closed_through=closed,
    )
    assert sum(e.amount_minor for e in adjusted.entries) == total - refund
    booked = [e for e in s.entries if closed is not None and e.period <= closed]
    assert list(adjusted.entries[: len(booked)]) == booked
