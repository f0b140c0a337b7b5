"""Scheduled next-term changes (Partner Center's ``scheduledNextTermInstructions``).

A reseller may schedule, for the next term only, a new quantity, a SKU of the same family
(upgrade or downgrade), a term and a billing cycle, and a custom term end date. Microsoft's
rules kept here: the subscription must be active with auto-renew on, changes are accepted until
the renewal starts, and any mid-term (immediate) change deletes what was scheduled.

The catalogue's ``service`` names a SKU's family: items of one service replace each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.domain.orders import ALLOWED_BILLING_CYCLES, TERM_MONTHS
from hub.domain.pricing import price_entry_on
from hub.domain.proration import add_months
from hub.domain.reference import CatalogItem, PriceListEntry
from hub.domain.renewals import NextTerm, current_terms
from hub.domain.subscriptions import Subscription
from hub.errors import BusinessRuleViolation


class ScheduledChange(BaseModel):
    """What the reseller asks for the next term; ``None`` keeps the current value."""

    model_config = ConfigDict(frozen=True)

    quantity: int | None = None
    product_id: str | None = None
    sku_id: str | None = None
    availability_id: str | None = None
    term: Term | None = None
    billing_cycle: BillingCycle | None = None
    custom_term_end_date: date | None = None


class ScheduleRejectionCode(StrEnum):
    NOT_ACTIVE = "SubscriptionNotActive"
    AUTO_RENEW_OFF = "AutoRenewOff"
    TOO_LATE = "RenewalStarted"
    NO_CHANGE = "NoChange"
    UNKNOWN_ITEM = "UnknownCatalogItem"
    NOT_SAME_FAMILY = "NotSameFamily"
    QUANTITY_OUT_OF_RANGE = "QuantityOutOfRange"
    PLAN_NOT_ALLOWED = "TermBillingCycleNotAllowed"
    NO_PRICE = "NoPrice"
    BAD_END_DATE = "CustomTermEndDateNotAllowed"


class ScheduleRejected(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ScheduleRejectionCode
    reason: str


def _reject(code: ScheduleRejectionCode, reason: str) -> ScheduleRejected:
    return ScheduleRejected(code=code, reason=reason)


def next_term_of(sub: Subscription, change: ScheduledChange | None) -> NextTerm:
    """The next term with ``change`` applied over the current values."""
    base = current_terms(sub)
    if change is None:
        return base
    if change.product_id and change.sku_id and change.availability_id:
        item = (change.product_id, change.sku_id, change.availability_id)
    else:
        item = (base.product_id, base.sku_id, base.availability_id)
    return NextTerm(
        product_id=item[0],
        sku_id=item[1],
        availability_id=item[2],
        quantity=change.quantity if change.quantity is not None else base.quantity,
        term=change.term or base.term,
        billing_cycle=change.billing_cycle or base.billing_cycle,
        custom_term_end_date=change.custom_term_end_date,
    )


def schedule(
    sub: Subscription,
    change: ScheduledChange,
    at: datetime,
    *,
    catalogue: Mapping[str, CatalogItem],
    entries: Iterable[PriceListEntry],
    currency: str,
) -> NextTerm | ScheduleRejected:
    """Check a scheduled change against Microsoft's rules; the next term it gives, or why not."""
    at_utc = at.astimezone(UTC)
    renews_at = sub.term_end.astimezone(UTC)
    if sub.status is not SubscriptionStatus.ACTIVE:
        return _reject(
            ScheduleRejectionCode.NOT_ACTIVE,
            f"only an active subscription takes scheduled changes; this one is {sub.status}",
        )
    if not sub.auto_renew:
        return _reject(
            ScheduleRejectionCode.AUTO_RENEW_OFF,
            "auto-renew is off, so there is no next term to change; turn auto-renew on first",
        )
    if at_utc >= renews_at:
        return _reject(
            ScheduleRejectionCode.TOO_LATE,
            f"the renewal started at {renews_at.isoformat()}; change the renewed term instead",
        )
    if (change.product_id is None) != (change.sku_id is None) or (change.product_id is None) != (
        change.availability_id is None
    ):
        return _reject(
            ScheduleRejectionCode.UNKNOWN_ITEM,
            "name the new SKU with product_id, sku_id and availability_id together",
        )
    new = next_term_of(sub, change)
    if new == current_terms(sub):
        return _reject(ScheduleRejectionCode.NO_CHANGE, "the change asks for what renews already")
    target = catalogue.get(new.catalog_item_id)
    current = catalogue.get(sub.catalog_item_id)
    if target is None:
        return _reject(
            ScheduleRejectionCode.UNKNOWN_ITEM,
            f"{new.catalog_item_id} is not in the catalogue",
        )
    if current is not None and target.service != current.service:
        return _reject(
            ScheduleRejectionCode.NOT_SAME_FAMILY,
            f"{new.catalog_item_id} ({target.service}) is not in the family of "
            f"{sub.catalog_item_id} ({current.service}); order it as a new subscription",
        )
    if not target.min_quantity <= new.quantity <= target.max_quantity:
        return _reject(
            ScheduleRejectionCode.QUANTITY_OUT_OF_RANGE,
            f"quantity {new.quantity} is outside {target.min_quantity}..{target.max_quantity}",
        )
    if new.billing_cycle not in ALLOWED_BILLING_CYCLES[new.term]:
        return _reject(
            ScheduleRejectionCode.PLAN_NOT_ALLOWED,
            f"term {new.term} cannot be billed {new.billing_cycle}",
        )
    if new.custom_term_end_date is not None:
        first = renews_at.date()
        natural_last = add_months(first, TERM_MONTHS[new.term]) - timedelta(days=1)
        if not first <= new.custom_term_end_date <= natural_last:
            return _reject(
                ScheduleRejectionCode.BAD_END_DATE,
                f"the custom term end date must fall in {first}..{natural_last}",
            )
    try:
        price_entry_on(
            entries,
            product_id=new.product_id,
            sku_id=new.sku_id,
            availability_id=new.availability_id,
            term=new.term,
            billing_cycle=new.billing_cycle,
            currency=currency,
            on=renews_at.date(),
        )
    except BusinessRuleViolation as exc:
        return _reject(ScheduleRejectionCode.NO_PRICE, str(exc).removeprefix("NoPrice: "))
    return new


# The reseller's change kinds that are mid-term (immediate) changes in Microsoft's sense.
MID_TERM_KINDS = frozenset(
    {"change_quantity", "cancel", "change_billing_cycle", "change_term", "upgrade"}
)


def deletion_reason(kind: str, *, auto_renew: bool | None = None) -> str | None:
    """Why a change of ``kind`` deletes the scheduled next-term changes, or None if it keeps
    them. Microsoft deletes them on any mid-term change; turning auto-renew off leaves no next
    term for them to apply to."""
    if kind in MID_TERM_KINDS:
        return (
            f"a mid-term change ({kind}) deletes the changes scheduled for the next term; "
            "schedule them again if they are still wanted"
        )
    if kind == "set_auto_renew" and auto_renew is False:
        return "auto-renew was switched off, so the scheduled next-term changes were deleted"
    return None
