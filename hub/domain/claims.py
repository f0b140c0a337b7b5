"""Which subscriptions an incident hit: the credits index entries, monthly fee normalisation,
selection by service, region and window, and the inputs of a credit allocation.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from hub.domain.allocation import AffectedSubscription
from hub.domain.enums import BillingCycle, SubscriptionStatus
from hub.errors import ValidationFailed

_MONTHS_PER_CYCLE = {BillingCycle.MONTHLY: 1, BillingCycle.ANNUAL: 12, BillingCycle.TRIENNIAL: 36}
# An incident window longer than this is not one incident; it would also make day counting slow.
MAX_WINDOW = timedelta(days=62)


def monthly_fee_minor(unit_price_minor: int, quantity: int, billing_cycle: BillingCycle) -> int:
    """What ``quantity`` seats cost per month; the unit price is per seat per billing period.

    Annual and triennial fees are spread evenly over their months and rounded down, so a credit
    capped at this fee never exceeds what the customer actually paid for the month.
    """
    if unit_price_minor < 0:
        raise ValidationFailed("unit_price_minor", unit_price_minor, "must be >= 0")
    if quantity < 0:
        raise ValidationFailed("quantity", quantity, "must be >= 0")
    return unit_price_minor * quantity // _MONTHS_PER_CYCLE[billing_cycle]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


class IndexEntry(BaseModel):
    """One subscription as the credits index keeps it: who, what it costs, when it was active.

    ``periods`` are half-open ``[start, end)`` intervals of status ``active`` (``end`` None while
    still active); ``quantities`` the seat count from each instant on. ``change_ids`` makes a
    redelivered change a no-op.
    """

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    customer_id: str
    reseller_id: str
    service: str
    product_id: str
    unit_price_minor: int
    billing_cycle: BillingCycle
    currency: str
    term_start: date
    term_end: date
    auto_renew: bool
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    periods: tuple[tuple[datetime, datetime | None], ...]
    quantities: tuple[tuple[datetime, int], ...]
    change_ids: tuple[str, ...] = ()

    @classmethod
    def provisioned(
        cls,
        *,
        subscription_id: str,
        customer_id: str,
        reseller_id: str,
        service: str,
        product_id: str,
        quantity: int,
        unit_price_minor: int,
        billing_cycle: BillingCycle,
        currency: str,
        term_start: date,
        term_end: date,
        auto_renew: bool,
    ) -> IndexEntry:
        start = _start_of(term_start)
        return cls(
            subscription_id=subscription_id,
            customer_id=customer_id,
            reseller_id=reseller_id,
            service=service,
            product_id=product_id,
            unit_price_minor=unit_price_minor,
            billing_cycle=billing_cycle,
            currency=currency,
            term_start=term_start,
            term_end=term_end,
            auto_renew=auto_renew,
            periods=((start, None),),
            quantities=((start, quantity),),
        )

    def changed(
        self,
        *,
        change_id: str,
        at: datetime,
        status: SubscriptionStatus,
        quantity: int,
        auto_renew: bool,
    ) -> IndexEntry:
        """The entry after one lifecycle change; the same change twice changes nothing."""
        if change_id in self.change_ids:
            return self
        periods = list(self.periods)
        last_start, last_end = periods[-1]
        if status is SubscriptionStatus.ACTIVE and last_end is not None:
            periods.append((at, None))
        elif status is not SubscriptionStatus.ACTIVE and last_end is None:
            periods[-1] = (last_start, max(at, last_start))
        quantities = list(self.quantities)
        if quantities[-1][1] != quantity:
            quantities.append((at, quantity))
        return self.model_copy(
            update={
                "status": status,
                "auto_renew": auto_renew,
                "periods": tuple(periods),
                "quantities": tuple(quantities),
                "change_ids": (*self.change_ids, change_id),
            }
        )

    def quantity_at(self, at: datetime) -> int:
        """Seats in effect at ``at`` (the first count before any change)."""
        seats = self.quantities[0][1]
        for since, quantity in self.quantities:
            if since <= at:
                seats = quantity
        return seats

    def monthly_fee_at(self, at: datetime) -> int:
        return monthly_fee_minor(self.unit_price_minor, self.quantity_at(at), self.billing_cycle)

    def _active_intervals(self) -> Iterable[tuple[datetime, datetime | None]]:
        # Without auto-renew the subscription expires when its term ends.
        expiry = None if self.auto_renew else _start_of(self.term_end + timedelta(days=1))
        for start, end in self.periods:
            if expiry is not None:
                end = expiry if end is None else min(end, expiry)
            if end is None or end > start:
                yield start, end

    def active_overlap(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of ``[start, end)`` in which the subscription was active."""
        out = []
        for p_start, p_end in self._active_intervals():
            lo = max(start, p_start)
            hi = end if p_end is None else min(end, p_end)
            if lo < hi:
                out.append((lo, hi))
        return out


