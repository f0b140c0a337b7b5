"""Daily proration and exact splitting of minor-unit amounts (parts always sum to the whole)."""

from __future__ import annotations

import calendar
from datetime import date
from typing import TypeVar

_D = TypeVar("_D", bound=date)


def add_months(day: _D, months: int) -> _D:
    """Shift ``day`` (a date or datetime) by whole calendar months, keeping time and zone.

    A day that does not exist in the target month is clamped to its last day
    (31 January + 1 month = 28 or 29 February), as term and billing-period ends are.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return day.replace(year=year, month=month0 + 1, day=min(day.day, last))


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def cycle_start(term_start: _D, months: int) -> _D:
    """The first day of the charge cycle ``months`` after ``term_start``.

    Microsoft's table for purchases late in the month ("Common billing scenarios: one-time and
    recurring"): a purchase on the 29th, 30th or 31st keeps its distance from the end of the
    month, so a purchase one day before the month's end starts every cycle one day before the
    month's end (30 January: 27 February, 30 March, 29 April, ...; cycles Jan30-Feb26,
    Feb27-Mar29, Mar30-Apr28) and one on the last day starts each cycle on the last day (31
    January: 28 February, 31 March, 30 April). Earlier days keep their day of the month.
    """
    shifted = add_months(term_start.replace(day=1), months)
    if term_start.day < 29:
        return shifted.replace(day=term_start.day)
    from_end = _last_day(term_start.year, term_start.month) - term_start.day
    last = _last_day(shifted.year, shifted.month)
    return shifted.replace(day=min(term_start.day, last - from_end))


def _div_round_half_away(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in exact integer arithmetic."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def period_days(period_start: date, period_end: date) -> int:
    """Days in the period ``period_start..period_end``, both included; raise if it is empty."""
    if period_end < period_start:
        raise ValueError(f"period {period_start}..{period_end} is empty: it ends before it starts")
    return (period_end - period_start).days + 1


def prorate(amount_minor: int, period_start: date, period_end: date, from_day: date) -> int:
    """The part of ``amount_minor`` (charged for the whole period) covering ``from_day`` onward.

    Both period dates are included, as Partner Center's ChargeStartDate/ChargeEndDate are: a
    January monthly period is 1 Jan..31 Jan (31 days). Days are counted from ``from_day`` to
    ``period_end``, both included; ``from_day`` before the period gives the whole amount, after
    its last day gives 0. Result = amount * remaining_days / period_days, rounded to the minor
    unit half away from zero (so prorating a credit mirrors prorating a charge exactly).

    A refund for a cancellation on day D is ``prorate(charge, start, end, D)``: the cancellation
    day itself is refunded; the customer keeps paying ``charge - refund``.
    """
    total = period_days(period_start, period_end)
    remaining = (period_end - max(from_day, period_start)).days + 1
    remaining = min(max(remaining, 0), total)
    return _div_round_half_away(amount_minor * remaining, total)


def split_by_days(amount_minor: int, days: list[int]) -> list[int]:
    """Split ``amount_minor`` in proportion to ``days`` so the parts sum exactly to it.

    Largest-remainder method: each part gets the floor of its exact share, then the leftover
    minor units go one each to the parts with the largest remainders, earliest first on a tie.
    A negative amount is split as the mirror image of the positive one.
    """
    if not days:
        raise ValueError("days must name at least one part")
    if any(d < 0 for d in days):
        raise ValueError(f"days must be non-negative, got {days}")
    total = sum(days)
    if total == 0:
        raise ValueError("days must not all be zero")
    if amount_minor < 0:
        return [-part for part in split_by_days(-amount_minor, days)]
    shares = [divmod(amount_minor * d, total) for d in days]
    parts = [q for q, _ in shares]
    leftover = amount_minor - sum(parts)
    by_remainder = sorted(range(len(days)), key=lambda i: (-shares[i][1], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts
