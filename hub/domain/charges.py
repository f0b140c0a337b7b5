"""Which charges a subscription gives: at purchase, on a lifecycle change, each billing period
and at renewal. Rating prices them (``rating.rate_charge``); this module only says what is due.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.domain.enums import BillingCycle, ChargeType, ProductKind, Term
from hub.domain.orders import CYCLE_MONTHS, TERM_MONTHS
from hub.domain.proration import cycle_start
from hub.domain.rating import Charge, term_unit_price
from hub.domain.reference import PriceListEntry
from hub.errors import ValidationFailed


class BilledSubscription(BaseModel):
    """What billing keeps of a subscription: its current term and the price protected for it.

    ``term_end`` is the first day after the term (the renewal day). The unit cost and price are
    per seat per billing period, fixed at the term start until renewal (price protection).
    """

    model_config = ConfigDict(frozen=True)

    subscription_id: str = Field(min_length=1)
    customer_id: str
    reseller_id: str
    product_id: str
    sku_id: str
    availability_id: str
    kind: ProductKind = ProductKind.SUBSCRIPTION
    term: Term
    billing_cycle: BillingCycle
    currency: str
    quantity: int = Field(ge=0)
    term_start: date
    term_end: date
    auto_renew: bool = True
    active: bool = True
    unit_cost_minor: int = Field(ge=0)
    unit_price_minor: int = Field(ge=0)
    window_start: AwareDatetime | None = Field(
        default=None, description="exact purchase/renewal instant when the source gave one"
    )
    provisioned_by: str | None = Field(
        default=None, description="id of the provisioning event that opened it for billing"
    )
    cycled_by: tuple[str, tuple[str, ...]] | None = Field(
        default=None,
        description="id of the latest month-end run that cycled it, and the lines it rated",
    )

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"

    def protected_entry(self) -> PriceListEntry:
        """The term's price as a one-entry price list: rating then cannot pick another."""
        return PriceListEntry(
            product_id=self.product_id,
            sku_id=self.sku_id,
            availability_id=self.availability_id,
            term=self.term,
            billing_cycle=self.billing_cycle,
            currency=self.currency,
            unit_cost_minor=self.unit_cost_minor,
            unit_price_minor=self.unit_price_minor,
            effective_from=self.term_start,
        )


def _cycle_months(sub: BilledSubscription) -> int:
    # A cycle longer than the term (a monthly term billed annually) bills the term once.
    return min(CYCLE_MONTHS[sub.billing_cycle], TERM_MONTHS[sub.term])


def billing_period(sub: BilledSubscription, on: date) -> tuple[date, date]:
    """The billing period (first and last day, both included) of the term containing ``on``.

    Periods are counted from the term start, not chained, so a 31st start does not drift.
    """
    if not sub.term_start <= on < sub.term_end:
        raise ValidationFailed("on", on, f"outside the term {sub.term_start}..{sub.term_end}")
    step = _cycle_months(sub)
    k = 0
    while cycle_start(sub.term_start, (k + 1) * step) <= on:
        k += 1
    start = cycle_start(sub.term_start, k * step)
    end = min(cycle_start(sub.term_start, (k + 1) * step), sub.term_end)
    return start, end - timedelta(days=1)


def _charge(
    sub: BilledSubscription,
    source_id: str,
    ct: ChargeType,
    quantity: int,
    period: tuple[date, date],
    **extra: object,
) -> Charge:
    return Charge.model_validate(
        {
            "source_id": source_id,
            "charge_type": ct,
            "subscription_id": sub.subscription_id,
            "customer_id": sub.customer_id,
            "reseller_id": sub.reseller_id,
            "product_id": sub.product_id,
            "sku_id": sub.sku_id,
            "availability_id": sub.availability_id,
            "kind": sub.kind,
            "term": sub.term,
            "billing_cycle": sub.billing_cycle,
            "currency": sub.currency,
            "quantity": quantity,
            "term_start": sub.term_start,
            "period_start": period[0],
            "period_end": period[1],
            **extra,
        }
    )


def purchase_charge(sub: BilledSubscription, source_id: str) -> Charge:
    """``new``: every seat for the first billing period (a year up front when billed annually)."""
    return _charge(
        sub, source_id, ChargeType.NEW, sub.quantity, billing_period(sub, sub.term_start)
    )


