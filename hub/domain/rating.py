"""Rating: turn a subscription charge into a rated line with Microsoft's cost and our price.

Daily proration of our price: ``full * days / period_days`` rounded half up on the magnitude,
per line. Microsoft's cost of a prorated line follows its own licence formula instead (the
``RoundingRule`` in force: the unit price prorated and rounded down to the minor unit, times the
seats, by default), so reconciliation matches. Periods are inclusive of both dates, as Partner
Center's ChargeStartDate/ChargeEndDate are.

A seat change is rated as Microsoft bills it ("Common billing scenarios: one-time and
recurring"): two lines of the same charge type and dates, the refund of the old quantity
(``Charge.refund``, negative) and the charge for the new total.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.enums import BillingCycle, ChargeType, ProductKind, Term
from hub.domain.money import check_currency
from hub.domain.pricing import UnitPrice, protected_unit_price, round_half_up
from hub.domain.reference import PriceListEntry
from hub.domain.subscriptions import CANCELLATION_WINDOW, within_cancellation_window
from hub.errors import BusinessRuleViolation, ValidationFailed


class RoundingRule(StrEnum):
    """How Microsoft rounds a licence line's subtotal to the minor unit.

    ``unit_price_first`` is the field table of Partner Center's "Modern invoice reconciliation
    file": ``ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2) x BillableQuantity`` (the
    documented default). ``line_total`` is what the worked examples of "Common billing
    scenarios: one-time and recurring" show: rounded down after multiplying by the quantity
    (9.408 x 12 = 112.89, 11.2258 x 15 = 168.38).
    """

    UNIT_PRICE_FIRST = "unit_price_first"
    LINE_TOTAL = "line_total"


class ChargeClass(StrEnum):
    """What a Partner Center charge type does to a subscription ("Recon file charge types")."""

    PERIOD = "period"  # new, renew, cycleCharge: a whole billing period
    SEAT_CHANGE = "seat_change"  # addQuantity, removeQuantity, moveQuantity: refund + new total
    CANCELLATION = "cancellation"  # cancelImmediate: the unused days refunded
    PLAN_CHANGE = "plan_change"  # convert, changeBillingPlan: old plan refunded, new one charged
    TERM_EXTENSION = "term_extension"  # extendTerm: the days added to the term
    CREDIT = "credit"  # customerCredit: a credit to the partner, negative


CHARGE_CLASSES: dict[ChargeType, ChargeClass] = {
    ChargeType.NEW: ChargeClass.PERIOD,
    ChargeType.RENEW: ChargeClass.PERIOD,
    ChargeType.CYCLE_CHARGE: ChargeClass.PERIOD,
    ChargeType.ADD_QUANTITY: ChargeClass.SEAT_CHANGE,
    ChargeType.REMOVE_QUANTITY: ChargeClass.SEAT_CHANGE,
    ChargeType.MOVE_QUANTITY: ChargeClass.SEAT_CHANGE,
    ChargeType.CANCEL_IMMEDIATE: ChargeClass.CANCELLATION,
    ChargeType.CONVERT: ChargeClass.PLAN_CHANGE,
    ChargeType.CHANGE_BILLING_PLAN: ChargeClass.PLAN_CHANGE,
    ChargeType.EXTEND_TERM: ChargeClass.TERM_EXTENSION,
    ChargeType.CUSTOMER_CREDIT: ChargeClass.CREDIT,
}


def classify(charge_type: ChargeType) -> ChargeClass:
    """The class of every charge type Microsoft writes; none is unknown to the hub."""
    return CHARGE_CLASSES[charge_type]


# Seat reductions and cancellations are refundable only inside the lifecycle's window
# (``subscriptions.within_cancellation_window``, the authority). Rating refuses a refund outside
# it, because it is one Microsoft will not return, but never with a rule of its own.
REFUND_WINDOW_DAYS = CANCELLATION_WINDOW.days

_LINE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hub:billing:rated-line")

# Changes inside the refund window only: giving seats (or the whole subscription) back.
_WINDOWED = {ChargeType.REMOVE_QUANTITY, ChargeType.CANCEL_IMMEDIATE}


def days_inclusive(start: date, end: date) -> int:
    """Number of calendar days from ``start`` to ``end``, both included."""
    if end < start:
        raise ValidationFailed("period_end", end, f"before period start {start}")
    return (end - start).days + 1


def prorate(full_minor: int, days: int, period_days: int) -> int:
    """The share of ``full_minor`` for ``days`` of ``period_days``, half up on the magnitude."""
    if period_days <= 0 or not 0 <= days <= period_days:
        raise ValidationFailed("days", days, f"must be 0..{period_days}")
    magnitude = round_half_up(Decimal(abs(full_minor)) * days / period_days)
    return magnitude if full_minor >= 0 else -magnitude


def microsoft_prorated_cost(
    unit_cost_minor: int,
    seats: int,
    days: int,
    period_days: int,
    rounding: RoundingRule = RoundingRule.UNIT_PRICE_FIRST,
) -> int:
    """Microsoft's cost of ``seats`` for ``days`` of ``period_days``, as its reconciliation
    lines compute it under ``rounding`` (default: ``ROUNDDOWN(EffectiveUnitPrice, minor unit)
    * BillableQuantity``)."""
    if period_days <= 0 or not 0 <= days <= period_days:
        raise ValidationFailed("days", days, f"must be 0..{period_days}")
    if unit_cost_minor < 0 or seats < 0:
        raise ValidationFailed("unit_cost_minor", unit_cost_minor, "cost and seats are >= 0")
    if rounding is RoundingRule.LINE_TOTAL:
        return unit_cost_minor * days * seats // period_days
    return unit_cost_minor * days // period_days * seats


class Charge(BaseModel):
    """One billable event of a subscription, as the lifecycle hands it to rating.

    ``period_start``/``period_end`` bound the current billing period (a month, or a year when
    billed annually up front). ``effective_date`` is when a seat change or cancellation takes
    effect (the prorated part runs from it to ``period_end``). ``quantity`` is the seats
    charged: all seats for new/renew/cycleCharge/cancelImmediate, the change for
    add/removeQuantity. ``source_id`` is the id of the event that caused the charge, so a
    replay rates to the same line id.
    """

    model_config = ConfigDict(frozen=True)

    source_id: str = Field(min_length=1)
    charge_type: ChargeType
    subscription_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    reseller_id: str = Field(min_length=1)
    product_id: str
    sku_id: str
    availability_id: str
    kind: ProductKind = ProductKind.SUBSCRIPTION
    term: Term
    billing_cycle: BillingCycle
    currency: str
    quantity: int = Field(ge=0)
    refund: bool = Field(
        default=False, description="the refund line of a two-line change (negative)"
    )
    term_start: date
    period_start: date
    period_end: date
    effective_date: date | None = None
    credit_cost_minor: int = Field(default=0, ge=0, description="customerCredit: Microsoft's")
    credit_price_minor: int = Field(default=0, ge=0, description="customerCredit: passed on")
    window_start: AwareDatetime | None = Field(
        default=None, description="exact purchase/renewal instant, when known"
    )
    effective_at: AwareDatetime | None = Field(
        default=None, description="exact instant of the change, when known"
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @model_validator(mode="after")
    def _dates(self) -> Charge:
        days_inclusive(self.period_start, self.period_end)
        if self.effective_date is not None and not (
            self.period_start <= self.effective_date <= self.period_end
        ):
            raise ValidationFailed("effective_date", self.effective_date, "outside the period")
        return self


class RatedLine(BaseModel):
    """A rated charge: what Microsoft charges us (cost) and what we charge (price)."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    source_id: str
    charge_type: ChargeType
    subscription_id: str
    customer_id: str
    reseller_id: str
    product_id: str
    sku_id: str
    availability_id: str
    kind: ProductKind
    term: Term
    billing_cycle: BillingCycle
    currency: str
    quantity: int
    unit_cost_minor: int
    unit_price_minor: int
    cost_minor: int
    price_minor: int
    period_start: date
    period_end: date
    days: int
    period_days: int


