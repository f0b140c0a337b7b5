"""Renewals: when each notice is due, what renews and at what price, and the approval policy.

Partner Center starts a renewal at 00:00 UTC on the day after the term's last day (the hub's
``term_end`` instant) and may take up to 24 hours to finish it. Notices are counted back from
that instant in the reseller's own time zone, so a 30-day notice arrives at the start of the
reseller's day whatever its offset, month length or leap day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from hub.domain.enums import BillingCycle, Term
from hub.domain.orders import billing_periods_per_term
from hub.domain.price_lists import PricePoint, Promotion, price_on
from hub.domain.reference import PriceListEntry
from hub.domain.subscriptions import Subscription

DEFAULT_LEAD_DAYS: tuple[int, ...] = (30, 7, 1)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} is naive; renewal times must be timezone-aware")
    return at.astimezone(UTC)


class RenewalPolicy(BaseModel):
    """A reseller's renewal settings.

    ``lead_days``: how many days before the renewal each notice goes out. With
    ``approval_required`` a renewal the reseller has not approved ``approval_deadline_days``
    before it gets auto-renew switched off, so nothing renews that nobody reviewed.
    """

    model_config = ConfigDict(frozen=True)

    lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS
    time_zone: str = "UTC"
    approval_required: bool = False
    approval_deadline_days: int = Field(default=2, ge=1, le=60)

    @field_validator("lead_days")
    @classmethod
    def _leads(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("lead_days must name at least one lead time")
        if any(d < 1 or d > 365 for d in value):
            raise ValueError(f"lead days must be between 1 and 365, got {value}")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class NoticeDue(BaseModel):
    """One notice of a term's renewal: ``lead_days`` before it, due at ``due_at`` (UTC)."""

    model_config = ConfigDict(frozen=True)

    lead_days: int
    due_at: AwareDatetime


def notice_due_at(renews_at: datetime, lead_days: int, time_zone: str) -> datetime:
    """Start of the reseller's local day ``lead_days`` calendar days before the renewal day.

    The renewal day is the local date of ``renews_at``; calendar days (not 24-hour steps) keep
    the notice at local midnight across daylight-saving changes. A local midnight a DST jump
    skips resolves to the first instant of that day (zoneinfo's ``fold=0``).
    """
    zone = ZoneInfo(time_zone)
    local_day = _utc(renews_at).astimezone(zone).date() - timedelta(days=lead_days)
    return datetime.combine(local_day, time(0), tzinfo=zone).astimezone(UTC)


def notice_schedule(renews_at: datetime, policy: RenewalPolicy) -> tuple[NoticeDue, ...]:
    """Every notice of one renewal, earliest first."""
    return tuple(
        NoticeDue(lead_days=lead, due_at=notice_due_at(renews_at, lead, policy.time_zone))
        for lead in policy.lead_days
    )


def notices_to_send(
    schedule: Sequence[NoticeDue], now: datetime, sent: Iterable[int], renews_at: datetime
) -> tuple[NoticeDue, ...]:
    """The notices to send at ``now``: each at most once, and only the latest of those overdue.

    A subscription first seen 10 days before its renewal gets its 7-day notice when due, not a
    30-day notice late; a scheduler that fell behind sends the one notice that still describes
    the time left. Nothing is sent at or after the renewal.
    """
    now_utc = _utc(now)
    if now_utc >= _utc(renews_at):
        return ()
    done = set(sent)
    due = [n for n in schedule if n.due_at <= now_utc]
    if not due:
        return ()
    latest = min(due, key=lambda n: n.lead_days)
    if any(d <= latest.lead_days for d in done):  # this one, or a later one, went out
        return ()
    return (latest,)


def superseded(schedule: Sequence[NoticeDue], sent: NoticeDue) -> tuple[int, ...]:
    """Leads that will never be sent once ``sent`` went out (earlier notices it replaced)."""
    return tuple(n.lead_days for n in schedule if n.lead_days > sent.lead_days)


def approval_deadline(renews_at: datetime, policy: RenewalPolicy) -> datetime:
    """When an unapproved renewal gets auto-renew switched off (approval policy only)."""
    return _utc(renews_at) - timedelta(days=policy.approval_deadline_days)