def check_window(window_start: datetime, window_end: datetime) -> None:
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValidationFailed("window", (window_start, window_end), "must be timezone-aware")
    if window_end <= window_start:
        raise ValidationFailed("window_end", window_end, "must be after window_start")
    if window_end - window_start > MAX_WINDOW:
        raise ValidationFailed("window", window_end - window_start, f"longer than {MAX_WINDOW}")


def days_touched(spans: Iterable[tuple[datetime, datetime]]) -> int:
    """How many UTC calendar days the spans touch (each day counted once)."""
    days: set[date] = set()
    for lo, hi in spans:
        day = lo.astimezone(UTC).date()
        last = (hi.astimezone(UTC) - timedelta(microseconds=1)).date()
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return len(days)


class Affected(NamedTuple):
    """One subscription an incident hit, with the evidence a claim needs."""

    entry: IndexEntry
    seats: int
    monthly_fee_minor: int
    affected_days: int
    days_in_month: int
    affected_seconds: int


def select_affected(
    entries: Iterable[IndexEntry],
    *,
    service: str,
    window_start: datetime,
    window_end: datetime,
    region: str | None = None,
    customer_region: Callable[[str], str | None] = lambda _customer_id: None,
) -> list[Affected]:
    """Subscriptions to ``service`` active at some time in ``[window_start, window_end)``.

    With a ``region``, a customer whose known region differs is not affected; a customer with no
    region on record is kept (Microsoft decides from the tenant's location). Seats and fee are
    those in effect when the window opened (or when the subscription became active in it);
    affected days count the UTC days touched, at most the days of the window's first month.
    The result is sorted by subscription id.
    """
    check_window(window_start, window_end)
    days_in_month = calendar.monthrange(window_start.year, window_start.month)[1]
    out = []
    for entry in entries:
        if entry.service != service:
            continue
        if region is not None:
            known = customer_region(entry.customer_id)
            if known is not None and known != region:
                continue
        overlap = entry.active_overlap(window_start, window_end)
        if not overlap:
            continue
        first = overlap[0][0]
        seconds = sum(int((hi - lo).total_seconds()) for lo, hi in overlap)
        out.append(
            Affected(
                entry,
                entry.quantity_at(first),
                entry.monthly_fee_at(first),
                min(days_touched(overlap), days_in_month),
                days_in_month,
                seconds,
            )
        )
    out.sort(key=lambda a: a.entry.subscription_id)
    return out


class Excluded(NamedTuple):
    subscription_id: str
    customer_id: str
    reseller_id: str
    reason: str


def allocation_inputs(
    affected: Iterable[Affected],
    distributor_currency: str,
    rates: Mapping[str, Decimal],
    *,
    fx_rates: Mapping[str, Decimal] | None = None,
) -> tuple[list[AffectedSubscription], list[Excluded]]:
    """The allocation's inputs; a subscription billed in a currency without a stated rate to
    the distributor's currency is excluded (and listed), never credited at a guessed rate.

    ``rates`` are distributor units per customer unit; ``fx_rates`` are rates as an approval
    states them, customer units per distributor unit, and win over ``rates``: the allocation
    converts with them exactly and shows their inverse (28 digits) as ``rate_to_distributor``.
    """
    stated = fx_rates or {}
    inputs: list[AffectedSubscription] = []
    excluded: list[Excluded] = []
    for a in affected:
        e = a.entry
        fx_rate: Decimal | None = None
        if e.currency == distributor_currency:
            rate = Decimal(1)
        elif e.currency in stated:
            fx_rate = stated[e.currency]
            if fx_rate <= 0:
                raise ValidationFailed("fx_rates", fx_rate, f"rate for {e.currency} must be > 0")
            rate = Decimal(1) / fx_rate
        elif e.currency in rates:
            rate = rates[e.currency]
        else:
            excluded.append(Excluded(e.subscription_id, e.customer_id, e.reseller_id, "no_fx_rate"))
            continue
        inputs.append(
            AffectedSubscription(
                e.subscription_id,
                e.customer_id,
                e.reseller_id,
                e.service,
                e.currency,
                a.monthly_fee_minor,
                a.affected_days,
                a.days_in_month,
                rate,
                (),
                fx_rate,
            )
        )
    return inputs, excluded