def line_id(charge: Charge) -> str:
    """A uuid5 of everything that identifies the charge: same inputs, same id."""
    parts = (
        charge.source_id,
        charge.charge_type.value,
        charge.subscription_id,
        charge.period_start.isoformat(),
        charge.period_end.isoformat(),
        (charge.effective_date or charge.period_start).isoformat(),
        str(charge.quantity),
        *(("refund",) if charge.refund else ()),
    )
    return str(uuid.uuid5(_LINE_NAMESPACE, "|".join(parts)))


def refund_window_open(window_start: datetime, at: datetime) -> bool:
    """Whether a refund at ``at`` is inside the window opened at ``window_start``.

    This is ``subscriptions.within_cancellation_window`` itself: the lifecycle decides, and
    rating must never refuse a change the lifecycle accepted (nor accept one it refused).
    """
    return within_cancellation_window(window_start, at)


def refund_day_possible(term_start: date, on: date) -> bool:
    """By dates alone (no times known): whether some instant of day ``on`` can fall inside a
    window opened during day ``term_start``.

    Any instant the lifecycle accepts lies on a day from ``term_start`` to ``term_start + 7``,
    so this never refuses what the lifecycle accepted; it only catches dates no window covers.
    """
    return term_start <= on <= term_start + timedelta(days=REFUND_WINDOW_DAYS)


