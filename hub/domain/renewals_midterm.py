"""Mid-term commercial changes as Partner Center bills them, and co-terming of new purchases.

Microsoft ("Manage term duration and billing frequency", "Manage billing frequency"):
- a billing-frequency change resets the term (a new term of the same length starts on the day
  of the change), resets the price to the current price list and removes any promotion; the
  invoice shows a prorated credit for the rest of the current billing period and a new charge;
  triennial terms can no longer change billing frequency mid-term;
- a term may be lengthened mid-term (never shortened): a new term starts on the day of the
  change at the current price, with the same prorated credit;
- an upgrade moves to another SKU of the family: the term end stays, the new SKU is priced from
  the current list without promotion, the rest of the billing period is credited at the old
  price and charged at the new one.
Every change deletes scheduled next-term changes (``renewals_scheduled.deletion_reason``).

Proration is daily, both ends of the period included (``hub.domain.proration.prorate``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.domain.orders import ALLOWED_BILLING_CYCLES, TERM_MONTHS
from hub.domain.proration import add_months, prorate
from hub.domain.reference import CatalogItem
from hub.domain.subscriptions import Subscription, billing_period


class MidTermRejectionCode(StrEnum):
    NOT_ACTIVE = "SubscriptionNotActive"
    NO_CHANGE = "NoChange"
    SHORTER_TERM = "ShorterTermNotAllowed"
    PLAN_NOT_ALLOWED = "TermBillingCycleNotAllowed"
    TRIENNIAL_FREQUENCY = "TriennialBillingFrequencyLocked"
    NOT_SAME_FAMILY = "NotSameFamily"
    NOT_AN_UPGRADE = "NotAnUpgrade"
    TERM_ENDED = "TermEnded"


class MidTermRejected(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: MidTermRejectionCode
    reason: str


class ChargeLine(BaseModel):
    """One rated line of a change: negative for a credit. Dates as Partner Center's
    ChargeStartDate/ChargeEndDate (both included)."""

    model_config = ConfigDict(frozen=True)

    charge_type: ChargeType
    catalog_item_id: str
    quantity: int
    unit_price_minor: int
    charge_start: date
    charge_end: date
    amount_minor: int


class MidTermChange(BaseModel):
    """The subscription after the change, the lines it bills, and what it removed."""

    model_config = ConfigDict(frozen=True)

    subscription: Subscription
    unit_price_minor: int
    lines: tuple[ChargeLine, ...]
    promotion_removed: str | None
    price_reset: bool


def _reject(code: MidTermRejectionCode, reason: str) -> MidTermRejected:
    return MidTermRejected(code=code, reason=reason)


def _day(at: datetime) -> date:
    if at.tzinfo is None:
        raise ValueError(f"{at!r} is naive; change times must be timezone-aware")
    return at.astimezone(UTC).date()


def _active(sub: Subscription, at: datetime) -> MidTermRejected | None:
    if sub.status is not SubscriptionStatus.ACTIVE:
        return _reject(
            MidTermRejectionCode.NOT_ACTIVE,
            f"only an active subscription can change mid-term; this one is {sub.status}",
        )
    if at.astimezone(UTC) >= sub.term_end:
        return _reject(
            MidTermRejectionCode.TERM_ENDED,
            f"the term ended at {sub.term_end.isoformat()}; schedule the change for renewal",
        )
    return None


def remaining_credit(sub: Subscription, at: datetime, unit_price_minor: int) -> ChargeLine:
    """The credit for the rest of the current billing period, from the change day on."""
    start, end = billing_period(sub, at)
    amount = prorate(unit_price_minor * sub.quantity, start, end, _day(at))
    return ChargeLine(
        charge_type=ChargeType.CHANGE_BILLING_PLAN,
        catalog_item_id=sub.catalog_item_id,
        quantity=sub.quantity,
        unit_price_minor=-unit_price_minor,
        charge_start=max(start, _day(at)),
        charge_end=end,
        amount_minor=-amount,
    )


def _restart(
    sub: Subscription,
    at: datetime,
    *,
    term: Term,
    cycle: BillingCycle,
    new_unit_price_minor: int,
    old_unit_price_minor: int,
    charge_type: ChargeType,
    promotion_id: str | None,
) -> MidTermChange:
    """A new term of ``term`` starting on the change day (00:00 UTC), billed ``cycle``."""
    day = _day(at)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    new = sub.model_copy(
        update={
            "term": term,
            "billing_cycle": cycle,
            "term_start": start,
            "term_end": add_months(start, TERM_MONTHS[term]),
            "window_start": start,
            "seat_batches": (),
            "cancellation_allowed_until_date": None,
        }
    )
    credit = remaining_credit(sub, at, old_unit_price_minor).model_copy(
        update={"charge_type": charge_type}
    )
    first_start, first_end = billing_period(new, start)
    charge = ChargeLine(
        charge_type=charge_type,
        catalog_item_id=new.catalog_item_id,
        quantity=new.quantity,
        unit_price_minor=new_unit_price_minor,
        charge_start=first_start,
        charge_end=first_end,
        amount_minor=new_unit_price_minor * new.quantity,
    )
    return MidTermChange(
        subscription=Subscription.model_validate(new.model_dump()),
        unit_price_minor=new_unit_price_minor,
        lines=(credit, charge),
        promotion_removed=promotion_id,
        price_reset=True,
    )


def change_billing_frequency(
    sub: Subscription,
    at: datetime,
    new_cycle: BillingCycle,
    *,
    old_unit_price_minor: int,
    new_unit_price_minor: int,
    promotion_id: str | None = None,
) -> MidTermChange | MidTermRejected:
    """Annual to monthly or back, mid-term: term and price reset, promotion removed.

    ``new_unit_price_minor`` is the current list price (without promotion) per seat per new
    billing period.
    """
    if (rejected := _active(sub, at)) is not None:
        return rejected
    if new_cycle == sub.billing_cycle:
        return _reject(MidTermRejectionCode.NO_CHANGE, f"it is already billed {new_cycle}")
    if sub.term is Term.P3Y:
        return _reject(
            MidTermRejectionCode.TRIENNIAL_FREQUENCY,
            "Microsoft does not change a triennial term's billing frequency mid-term (since "
            "1 April 2025); schedule it for the renewal",
        )
    if new_cycle not in ALLOWED_BILLING_CYCLES[sub.term]:
        return _reject(
            MidTermRejectionCode.PLAN_NOT_ALLOWED, f"term {sub.term} cannot be billed {new_cycle}"
        )
    return _restart(
        sub,
        at,
        term=sub.term,
        cycle=new_cycle,
        new_unit_price_minor=new_unit_price_minor,
        old_unit_price_minor=old_unit_price_minor,
        charge_type=ChargeType.CHANGE_BILLING_PLAN,
        promotion_id=promotion_id,
    )


def term_change_refusal(
    sub: Subscription, at: datetime, new_term: Term, new_cycle: BillingCycle
) -> MidTermRejected | None:
    """Why ``sub`` cannot take ``new_term`` billed ``new_cycle`` now (before any price is
    looked up), or None."""
    if (rejected := _active(sub, at)) is not None:
        return rejected
    if TERM_MONTHS[new_term] <= TERM_MONTHS[sub.term]:
        return _reject(
            MidTermRejectionCode.SHORTER_TERM
            if TERM_MONTHS[new_term] < TERM_MONTHS[sub.term]
            else MidTermRejectionCode.NO_CHANGE,
            f"a term can only grow mid-term ({sub.term} to {new_term} is not); a shorter term "
            "can be scheduled for the renewal",
        )
    if new_cycle not in ALLOWED_BILLING_CYCLES[new_term]:
        return _reject(
            MidTermRejectionCode.PLAN_NOT_ALLOWED, f"term {new_term} cannot be billed {new_cycle}"
        )
    return None


def extend_term(
    sub: Subscription,
    at: datetime,
    new_term: Term,
    new_cycle: BillingCycle,
    *,
    old_unit_price_minor: int,
    new_unit_price_minor: int,
    promotion_id: str | None = None,
) -> MidTermChange | MidTermRejected:
    """A longer term, mid-term (P1M to P1Y, P1Y to P3Y): a new term starts on the change day."""
    if (rejected := term_change_refusal(sub, at, new_term, new_cycle)) is not None:
        return rejected
    return _restart(
        sub,
        at,
        term=new_term,
        cycle=new_cycle,
        new_unit_price_minor=new_unit_price_minor,
        old_unit_price_minor=old_unit_price_minor,
        charge_type=ChargeType.EXTEND_TERM,
        promotion_id=promotion_id,
    )


def upgrade(
    sub: Subscription,
    at: datetime,
    *,
    current: CatalogItem,
    target: CatalogItem,
    old_unit_price_minor: int,
    new_unit_price_minor: int,
    promotion_id: str | None = None,
) -> MidTermChange | MidTermRejected:
    """Move to a higher SKU of the family for the rest of the term (the term end is kept).

    An upgrade is a move to a SKU priced higher on the current list; a downgrade waits for the
    renewal (a scheduled change).
    """
    if (rejected := _active(sub, at)) is not None:
        return rejected
    if target.catalog_item_id == current.catalog_item_id:
        return _reject(MidTermRejectionCode.NO_CHANGE, "the target is the current SKU")
    if target.service != current.service:
        return _reject(
            MidTermRejectionCode.NOT_SAME_FAMILY,
            f"{target.catalog_item_id} is not in the family of {current.catalog_item_id}",
        )
    if new_unit_price_minor <= old_unit_price_minor:
        return _reject(
            MidTermRejectionCode.NOT_AN_UPGRADE,
            f"{target.catalog_item_id} is not priced above the current SKU; a downgrade can be "
            "scheduled for the renewal",
        )
    day = _day(at)
    start, end = billing_period(sub, at)
    credit = remaining_credit(sub, at, old_unit_price_minor).model_copy(
        update={"charge_type": ChargeType.CONVERT}
    )
    new = sub.model_copy(
        update={
            "product_id": target.product_id,
            "sku_id": target.sku_id,
            "availability_id": target.availability_id,
        }
    )
    charge = ChargeLine(
        charge_type=ChargeType.CONVERT,
        catalog_item_id=target.catalog_item_id,
        quantity=sub.quantity,
        unit_price_minor=new_unit_price_minor,
        charge_start=max(start, day),
        charge_end=end,
        amount_minor=prorate(new_unit_price_minor * sub.quantity, start, end, day),
    )
    return MidTermChange(
        subscription=new,
        unit_price_minor=new_unit_price_minor,
        lines=(credit, charge),
        promotion_removed=promotion_id,
        price_reset=True,
    )


def natural_term_last_day(start: date, term: Term) -> date:
    """The last day of a term starting on ``start`` without a custom end date."""
    return add_months(start, TERM_MONTHS[term]) - timedelta(days=1)


def coterm_options(start: date, term: Term, existing_last_days: list[date]) -> tuple[date, ...]:
    """Custom term end dates a new purchase may take ("Custom term end dates"): the last day
    of an existing subscription of the customer that ends within the new term, or a calendar
    month's end; the natural end is always allowed. Sorted, no duplicates."""
    natural = natural_term_last_day(start, term)
    options = {d for d in existing_last_days if start <= d <= natural}
    month_end = natural.replace(day=1) - timedelta(days=1)
    if natural == add_months(natural.replace(day=1), 1) - timedelta(days=1):
        month_end = natural
    if month_end >= start:
        options.add(month_end)
    options.add(natural)
    return tuple(sorted(options))


def coterm_first_charge(
    term_price_minor: int, start: date, term: Term, custom_last_day: date
) -> int:
    """The first term's charge when it ends early on ``custom_last_day``: the full term's price
    prorated by days, both ends included."""
    natural = natural_term_last_day(start, term)
    if not start <= custom_last_day <= natural:
        raise ValueError(f"custom end {custom_last_day} is outside {start}..{natural}")
    unused = prorate(term_price_minor, start, natural, custom_last_day + timedelta(days=1))
    return term_price_minor - unused


# Each mid-term change's charge type, as Microsoft writes it, and whether it starts a new term
# on the day of the change (a billing frequency or a longer term; an upgrade keeps the term).
MIDTERM_CHARGE_TYPES: dict[str, ChargeType] = {
    "billing_frequency": ChargeType.CHANGE_BILLING_PLAN,
    "term": ChargeType.EXTEND_TERM,
    "upgrade": ChargeType.CONVERT,
}


def restarts_term(kind: str) -> bool:
    """Whether a mid-term change of ``kind`` starts a new term on the change day."""
    return kind in ("billing_frequency", "term")