def _utc_day(at: datetime) -> date:
    """The UTC calendar day of ``at``: the lifecycle counts UTC days, whatever the caller's zone."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed("effective_at", at, "must be timezone-aware")
    return at.astimezone(UTC).date()


def change_charge(
    sub: BilledSubscription,
    source_id: str,
    *,
    kind: str,
    old_quantity: int,
    new_quantity: int,
    effective_at: datetime,
) -> Charge | None:
    """The net charge a lifecycle change gives, or None (suspend, reactivate, auto-renew switch).

    A seat increase is ``addQuantity`` for the added seats, a decrease ``removeQuantity`` for
    the removed ones, a cancellation ``cancelImmediate`` for every seat; each is prorated from
    the UTC day of the change to the end of the billing period it falls in. Billing books seat
    changes as Microsoft does, in two lines (``change_charges``).
    """
    on = _utc_day(effective_at)
    if kind == "cancel":
        ct, quantity = ChargeType.CANCEL_IMMEDIATE, old_quantity
    elif kind == "change_quantity" and new_quantity > old_quantity:
        ct, quantity = ChargeType.ADD_QUANTITY, new_quantity - old_quantity
    elif kind == "change_quantity" and new_quantity < old_quantity:
        ct, quantity = ChargeType.REMOVE_QUANTITY, old_quantity - new_quantity
    else:
        return None
    exact = {"window_start": sub.window_start, "effective_at": effective_at}
    return _charge(
        sub,
        source_id,
        ct,
        quantity,
        billing_period(sub, on),
        effective_date=on,
        **(exact if sub.window_start is not None else {}),
    )


def change_charges(
    sub: BilledSubscription,
    source_id: str,
    *,
    kind: str,
    old_quantity: int,
    new_quantity: int,
    effective_at: datetime,
) -> list[Charge]:
    """The charges a lifecycle change gives, shaped as Microsoft's reconciliation lines.

    A seat change is two lines of one charge type (``addQuantity`` or ``removeQuantity``) with
    the same dates: the refund of the old quantity (``refund``, negative) and the charge for the
    new total ("Common billing scenarios: one-time and recurring"). A cancellation is one
    ``cancelImmediate`` line for every seat. Others (suspend, auto-renew) give none.
    """
    net = change_charge(
        sub,
        source_id,
        kind=kind,
        old_quantity=old_quantity,
        new_quantity=new_quantity,
        effective_at=effective_at,
    )
    if net is None or net.charge_type is ChargeType.CANCEL_IMMEDIATE:
        return [] if net is None else [net]
    # Seat reductions are decided per batch by the lifecycle (``subscriptions``), so the pair
    # carries no purchase window for rating to check against.
    plain = net.model_copy(update={"window_start": None, "effective_at": None})
    base = plain if net.charge_type is ChargeType.REMOVE_QUANTITY else net
    lines = [base.model_copy(update={"quantity": old_quantity, "refund": True})]
    if new_quantity > 0:
        lines.append(base.model_copy(update={"quantity": new_quantity}))
    return lines


def apply_change(
    sub: BilledSubscription, *, kind: str, new_quantity: int, auto_renew: bool, active: bool
) -> BilledSubscription:
    """The subscription after a lifecycle change (the event carries the resulting state)."""
    quantity = new_quantity if kind in {"change_quantity", "cancel"} else sub.quantity
    return sub.model_copy(update={"quantity": quantity, "auto_renew": auto_renew, "active": active})


def cycle_charges(
    sub: BilledSubscription, first_day: date, last_day: date, source_id: str
) -> list[Charge]:
    """``cycleCharge`` for every billing period after the first that starts in
    ``first_day..last_day`` (a month being closed) inside the current term."""
    if not sub.active or sub.quantity == 0:
        return []
    step = _cycle_months(sub)
    out: list[Charge] = []
    k = 1
    while (start := cycle_start(sub.term_start, k * step)) < sub.term_end and start <= last_day:
        if start >= first_day:
            out.append(
                _charge(
                    sub,
                    source_id,
                    ChargeType.CYCLE_CHARGE,
                    sub.quantity,
                    billing_period(sub, start),
                )
            )
        k += 1
    return out


def renewal_due(sub: BilledSubscription, last_day: date) -> bool:
    """Whether the term ends by ``last_day`` and the subscription renews (active, auto-renew)."""
    return sub.active and sub.auto_renew and sub.quantity > 0 and sub.term_end <= last_day


def expired(sub: BilledSubscription, last_day: date) -> bool:
    """Whether the term ended by ``last_day`` without renewal (nothing more is billed)."""
    return sub.term_end <= last_day and not (sub.auto_renew and sub.active)


def renew(
    sub: BilledSubscription, entries: list[PriceListEntry], markup_bps: int
) -> BilledSubscription:
    """The next term: it starts on the old term's end at the price list in force that day."""
    start = sub.term_end
    price = term_unit_price(sub, entries, term_start=start, markup_bps=markup_bps)
    return sub.model_copy(
        update={
            "term_start": start,
            "term_end": cycle_start(start, TERM_MONTHS[sub.term]),
            "unit_cost_minor": price.unit_cost_minor,
            "unit_price_minor": price.unit_price_minor,
            "window_start": None,
        }
    )


def renewal_charge(sub: BilledSubscription, source_id: str) -> Charge:
    """``renew``: the renewed term's first billing period, at the renewed term's price."""
    return _charge(
        sub, source_id, ChargeType.RENEW, sub.quantity, billing_period(sub, sub.term_start)
    )
