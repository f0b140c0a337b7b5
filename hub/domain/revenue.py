"""Revenue recognition: a charge billed up front is recognised month by month, by service day.

Each month gets the rounded cumulative share minus what earlier months got, so the parts
always sum exactly to the charge and none is negative (rounding: half up on the cumulative).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from hub.domain.pricing import round_half_up
from hub.errors import ValidationFailed


class RevenueEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    period: str  # YYYY-MM
    amount_minor: int


class RevenueSchedule(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_id: str
    currency: str
    total_minor: int
    service_start: date
    service_end: date
    entries: tuple[RevenueEntry, ...]


def _period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _days_per_month(start: date, end: date) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    cursor = start
    while cursor <= end:
        last = min(_month_end(cursor), end)
        out.append((_period(cursor), (last - cursor).days + 1))
        cursor = last + timedelta(days=1)
    return out


def _spread(total_minor: int, start: date, end: date) -> list[RevenueEntry]:
    months = _days_per_month(start, end)
    all_days = sum(days for _, days in months)
    sign = -1 if total_minor < 0 else 1
    magnitude = abs(total_minor)
    entries: list[RevenueEntry] = []
    done_days = 0
    done = 0
    for period, days in months:
        done_days += days
        upto = round_half_up(Decimal(magnitude) * done_days / all_days)
        entries.append(RevenueEntry(period=period, amount_minor=sign * (upto - done)))
        done = upto
    return entries


def schedule_revenue(
    source_id: str, total_minor: int, currency: str, service_start: date, service_end: date
) -> RevenueSchedule:
    """Recognise ``total_minor`` over the service days ``service_start..service_end``
    (inclusive), one entry per calendar month touched, pro rata to the days in it."""
    if service_end < service_start:
        raise ValidationFailed("service_end", service_end, f"before {service_start}")
    return RevenueSchedule(
        source_id=source_id,
        currency=currency,
        total_minor=total_minor,
        service_start=service_start,
        service_end=service_end,
        entries=tuple(_spread(total_minor, service_start, service_end)),
    )


def adjust_on_cancellation(
    schedule: RevenueSchedule,
    *,
    cancel_date: date,
    refund_minor: int,
    closed_through: str | None = None,
) -> RevenueSchedule:
    """Re-plan the open months after a cancellation effective ``cancel_date`` with a refund.

    Months up to ``closed_through`` (YYYY-MM) are already booked and stay as they are. What
    is left of the charge after the refund, less what those months booked, is recognised
    over the open service days before ``cancel_date``; if no open service day is left (or
    too much was booked already) it is one adjusting entry in the first open month.
    """
    if refund_minor < 0 or refund_minor > schedule.total_minor:
        raise ValidationFailed("refund_minor", refund_minor, "must be 0..total")
    if not schedule.service_start <= cancel_date <= schedule.service_end + timedelta(days=1):
        raise ValidationFailed("cancel_date", cancel_date, "outside the service period")
    kept = [
        e for e in schedule.entries if closed_through is not None and e.period <= closed_through
    ]
    remaining = schedule.total_minor - refund_minor - sum(e.amount_minor for e in kept)
    first_open = schedule.service_start
    if kept:
        first_open = _month_end(date.fromisoformat(kept[-1].period + "-01")) + timedelta(days=1)
    last_day = cancel_date - timedelta(days=1)
    if first_open <= last_day and remaining >= 0:
        new = _spread(remaining, first_open, last_day)
    elif remaining:
        open_period = _period(max(first_open, schedule.service_start))
        new = [RevenueEntry(period=open_period, amount_minor=remaining)]
    else:
        new = []
    return schedule.model_copy(
        update={
            "total_minor": schedule.total_minor - refund_minor,
            "service_end": max(last_day, schedule.service_start),
            "entries": (*kept, *new),
        }
    )
