"""The subscription lifecycle under new-commerce rules, including the 7-day cancellation window.

Every change returns either a ``Change`` (the new state plus the fact billing needs) or a
``Rejected`` with a code and a reason a reseller can act on; nothing here raises for a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.domain.orders import ALLOWED_BILLING_CYCLES, CYCLE_MONTHS, TERM_MONTHS, Order, OrderLine
from hub.domain.proration import add_months, cycle_start, prorate

# Microsoft states the window as 7 days or 168 hours; it is elapsed time, so it is computed in
# UTC and a daylight-saving change in the reseller's zone neither shortens nor lengthens it.
CANCELLATION_WINDOW = timedelta(days=7)

_S = SubscriptionStatus
# Which statuses a lifecycle request may move a subscription between. Pending moves on through
# provisioning and disabled through Microsoft, not through reseller requests; expired and
# deleted are terminal.
ALLOWED_TRANSITIONS: Mapping[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    _S.ACTIVE: frozenset({_S.ACTIVE, _S.SUSPENDED, _S.DELETED, _S.EXPIRED}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.DELETED, _S.EXPIRED}),
    _S.PENDING: frozenset(),
    _S.DISABLED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.DELETED: frozenset(),
}


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} is naive; lifecycle times must be timezone-aware")
    return at.astimezone(UTC)


def cancellation_window_end(window_start: datetime) -> datetime:
    """The last instant (UTC) a cancellation or seat reduction is accepted: start + 168 hours.

    The window is closed at both ends: a request at exactly ``window_start + 7 days`` is inside,
    one microsecond later is outside.
    """
    return _utc(window_start) + CANCELLATION_WINDOW


def within_cancellation_window(window_start: datetime, at: datetime) -> bool:
    """Whether ``at`` (any time zone) falls in ``[window_start, window_start + 7 days]``."""
    return _utc(window_start) <= _utc(at) <= cancellation_window_end(window_start)


class SeatBatch(BaseModel):
    """Seats that share one refund deadline: Partner Center's
    ``refundableQuantity.details[]`` (``quantity``, ``allowUntilDateTime``)."""

    model_config = ConfigDict(frozen=True)

    quantity: int = Field(ge=1)
    allow_until: AwareDatetime


class Subscription(BaseModel):
    """A Microsoft subscription as the hub tracks it; ``window_start`` is purchase or renewal.

    ``seat_batches`` are the seats still refundable, each batch until 7 days after it was
    added (at purchase, at renewal or mid-term; "New commerce cancellation policy").
    ``cancellation_allowed_until_date`` is Partner Center's own deadline when it is known
    (after a renewal the window opens when the renewal completes, up to a day after the term
    end); it wins over the one computed from ``window_start``.
    """

    model_config = ConfigDict(frozen=True)

    subscription_id: str = Field(min_length=1)
    order_id: str
    reseller_id: str
    customer_id: str
    product_id: str
    sku_id: str
    availability_id: str
    quantity: int = Field(ge=1)
    term: Term
    billing_cycle: BillingCycle
    status: SubscriptionStatus
    auto_renew: bool = True
    term_start: AwareDatetime
    term_end: AwareDatetime
    window_start: AwareDatetime
    seat_batches: tuple[SeatBatch, ...] = ()
    cancellation_allowed_until_date: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.term_start < self.term_end:
            raise ValueError("term_start must be before term_end")
        if not self.term_start <= self.window_start < self.term_end:
            raise ValueError("window_start must fall inside the term")
        if self.billing_cycle not in ALLOWED_BILLING_CYCLES[self.term]:
            raise ValueError(f"term {self.term} cannot be billed {self.billing_cycle}")
        return self

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"

    @property
    def cancellation_allowed_until(self) -> datetime:
        """Partner Center's ``cancellationAllowedUntilDate``: its own when known, else 7 days
        after the purchase or renewal."""
        if self.cancellation_allowed_until_date is not None:
            return _utc(self.cancellation_allowed_until_date)
        return cancellation_window_end(self.window_start)

    def cancellable(self, at: datetime) -> bool:
        """Whether ``at`` is inside the cancellation window (both ends included)."""
        return _utc(self.window_start) <= _utc(at) <= self.cancellation_allowed_until

    def refundable_seats(self, at: datetime) -> int:
        """Seats that may be removed with a refund at ``at``: every batch whose deadline has not
        passed; without batches, every seat while the cancellation window is open."""
        if not self.seat_batches:
            return self.quantity if self.cancellable(at) else 0
        at_utc = _utc(at)
        return sum(b.quantity for b in self.seat_batches if at_utc <= _utc(b.allow_until))


def _batch(quantity: int, added_at: datetime) -> SeatBatch:
    return SeatBatch(quantity=quantity, allow_until=cancellation_window_end(added_at))


def release_seats(
    batches: tuple[SeatBatch, ...], seats: int, at: datetime
) -> tuple[SeatBatch, ...]:
    """The batches left after removing ``seats``, newest first, as Partner Center releases them
    (the latest deadline is the one the customer is still surely within); lapsed ones drop."""
    at_utc = _utc(at)
    live = sorted(
        (b for b in batches if at_utc <= _utc(b.allow_until)),
        key=lambda b: b.allow_until,
        reverse=True,
    )
    kept: list[SeatBatch] = []
    for batch in live:
        taken = min(batch.quantity, seats)
        seats -= taken
        if batch.quantity > taken:
            kept.append(batch.model_copy(update={"quantity": batch.quantity - taken}))
    return tuple(sorted(kept, key=lambda b: b.allow_until))


def with_partner_center_windows(
    sub: Subscription,
    refundable: Iterable[tuple[int, datetime]],
    cancellation_allowed_until: datetime | None,
) -> Subscription:
    """``sub`` with the windows Partner Center reports for it, which win over the hub's own:
    ``refundableQuantity.details[]`` as (quantity, allowUntilDateTime) pairs and
    ``cancellationAllowedUntilDate``."""
    batches = tuple(
        SeatBatch(quantity=q, allow_until=_utc(until)) for q, until in refundable if q > 0
    )
    return sub.model_copy(
        update={
            "seat_batches": batches or sub.seat_batches,
            "cancellation_allowed_until_date": cancellation_allowed_until
            or sub.cancellation_allowed_until_date,
        }
    )


def provision(
    order: Order,
    line: OrderLine,
    subscription_id: str,
    provisioned_at: datetime,
    *,
    auto_renew: bool = True,
) -> Subscription:
    """The active subscription a provisioned order line becomes; its window opens at purchase."""
    start = _utc(provisioned_at)
    return Subscription(
        subscription_id=subscription_id,
        order_id=order.order_id,
        reseller_id=order.reseller_id,
        customer_id=order.customer_id,
        product_id=line.product_id,
        sku_id=line.sku_id,
        availability_id=line.availability_id,
        quantity=line.quantity,
        term=line.term,
        billing_cycle=line.billing_cycle,
        status=SubscriptionStatus.ACTIVE,
        auto_renew=auto_renew,
        term_start=start,
        term_end=add_months(start, TERM_MONTHS[line.term]),
        window_start=start,
        seat_batches=(_batch(line.quantity, start),),
    )


def billing_period(subscription: Subscription, at: datetime) -> tuple[date, date]:
    """The first and last UTC day (both included) of the billing period that contains ``at``.

    Periods are counted from the term start (not chained) so a 31st start does not drift.
    """
    at_utc = _utc(at)
    step = CYCLE_MONTHS[subscription.billing_cycle]
    start = _utc(subscription.term_start)
    k = 0
    while cycle_start(start, (k + 1) * step) <= at_utc:
        k += 1
    first = cycle_start(start, k * step).date()
    return first, cycle_start(start, (k + 1) * step).date() - timedelta(days=1)


class Refund(BaseModel):
    """Seats given back inside the window, and the days of the billing period they refund."""

    model_config = ConfigDict(frozen=True)

    quantity: int = Field(ge=1)
    period_start: date
    period_end: date  # the period's last day, included (Partner Center's ChargeEndDate)
    from_day: date  # first refunded day: the UTC day of the change


def refund_minor(refund: Refund, unit_price_minor: int) -> int:
    """The refund for ``refund`` when a seat costs ``unit_price_minor`` per billing period."""
    return prorate(
        unit_price_minor * refund.quantity, refund.period_start, refund.period_end, refund.from_day
    )


class LifecycleKind(StrEnum):
    QUANTITY_INCREASED = "QuantityIncreased"
    QUANTITY_DECREASED = "QuantityDecreased"
    SUSPENDED = "Suspended"
    REACTIVATED = "Reactivated"
    CANCELLED = "Cancelled"
    AUTO_RENEW_ENABLED = "AutoRenewEnabled"
    AUTO_RENEW_DISABLED = "AutoRenewDisabled"
    RENEWED = "Renewed"
    EXPIRED = "Expired"


# Suspension, reactivation and auto-renew switches change no charge: suspended is still billed.
_CHARGE_TYPES: Mapping[LifecycleKind, ChargeType] = {
    LifecycleKind.QUANTITY_INCREASED: ChargeType.ADD_QUANTITY,
    LifecycleKind.QUANTITY_DECREASED: ChargeType.REMOVE_QUANTITY,
    LifecycleKind.CANCELLED: ChargeType.CANCEL_IMMEDIATE,
    LifecycleKind.RENEWED: ChargeType.RENEW,
}


class LifecycleFact(BaseModel):
    """What happened to a subscription, when it takes effect, and what billing must do."""

    model_config = ConfigDict(frozen=True)

    kind: LifecycleKind
    subscription_id: str
    order_id: str
    reseller_id: str
    customer_id: str
    effective_at: AwareDatetime
    old_status: SubscriptionStatus
    new_status: SubscriptionStatus
    old_quantity: int
    new_quantity: int
    charge_type: ChargeType | None
    refund: Refund | None = None


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription: Subscription
    fact: LifecycleFact


class ChangeRejectionCode(StrEnum):
    INVALID_TRANSITION = "InvalidTransition"
    CANCELLATION_WINDOW_CLOSED = "CancellationWindowClosed"
    SEAT_REDUCTION_WINDOW_CLOSED = "SeatReductionWindowClosed"
    QUANTITY_OUT_OF_RANGE = "QuantityOutOfRange"
    NO_CHANGE = "NoChange"
    REQUEST_PREDATES_TERM = "RequestPredatesCurrentTerm"
    TERM_ENDED = "TermEnded"
    TERM_NOT_ENDED = "TermNotEnded"
    AUTO_RENEW_DISABLED = "AutoRenewDisabled"


class Rejected(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    code: ChangeRejectionCode
    reason: str
    requested_at: AwareDatetime


def _iso(at: datetime) -> str:
    return _utc(at).isoformat()


def _reject(sub: Subscription, at: datetime, code: ChangeRejectionCode, reason: str) -> Rejected:
    return Rejected(subscription_id=sub.subscription_id, code=code, reason=reason, requested_at=at)


def _guard(
    sub: Subscription, at: datetime, action: str, allowed_from: frozenset[SubscriptionStatus]
) -> Rejected | None:
    """The checks every mid-term request shares: status, and that ``at`` is in this term."""
    at_utc = _utc(at)
    if sub.status not in allowed_from:
        terminal = " (a final status)" if not ALLOWED_TRANSITIONS[sub.status] else ""
        return _reject(
            sub,
            at,
            ChangeRejectionCode.INVALID_TRANSITION,
            f"cannot {action} a subscription that is {sub.status}{terminal}",
        )
    if at_utc < sub.window_start:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.REQUEST_PREDATES_TERM,
            f"the request ({_iso(at)}) predates the current purchase/renewal "
            f"({_iso(sub.window_start)}); re-send it if it is still wanted",
        )
    if at_utc >= sub.term_end:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.TERM_ENDED,
            f"the term ended at {_iso(sub.term_end)}; the subscription renews or expires first",
        )
    return None


def _change(
    sub: Subscription, at: datetime, kind: LifecycleKind, refund: Refund | None, **updates: Any
) -> Change:
    new = Subscription.model_validate({**sub.model_dump(), **updates})
    fact = LifecycleFact(
        kind=kind,
        subscription_id=sub.subscription_id,
        order_id=sub.order_id,
        reseller_id=sub.reseller_id,
        customer_id=sub.customer_id,
        effective_at=_utc(at),
        old_status=sub.status,
        new_status=new.status,
        old_quantity=sub.quantity,
        new_quantity=new.quantity,
        charge_type=_CHARGE_TYPES.get(kind),
        refund=refund,
    )
    return Change(subscription=new, fact=fact)


def _refund(sub: Subscription, at: datetime, quantity: int) -> Refund:
    start, end = billing_period(sub, at)
    return Refund(quantity=quantity, period_start=start, period_end=end, from_day=_utc(at).date())


def _window_closed_reason(sub: Subscription, at: datetime, what: str) -> str:
    return (
        f"{what} is possible only until {_iso(sub.cancellation_allowed_until)} (7 days after "
        f"the purchase or renewal at {_iso(sub.window_start)}); the request came at {_iso(at)}. "
        "Turn off auto-renew to end the subscription at the term end "
        f"({_iso(sub.term_end)})"
    )


def change_quantity(
    sub: Subscription, at: datetime, new_quantity: int, *, max_quantity: int | None = None
) -> Change | Rejected:
    """Add seats at any time while active; remove seats only inside the 7-day window."""
    if (rejected := _guard(sub, at, "change the quantity of", frozenset({_S.ACTIVE}))) is not None:
        return rejected
    if new_quantity == sub.quantity:
        return _reject(
            sub, at, ChangeRejectionCode.NO_CHANGE, f"quantity is already {new_quantity}"
        )
    if new_quantity < 1:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.QUANTITY_OUT_OF_RANGE,
            f"quantity {new_quantity} is below 1; cancel the subscription to remove every seat",
        )
    if max_quantity is not None and new_quantity > max_quantity:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.QUANTITY_OUT_OF_RANGE,
            f"quantity {new_quantity} is above the maximum of {max_quantity}",
        )
    if new_quantity > sub.quantity:
        added = new_quantity - sub.quantity
        batches = (*sub.seat_batches, _batch(added, _utc(at))) if sub.seat_batches else ()
        return _change(
            sub,
            at,
            LifecycleKind.QUANTITY_INCREASED,
            None,
            quantity=new_quantity,
            seat_batches=batches,
        )
    removed = sub.quantity - new_quantity
    removable = sub.refundable_seats(at)
    if removed > removable:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.SEAT_REDUCTION_WINDOW_CLOSED,
            _seat_window_reason(sub, at, removed, removable),
        )
    refund = _refund(sub, at, removed)
    return _change(
        sub,
        at,
        LifecycleKind.QUANTITY_DECREASED,
        refund,
        quantity=new_quantity,
        seat_batches=release_seats(sub.seat_batches, removed, at),
    )


def _seat_window_reason(sub: Subscription, at: datetime, removed: int, removable: int) -> str:
    if not sub.seat_batches:
        return _window_closed_reason(sub, at, "reducing seats")
    deadlines = ", ".join(
        f"{b.quantity} until {_iso(b.allow_until)}"
        for b in sub.seat_batches
        if _utc(at) <= _utc(b.allow_until)
    )
    return (
        f"removing {removed} seats at {_iso(at)}: only {removable} may still be removed "
        f"({deadlines or 'none'}); seats can be reduced only within 7 days of purchase, "
        "renewal or their addition"
    )


def suspend(sub: Subscription, at: datetime) -> Change | Rejected:
    """Active -> suspended. Microsoft keeps billing a suspended subscription."""
    if (rejected := _guard(sub, at, "suspend", frozenset({_S.ACTIVE}))) is not None:
        return rejected
    return _change(sub, at, LifecycleKind.SUSPENDED, None, status=_S.SUSPENDED)


def reactivate(sub: Subscription, at: datetime) -> Change | Rejected:
    """Suspended -> active."""
    if (rejected := _guard(sub, at, "reactivate", frozenset({_S.SUSPENDED}))) is not None:
        return rejected
    return _change(sub, at, LifecycleKind.REACTIVATED, None, status=_S.ACTIVE)


def cancel(sub: Subscription, at: datetime) -> Change | Rejected:
    """Active or suspended -> deleted, only inside the 7-day window, refunding unused days."""
    allowed = frozenset({_S.ACTIVE, _S.SUSPENDED})
    if (rejected := _guard(sub, at, "cancel", allowed)) is not None:
        return rejected
    if not sub.cancellable(at):
        return _reject(
            sub,
            at,
            ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED,
            _window_closed_reason(sub, at, "cancelling"),
        )
    refund = _refund(sub, at, sub.quantity)
    return _change(sub, at, LifecycleKind.CANCELLED, refund, status=_S.DELETED, auto_renew=False)


def set_auto_renew(sub: Subscription, at: datetime, enabled: bool) -> Change | Rejected:
    """Switch auto-renew on or off for an active subscription; takes effect at the term end."""
    action = "change auto-renew of"
    if (rejected := _guard(sub, at, action, frozenset({_S.ACTIVE}))) is not None:
        return rejected
    if sub.auto_renew == enabled:
        state = "on" if enabled else "off"
        return _reject(sub, at, ChangeRejectionCode.NO_CHANGE, f"auto-renew is already {state}")
    kind = LifecycleKind.AUTO_RENEW_ENABLED if enabled else LifecycleKind.AUTO_RENEW_DISABLED
    return _change(sub, at, kind, None, auto_renew=enabled)


def _term_not_ended(sub: Subscription, at: datetime) -> Rejected | None:
    if _utc(at) < sub.term_end:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.TERM_NOT_ENDED,
            f"the term runs until {_iso(sub.term_end)}",
        )
    return None


def renew(sub: Subscription, at: datetime) -> Change | Rejected:
    """An active auto-renewing subscription starts a new term at its term end.

    The new term starts exactly at the old term end (whenever ``at`` is processed), and the
    7-day cancellation window restarts there.
    """
    if sub.status is not _S.ACTIVE:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.INVALID_TRANSITION,
            f"only an active subscription renews; this one is {sub.status}",
        )
    if not sub.auto_renew:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.AUTO_RENEW_DISABLED,
            "auto-renew is off; the subscription expires at its term end",
        )
    if (rejected := _term_not_ended(sub, at)) is not None:
        return rejected
    start = sub.term_end
    return _change(
        sub,
        start,
        LifecycleKind.RENEWED,
        None,
        term_start=start,
        term_end=add_months(start, TERM_MONTHS[sub.term]),
        window_start=start,
        seat_batches=(_batch(sub.quantity, start),) if sub.seat_batches else (),
        cancellation_allowed_until_date=None,
    )


def expire(sub: Subscription, at: datetime) -> Change | Rejected:
    """A subscription that does not renew (auto-renew off, or suspended) ends at its term end."""
    if sub.status not in {_S.ACTIVE, _S.SUSPENDED}:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.INVALID_TRANSITION,
            f"cannot expire a subscription that is {sub.status}",
        )
    if sub.status is _S.ACTIVE and sub.auto_renew:
        return _reject(
            sub,
            at,
            ChangeRejectionCode.INVALID_TRANSITION,
            "auto-renew is on; the subscription renews at its term end",
        )
    if (rejected := _term_not_ended(sub, at)) is not None:
        return rejected
    return _change(sub, sub.term_end, LifecycleKind.EXPIRED, None, status=_S.EXPIRED)


ChangeRequestKind = Literal["change_quantity", "suspend", "reactivate", "cancel", "set_auto_renew"]


def request_change(
    sub: Subscription,
    kind: ChangeRequestKind,
    at: datetime,
    *,
    new_quantity: int | None = None,
    auto_renew: bool | None = None,
    max_quantity: int | None = None,
) -> Change | Rejected:
    """Apply a reseller's change request of ``kind`` (the request contract's names) at ``at``."""
    if kind == "change_quantity":
        if new_quantity is None:
            raise ValueError("change_quantity needs new_quantity")
        return change_quantity(sub, at, new_quantity, max_quantity=max_quantity)
    if kind == "suspend":
        return suspend(sub, at)
    if kind == "reactivate":
        return reactivate(sub, at)
    if kind == "cancel":
        return cancel(sub, at)
    if auto_renew is None:
        raise ValueError("set_auto_renew needs auto_renew")
    return set_auto_renew(sub, at, auto_renew)
