"""Order rules: what a reseller may order (validation) and what it commits to (term value)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.domain.enums import BillingCycle, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import ValidationFailed

TERM_MONTHS: Mapping[Term, int] = {Term.P1M: 1, Term.P1Y: 12, Term.P3Y: 36}
CYCLE_MONTHS: Mapping[BillingCycle, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.ANNUAL: 12,
    BillingCycle.TRIENNIAL: 36,
}
# New commerce: a billing cycle may not be longer than the term it bills.
ALLOWED_BILLING_CYCLES: Mapping[Term, frozenset[BillingCycle]] = {
    Term.P1M: frozenset({BillingCycle.MONTHLY}),
    Term.P1Y: frozenset({BillingCycle.MONTHLY, BillingCycle.ANNUAL}),
    Term.P3Y: frozenset({BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL}),
}


def billing_periods_per_term(term: Term, billing_cycle: BillingCycle) -> int:
    """How many billing periods one term holds (P1Y billed monthly: 12); raise if not allowed."""
    if billing_cycle not in ALLOWED_BILLING_CYCLES[term]:
        raise ValueError(f"term {term} cannot be billed {billing_cycle}")
    return TERM_MONTHS[term] // CYCLE_MONTHS[billing_cycle]


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str
    sku_id: str
    availability_id: str
    # Range is a business rule (catalogue min/max), reported as a Rejection, not a parse error.
    quantity: int
    term: Term
    billing_cycle: BillingCycle

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str = Field(min_length=1)
    reseller_id: str
    customer_id: str
    lines: tuple[OrderLine, ...]
    requested_at: AwareDatetime

    @property
    def order_date(self) -> date:
        """The UTC calendar day of the request: the day whose prices apply."""
        return self.requested_at.astimezone(UTC).date()


class RejectionCode(StrEnum):
    EMPTY_ORDER = "EmptyOrder"
    UNKNOWN_RESELLER = "UnknownReseller"
    # Also used when the customer exists but belongs to another reseller: a reseller must not
    # learn which customer ids other resellers hold.
    CUSTOMER_NOT_FOUND = "CustomerNotFound"
    CURRENCY_MISMATCH = "CustomerCurrencyMismatch"
    UNKNOWN_CATALOG_ITEM = "UnknownCatalogItem"
    NOT_SOLD_IN_MARKET = "NotSoldInMarket"
    TERM_BILLING_CYCLE_NOT_ALLOWED = "TermBillingCycleNotAllowed"
    NO_PRICE = "NoPrice"
    QUANTITY_BELOW_MINIMUM = "QuantityBelowMinimum"
    QUANTITY_ABOVE_MAXIMUM = "QuantityAboveMaximum"
    DUPLICATE_LINE = "DuplicateLine"
    # The customer was onboarded through the hub and has not accepted the Microsoft Customer
    # Agreement yet (hub/streams/relationships/agreements.py).
    AGREEMENT_NOT_ACCEPTED = "MicrosoftCustomerAgreementNotAccepted"


class Rejection(BaseModel):
    """One broken rule: what, where, the offending value, and what to do about it."""

    model_config = ConfigDict(frozen=True)

    code: RejectionCode
    field: str
    value: str
    message: str


@dataclass(frozen=True)
class ReferenceView:
    """The reference data an order is checked against; any mappings (dicts, faust tables)."""

    resellers: Mapping[str, ResellerProfile]
    customers: Mapping[str, Customer]
    catalogue: Mapping[str, CatalogItem]  # by catalog_item_id
    prices: Mapping[str, Sequence[PriceListEntry]]  # by catalog_item_id


def find_price(
    prices: Mapping[str, Sequence[PriceListEntry]],
    catalog_item_id: str,
    term: Term,
    billing_cycle: BillingCycle,
    currency: str,
    on: date,
) -> PriceListEntry | None:
    """The entry in effect on ``on``; ``effective_to`` is the last day it applies (inclusive).

    If entries overlap, the one that took effect most recently wins.
    """
    candidates = [
        p
        for p in prices.get(catalog_item_id, ())
        if p.term == term
        and p.billing_cycle == billing_cycle
        and p.currency == currency
        and p.effective_from <= on
        and (p.effective_to is None or on <= p.effective_to)
    ]
    return max(candidates, key=lambda p: p.effective_from, default=None)


def _check_customer(order: Order, ref: ReferenceView) -> tuple[Customer | None, list[Rejection]]:
    out: list[Rejection] = []
    reseller = ref.resellers.get(order.reseller_id)
    if reseller is None:
        out.append(
            Rejection(
                code=RejectionCode.UNKNOWN_RESELLER,
                field="reseller_id",
                value=order.reseller_id,
                message=f"reseller {order.reseller_id!r} is not onboarded with the distributor; "
                "check the reseller id your integration was issued",
            )
        )
    customer = ref.customers.get(order.customer_id)
    if customer is None or customer.reseller_id != order.reseller_id:
        out.append(
            Rejection(
                code=RejectionCode.CUSTOMER_NOT_FOUND,
                field="customer_id",
                value=order.customer_id,
                message=f"customer {order.customer_id!r} is not a customer of reseller "
                f"{order.reseller_id!r}; create the customer first or check the id",
            )
        )
        return None, out
    if reseller is not None and customer.currency != reseller.currency:
        out.append(
            Rejection(
                code=RejectionCode.CURRENCY_MISMATCH,
                field="customer_id",
                value=order.customer_id,
                message=f"customer currency {customer.currency} differs from the reseller's "
                f"billing currency {reseller.currency}; the hub does not convert currencies, "
                "ask the distributor to set up the customer in your billing currency",
            )
        )
    return customer, out


def _check_line(
    index: int, line: OrderLine, customer: Customer | None, order: Order, ref: ReferenceView
) -> list[Rejection]:
    field = f"lines[{index}]"
    item_id = line.catalog_item_id
    out: list[Rejection] = []
    if line.billing_cycle not in ALLOWED_BILLING_CYCLES[line.term]:
        allowed = ", ".join(sorted(ALLOWED_BILLING_CYCLES[line.term]))
        out.append(
            Rejection(
                code=RejectionCode.TERM_BILLING_CYCLE_NOT_ALLOWED,
                field=f"{field}.billing_cycle",
                value=f"{line.term}/{line.billing_cycle}",
                message=f"term {line.term} can be billed {allowed}, not {line.billing_cycle}",
            )
        )
    item = ref.catalogue.get(item_id)
    if item is None:
        out.append(
            Rejection(
                code=RejectionCode.UNKNOWN_CATALOG_ITEM,
                field=f"{field}.catalog_item_id",
                value=item_id,
                message=f"{item_id!r} (product:sku:availability) is not in the catalogue; "
                "read the current catalogue for valid ids",
            )
        )
        return out
    if line.quantity < item.min_quantity:
        out.append(
            Rejection(
                code=RejectionCode.QUANTITY_BELOW_MINIMUM,
                field=f"{field}.quantity",
                value=str(line.quantity),
                message=f"{item.name} needs at least {item.min_quantity} seats",
            )
        )
    if line.quantity > item.max_quantity:
        out.append(
            Rejection(
                code=RejectionCode.QUANTITY_ABOVE_MAXIMUM,
                field=f"{field}.quantity",
                value=str(line.quantity),
                message=f"{item.name} allows at most {item.max_quantity} seats per line",
            )
        )
    if customer is None:
        return out
    if customer.country not in item.markets:
        out.append(
            Rejection(
                code=RejectionCode.NOT_SOLD_IN_MARKET,
                field=f"{field}.catalog_item_id",
                value=item_id,
                message=f"{item.name} is not sold in {customer.country} (the customer's "
                f"country); it is sold in {', '.join(item.markets)}",
            )
        )
    elif (
        line.billing_cycle in ALLOWED_BILLING_CYCLES[line.term]
        and find_price(
            ref.prices,
            item_id,
            line.term,
            line.billing_cycle,
            customer.currency,
            order.order_date,
        )
        is None
    ):
        out.append(
            Rejection(
                code=RejectionCode.NO_PRICE,
                field=f"{field}.catalog_item_id",
                value=item_id,
                message=f"no {customer.currency} price for {item.name} on term {line.term} "
                f"billed {line.billing_cycle} on {order.order_date.isoformat()}; "
                "choose another term or billing cycle",
            )
        )
    return out


def _line_key(line: OrderLine) -> tuple[str, Term, BillingCycle]:
    return (line.catalog_item_id, line.term, line.billing_cycle)


def validate_order(order: Order, ref: ReferenceView) -> list[Rejection]:
    """Every rule ``order`` breaks, in a stable order; an empty list means it may proceed.

    All rules are checked (not just the first) so a reseller's developer can fix every problem
    in one round trip. Lines are duplicates when they name the same catalogue item, term and
    billing cycle: send one line with the summed quantity instead.
    """
    out: list[Rejection] = []
    if not order.lines:
        out.append(
            Rejection(
                code=RejectionCode.EMPTY_ORDER,
                field="lines",
                value="0",
                message="an order needs at least one line",
            )
        )
    customer, found = _check_customer(order, ref)
    out.extend(found)
    first_seen: dict[tuple[str, Term, BillingCycle], int] = {}
    for index, line in enumerate(order.lines):
        key = _line_key(line)
        if key in first_seen:
            out.append(
                Rejection(
                    code=RejectionCode.DUPLICATE_LINE,
                    field=f"lines[{index}]",
                    value=line.catalog_item_id,
                    message=f"repeats lines[{first_seen[key]}] ({line.term}, "
                    f"{line.billing_cycle}); order it once with the total quantity",
                )
            )
            continue
        first_seen[key] = index
        out.extend(_check_line(index, line, customer, order, ref))
    return out


def resale_unit_price(cost_minor: int, markup_bps: int) -> int:
    """Cost plus a markup in basis points, rounded half up to the minor unit.

    1,000 cost at 1,250 bps (12.5%) is 1,125; 999 at 1,250 bps is 1,123.875 -> 1,124;
    a half minor unit (e.g. 2 at 2,500 bps = 2.5) rounds up to 3.
    """
    if cost_minor < 0:
        raise ValueError(f"cost must be non-negative, got {cost_minor}")
    if markup_bps < -10_000:
        raise ValueError(f"markup below -100% ({markup_bps} bps) would price below zero")
    numerator = cost_minor * (10_000 + markup_bps)
    # Enough digits that neither the division nor the rounding is ever inexact.
    with localcontext() as ctx:
        ctx.prec = len(str(numerator)) + 8
        price = (Decimal(numerator) / Decimal(10_000)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(price)


def line_unit_price(entry: PriceListEntry, reseller: ResellerProfile) -> int:
    """The reseller's price per seat per billing period: a fixed list price, else cost + markup."""
    if entry.unit_price_minor is not None:
        return entry.unit_price_minor
    return resale_unit_price(entry.unit_cost_minor, reseller.markup_bps)


def order_commitment(
    order: Order, prices: Mapping[str, Sequence[PriceListEntry]], reseller: ResellerProfile
) -> int:
    """The whole-term value of ``order`` in the reseller's currency, in minor units.

    New-commerce terms are commitments: a P1Y line billed monthly commits 12 periods, so the
    credit check sees unit price x quantity x billing periods per term, summed over lines.
    Call only on an order ``validate_order`` accepted; a missing price raises ValidationFailed.
    """
    total = 0
    for index, line in enumerate(order.lines):
        entry = find_price(
            prices,
            line.catalog_item_id,
            line.term,
            line.billing_cycle,
            reseller.currency,
            order.order_date,
        )
        if entry is None:
            raise ValidationFailed(
                f"lines[{index}].catalog_item_id",
                line.catalog_item_id,
                f"no {reseller.currency} price on {order.order_date.isoformat()}",
            )
        periods = billing_periods_per_term(line.term, line.billing_cycle)
        total += line_unit_price(entry, reseller) * line.quantity * periods
    return total