def must_switch_off(
    renews_at: datetime, policy: RenewalPolicy, now: datetime, *, approved: bool, auto_renew: bool
) -> bool:
    """Whether auto-renew must go off now: approval required, none given, deadline reached."""
    if not policy.approval_required or approved or not auto_renew:
        return False
    now_utc = _utc(now)
    return approval_deadline(renews_at, policy) <= now_utc < _utc(renews_at)


class NextTerm(BaseModel):
    """What the next term will be: the current values unless a scheduled change says otherwise."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    sku_id: str
    availability_id: str
    quantity: int = Field(ge=1)
    term: Term
    billing_cycle: BillingCycle
    custom_term_end_date: date | None = None

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"


def current_terms(sub: Subscription) -> NextTerm:
    """The next term with nothing scheduled: same SKU, quantity, term and billing cycle."""
    return NextTerm(
        product_id=sub.product_id,
        sku_id=sub.sku_id,
        availability_id=sub.availability_id,
        quantity=sub.quantity,
        term=sub.term,
        billing_cycle=sub.billing_cycle,
    )


class RenewalQuote(BaseModel):
    """What a subscription renews as, at what price, against what it pays today.

    Prices are per seat per billing period in minor units; ``term_value`` is the whole next
    term's commitment (seats x price x periods), the figure credit exposure counts.
    """

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    reseller_id: str
    customer_id: str
    renews_at: AwareDatetime
    next_term: NextTerm
    currency: str
    unit_price_minor: int
    unit_cost_minor: int
    promotion_id: str | None
    current_unit_price_minor: int
    current_quantity: int
    unit_change_minor: int
    change_bps: int | None
    term_value_minor: int
    current_term_value_minor: int
    changes_until: AwareDatetime
    approve_by: AwareDatetime | None


def change_bps(old_minor: int, new_minor: int) -> int | None:
    """The change from ``old`` to ``new`` in basis points, rounded toward zero; None from 0."""
    if old_minor == 0:
        return None
    diff = (new_minor - old_minor) * 10_000
    quotient = abs(diff) // old_minor
    return quotient if diff >= 0 else -quotient


def quote(
    sub: Subscription,
    next_term: NextTerm,
    *,
    entries: Iterable[PriceListEntry],
    promotions: Iterable[Promotion] = (),
    currency: str,
    markup_bps: int,
    current_unit_price_minor: int,
    policy: RenewalPolicy,
) -> RenewalQuote:
    """The renewal of ``sub`` as ``next_term``, priced from the list in force on renewal day.

    Raises ``BusinessRuleViolation`` (``NoPrice``) when no price is in force that day.
    """
    renews_at = _utc(sub.term_end)
    point: PricePoint = price_on(
        entries,
        promotions,
        product_id=next_term.product_id,
        sku_id=next_term.sku_id,
        availability_id=next_term.availability_id,
        term=next_term.term,
        billing_cycle=next_term.billing_cycle,
        currency=currency,
        on=renews_at.date(),
        markup_bps=markup_bps,
    )
    periods = billing_periods_per_term(next_term.term, next_term.billing_cycle)
    current_periods = billing_periods_per_term(sub.term, sub.billing_cycle)
    return RenewalQuote(
        subscription_id=sub.subscription_id,
        reseller_id=sub.reseller_id,
        customer_id=sub.customer_id,
        renews_at=renews_at,
        next_term=next_term,
        currency=currency,
        unit_price_minor=point.unit_price_minor,
        unit_cost_minor=point.unit_cost_minor,
        promotion_id=point.promotion_id,
        current_unit_price_minor=current_unit_price_minor,
        current_quantity=sub.quantity,
        unit_change_minor=point.unit_price_minor - current_unit_price_minor,
        change_bps=change_bps(current_unit_price_minor, point.unit_price_minor)
        if next_term.billing_cycle == sub.billing_cycle
        else None,
        term_value_minor=point.unit_price_minor * next_term.quantity * periods,
        current_term_value_minor=current_unit_price_minor * sub.quantity * current_periods,
        changes_until=renews_at,
        approve_by=approval_deadline(renews_at, policy) if policy.approval_required else None,
    )
