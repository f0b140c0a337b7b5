"""Microsoft's monthly price lists and promotions with effective dates, and what they change.

A price list entry is in force from ``effective_from`` to ``effective_to`` (both included); a
later list supersedes an earlier one (``hub.domain.pricing.price_entry_on``). A promotion
discounts Microsoft's cost for purchases and renewals made while it runs and holds for the term
it was bought with (price protection); a mid-term billing-plan change or upgrade removes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import BillingCycle, Term
from hub.domain.orders import billing_periods_per_term
from hub.domain.pricing import markup_price, price_entry_on, round_half_up
from hub.domain.reference import PriceListEntry
from hub.errors import BusinessRuleViolation

_BPS = 10_000


class Promotion(BaseModel):
    """A Microsoft promotion (``PromotionId``): a discount on cost for one item and plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    promotion_id: str = Field(min_length=1)
    product_id: str
    sku_id: str
    availability_id: str
    term: Term
    billing_cycle: BillingCycle
    discount_bps: int = Field(gt=0, le=_BPS)
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _dates(self) -> Promotion:
        if self.ends_on < self.starts_on:
            raise ValueError(f"promotion {self.promotion_id} ends before it starts")
        return self

    def applies(self, *, catalog_item_id: str, term: Term, cycle: BillingCycle, on: date) -> bool:
        return (
            f"{self.product_id}:{self.sku_id}:{self.availability_id}" == catalog_item_id
            and self.term == term
            and self.billing_cycle == cycle
            and self.starts_on <= on <= self.ends_on
        )


class PricePoint(BaseModel):
    """One seat for one billing period: Microsoft's cost, the reseller's price, any promotion."""

    model_config = ConfigDict(frozen=True)

    unit_cost_minor: int
    unit_price_minor: int
    currency: str
    effective_from: date
    promotion_id: str | None = None


def discounted(amount_minor: int, discount_bps: int) -> int:
    """``amount`` less ``discount_bps``, rounded half up to the minor unit."""
    return round_half_up(Decimal(amount_minor) * (_BPS - discount_bps) / _BPS)


def price_on(
    entries: Iterable[PriceListEntry],
    promotions: Iterable[Promotion],
    *,
    product_id: str,
    sku_id: str,
    availability_id: str,
    term: Term,
    billing_cycle: BillingCycle,
    currency: str,
    on: date,
    markup_bps: int,
    with_promotion: bool = True,
) -> PricePoint:
    """The price in force on ``on`` with the best promotion running that day, if any.

    Raises ``BusinessRuleViolation`` (``NoPrice``) when no list entry is in force.
    """
    entry = price_entry_on(
        entries,
        product_id=product_id,
        sku_id=sku_id,
        availability_id=availability_id,
        term=term,
        billing_cycle=billing_cycle,
        currency=currency,
        on=on,
    )
    promo: Promotion | None = None
    if with_promotion:
        item = f"{product_id}:{sku_id}:{availability_id}"
        running = [
            p
            for p in promotions
            if p.applies(catalog_item_id=item, term=term, cycle=billing_cycle, on=on)
        ]
        promo = max(running, key=lambda p: (p.discount_bps, p.promotion_id), default=None)
    cost = entry.unit_cost_minor
    fixed = entry.unit_price_minor
    if promo is not None:
        cost = discounted(cost, promo.discount_bps)
        fixed = discounted(fixed, promo.discount_bps) if fixed is not None else None
    price = fixed if fixed is not None else markup_price(cost, markup_bps)
    return PricePoint(
        unit_cost_minor=cost,
        unit_price_minor=price,
        currency=entry.currency,
        effective_from=entry.effective_from,
        promotion_id=promo.promotion_id if promo else None,
    )


class PriceListProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    reason: str


def check_price_list(entries: Sequence[PriceListEntry]) -> tuple[PriceListProblem, ...]:
    """What is wrong with a monthly list before it is ingested: an entry ending before it
    starts, or two entries for one item and plan starting the same day."""
    problems: list[PriceListProblem] = []
    seen: dict[tuple[str, str, str, str, date], int] = {}
    for i, e in enumerate(entries):
        if e.effective_to is not None and e.effective_to < e.effective_from:
            problems.append(
                PriceListProblem(index=i, reason="effective_to is before effective_from")
            )
        key = (e.catalog_item_id, e.term, e.billing_cycle, e.currency, e.effective_from)
        if key in seen:
            problems.append(
                PriceListProblem(
                    index=i,
                    reason=f"same item, plan, currency and start as entry {seen[key]}",
                )
            )
        else:
            seen[key] = i
    return tuple(problems)


