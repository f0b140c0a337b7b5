"""Reseller prices from Microsoft cost: markup or a fixed list price, with price protection.

Rounding: a marked-up price is rounded half up (ties away from zero) to the minor unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from hub.domain.enums import BillingCycle, Term
from hub.domain.reference import PriceListEntry
from hub.errors import BusinessRuleViolation, ValidationFailed

_BPS = Decimal(10_000)


class UnitPrice(BaseModel):
    """Cost and price of one seat for one billing period, in one currency."""

    model_config = ConfigDict(frozen=True)

    unit_cost_minor: int
    unit_price_minor: int
    currency: str
    effective_from: date


def round_half_up(value: Decimal) -> int:
    """Round to an integer, ties away from zero: the one rounding rule for money here."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def markup_price(cost_minor: int, markup_bps: int) -> int:
    """``cost * (1 + markup_bps / 10000)``, rounded half up to the minor unit."""
    if markup_bps < -10_000:
        raise ValidationFailed("markup_bps", markup_bps, "cannot sell below zero")
    return round_half_up(Decimal(cost_minor) * (_BPS + markup_bps) / _BPS)


def price_entry_on(
    entries: Iterable[PriceListEntry],
    *,
    product_id: str,
    sku_id: str,
    availability_id: str,
    term: Term,
    billing_cycle: BillingCycle,
    currency: str,
    on: date,
) -> PriceListEntry:
    """The entry in force on ``on`` (``effective_to`` is the last day it applies).

    When entries overlap, the one that started latest wins: a new price list supersedes.
    """
    best: PriceListEntry | None = None
    for entry in entries:
        if (
            entry.product_id == product_id
            and entry.sku_id == sku_id
            and entry.availability_id == availability_id
            and entry.term == term
            and entry.billing_cycle == billing_cycle
            and entry.currency == currency
            and entry.effective_from <= on
            and (entry.effective_to is None or on <= entry.effective_to)
            and (best is None or entry.effective_from > best.effective_from)
        ):
            best = entry
    if best is None:
        item = f"{product_id}:{sku_id}:{availability_id}"
        raise BusinessRuleViolation(
            "NoPrice", f"no {currency} price for {item} {term}/{billing_cycle} on {on}"
        )
    return best


def unit_price(entry: PriceListEntry, markup_bps: int) -> UnitPrice:
    """The reseller's price: the entry's fixed list price if it has one, else cost plus markup."""
    price = (
        entry.unit_price_minor
        if entry.unit_price_minor is not None
        else markup_price(entry.unit_cost_minor, markup_bps)
    )
    return UnitPrice(
        unit_cost_minor=entry.unit_cost_minor,
        unit_price_minor=price,
        currency=entry.currency,
        effective_from=entry.effective_from,
    )


def protected_unit_price(
    entries: Iterable[PriceListEntry],
    *,
    product_id: str,
    sku_id: str,
    availability_id: str,
    term: Term,
    billing_cycle: BillingCycle,
    currency: str,
    term_start: date,
    markup_bps: int,
) -> UnitPrice:
    """Price protection: the entry in force when the term started holds until renewal.

    A renewal starts a new term, so the caller passes the renewal date and gets the new price.
    """
    entry = price_entry_on(
        entries,
        product_id=product_id,
        sku_id=sku_id,
        availability_id=availability_id,
        term=term,
        billing_cycle=billing_cycle,
        currency=currency,
        on=term_start,
    )
    return unit_price(entry, markup_bps)