def _refund_allowed(charge: Charge, effective: date) -> bool:
    if charge.window_start is not None and charge.effective_at is not None:
        return refund_window_open(charge.window_start, charge.effective_at)
    if charge.charge_type is ChargeType.REMOVE_QUANTITY:
        # Seats may be removed within 7 days of when *those* seats were added ("New commerce
        # cancellation policy"): the lifecycle decides per batch; dates alone cannot refuse it.
        return True
    return refund_day_possible(charge.term_start, effective)


class PricedTerm(Protocol):
    """What picks a price list entry: the catalog item, its term and cycle, the currency."""

    @property
    def product_id(self) -> str: ...
    @property
    def sku_id(self) -> str: ...
    @property
    def availability_id(self) -> str: ...
    @property
    def term(self) -> Term: ...
    @property
    def billing_cycle(self) -> BillingCycle: ...
    @property
    def currency(self) -> str: ...


def term_unit_price(
    item: PricedTerm, entries: Iterable[PriceListEntry], *, term_start: date, markup_bps: int
) -> UnitPrice:
    """``item``'s unit cost and price for a term starting on ``term_start`` (price protection)."""
    return protected_unit_price(
        entries,
        product_id=item.product_id,
        sku_id=item.sku_id,
        availability_id=item.availability_id,
        term=item.term,
        billing_cycle=item.billing_cycle,
        currency=item.currency,
        term_start=term_start,
        markup_bps=markup_bps,
    )


def rate_charge(
    charge: Charge,
    entries: Iterable[PriceListEntry],
    markup_bps: int,
    *,
    rounding: RoundingRule = RoundingRule.UNIT_PRICE_FIRST,
) -> RatedLine:
    """Rate one charge against the price list in force at its term start (price protection).

    - new, renew, cycleCharge: the full billing period, quantity x unit (annual: the year).
    - seat changes, plan changes and term extensions (addQuantity, removeQuantity,
      moveQuantity, convert, changeBillingPlan, extendTerm): prorated from ``effective_date``
      to ``period_end``, negative for the refund line (``refund``) of the two-line form.
      removeQuantity only inside the refund window.
    - cancelImmediate: every seat, negative, prorated likewise, only inside the refund window.
    - customerCredit: the given credit amounts, negative, no price list involved.
    """
    period_days = days_inclusive(charge.period_start, charge.period_end)
    ct = charge.charge_type
    cls = classify(ct)
    if cls is ChargeClass.CREDIT:
        return _line(
            charge,
            0,
            0,
            -charge.credit_cost_minor,
            -charge.credit_price_minor,
            charge.period_start,
            period_days,
            period_days,
        )
    price = term_unit_price(charge, entries, term_start=charge.term_start, markup_bps=markup_bps)
    full_cost = price.unit_cost_minor * charge.quantity
    full_price = price.unit_price_minor * charge.quantity
    if cls is ChargeClass.PERIOD:
        return _line(
            charge,
            price.unit_cost_minor,
            price.unit_price_minor,
            full_cost,
            full_price,
            charge.period_start,
            period_days,
            period_days,
        )
    effective = charge.effective_date
    if effective is None:
        raise ValidationFailed("effective_date", None, f"required for {ct}")
    days = days_inclusive(effective, charge.period_end)
    if ct in _WINDOWED and not _refund_allowed(charge, effective):
        raise BusinessRuleViolation(
            "RefundWindowClosed",
            f"{ct} on {effective} is more than {REFUND_WINDOW_DAYS} days after the "
            f"purchase or renewal on {charge.term_start}",
        )
    sign = -1 if charge.refund or cls is ChargeClass.CANCELLATION else 1
    cost = microsoft_prorated_cost(
        price.unit_cost_minor, charge.quantity, days, period_days, rounding
    )
    return _line(
        charge,
        price.unit_cost_minor,
        price.unit_price_minor,
        sign * cost,
        sign * prorate(full_price, days, period_days),
        effective,
        days,
        period_days,
    )


def _line(
    charge: Charge,
    unit_cost: int,
    unit_price: int,
    cost: int,
    price: int,
    start: date,
    days: int,
    period_days: int,
) -> RatedLine:
    return RatedLine(
        line_id=line_id(charge),
        source_id=charge.source_id,
        charge_type=charge.charge_type,
        subscription_id=charge.subscription_id,
        customer_id=charge.customer_id,
        reseller_id=charge.reseller_id,
        product_id=charge.product_id,
        sku_id=charge.sku_id,
        availability_id=charge.availability_id,
        kind=charge.kind,
        term=charge.term,
        billing_cycle=charge.billing_cycle,
        currency=charge.currency,
        quantity=charge.quantity,
        unit_cost_minor=unit_cost,
        unit_price_minor=unit_price,
        cost_minor=cost,
        price_minor=price,
        period_start=start,
        period_end=charge.period_end,
        days=days,
        period_days=period_days,
    )