class RenewingItem(BaseModel):
    """A subscription renewing in the previewed month, with what it pays today."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    customer_id: str
    product_id: str
    sku_id: str
    availability_id: str
    quantity: int = Field(ge=1)
    term: Term
    billing_cycle: BillingCycle
    renews_on: date
    current_unit_price_minor: int


class PreviewLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    customer_id: str
    catalog_item_id: str
    renews_on: date
    quantity: int
    current_unit_price_minor: int
    renewal_unit_price_minor: int | None
    promotion_id: str | None
    term_value_change_minor: int
    first_charge_change_minor: int
    note: str = ""


class PricePreview(BaseModel):
    """What a reseller's renewals in one month will cost against what they cost today.

    ``revenue_change_minor``: the change in the renewed terms' value (the commitment the
    reseller takes on); ``exposure_change_minor``: the change in what is invoiced at the
    renewals (the first billing period), which lands on the reseller's receivables.
    """

    model_config = ConfigDict(frozen=True)

    reseller_id: str
    currency: str
    month_start: date
    lines: tuple[PreviewLine, ...]
    revenue_change_minor: int
    exposure_change_minor: int
    unpriced: int


def preview(
    reseller_id: str,
    renewing: Iterable[RenewingItem],
    *,
    entries: Iterable[PriceListEntry],
    promotions: Iterable[Promotion] = (),
    currency: str,
    markup_bps: int,
    month_start: date,
) -> PricePreview:
    """Each renewal priced from the list in force on its renewal day, against today's price."""
    entry_list = list(entries)
    promo_list = list(promotions)
    lines: list[PreviewLine] = []
    for item in sorted(renewing, key=lambda r: (r.renews_on, r.subscription_id)):
        catalog_id = f"{item.product_id}:{item.sku_id}:{item.availability_id}"
        try:
            point = price_on(
                entry_list,
                promo_list,
                product_id=item.product_id,
                sku_id=item.sku_id,
                availability_id=item.availability_id,
                term=item.term,
                billing_cycle=item.billing_cycle,
                currency=currency,
                on=item.renews_on,
                markup_bps=markup_bps,
            )
        except BusinessRuleViolation as exc:  # a missing price is reported, not fatal
            lines.append(
                PreviewLine(
                    subscription_id=item.subscription_id,
                    customer_id=item.customer_id,
                    catalog_item_id=catalog_id,
                    renews_on=item.renews_on,
                    quantity=item.quantity,
                    current_unit_price_minor=item.current_unit_price_minor,
                    renewal_unit_price_minor=None,
                    promotion_id=None,
                    term_value_change_minor=0,
                    first_charge_change_minor=0,
                    note=str(exc),
                )
            )
            continue
        unit_change = point.unit_price_minor - item.current_unit_price_minor
        periods = billing_periods_per_term(item.term, item.billing_cycle)
        lines.append(
            PreviewLine(
                subscription_id=item.subscription_id,
                customer_id=item.customer_id,
                catalog_item_id=catalog_id,
                renews_on=item.renews_on,
                quantity=item.quantity,
                current_unit_price_minor=item.current_unit_price_minor,
                renewal_unit_price_minor=point.unit_price_minor,
                promotion_id=point.promotion_id,
                term_value_change_minor=unit_change * item.quantity * periods,
                first_charge_change_minor=unit_change * item.quantity,
            )
        )
    return PricePreview(
        reseller_id=reseller_id,
        currency=currency,
        month_start=month_start,
        lines=tuple(lines),
        revenue_change_minor=sum(ln.term_value_change_minor for ln in lines),
        exposure_change_minor=sum(ln.first_charge_change_minor for ln in lines),
        unpriced=sum(1 for ln in lines if ln.renewal_unit_price_minor is None),
    )
