"""Billing arithmetic of the simulator: terms, billing periods and daily proration in Decimal.

Subtotal follows Microsoft's license formula: ROUNDDOWN(EffectiveUnitPrice, 2) * quantity.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from hub.domain.enums import BillingCycle, Term
from hub.domain.money import exponent

TERM_MONTHS: dict[Term, int] = {Term.P1M: 1, Term.P1Y: 12, Term.P3Y: 36}
CYCLE_MONTHS: dict[BillingCycle, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.ANNUAL: 12,
    BillingCycle.TRIENNIAL: 36,
}
_EFFECTIVE_PRICE_QUANTUM = Decimal("0.000001")


def add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month ``months`` later, clamped to the month's last day (Jan 31 -> Feb 28)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def billing_period_months(term: Term, cycle: BillingCycle) -> int | None:
    """Months per billed period, or None where the cycle is longer than the term."""
    cycle_months, term_months = CYCLE_MONTHS[cycle], TERM_MONTHS[term]
    return cycle_months if cycle_months <= term_months else None


def calendar_days(start: datetime, end: datetime) -> int:
    return max(0, (end.date() - start.date()).days)


def remaining_days(now: datetime, period_start: datetime, period_end: datetime) -> int:
    """Calendar days from the change to the period end: a change on day 0 frees every day."""
    total = calendar_days(period_start, period_end)
    used = calendar_days(period_start, now)
    return max(0, total - used)


def prorated_unit_price(unit_price: Decimal, days: int, period_days: int) -> Decimal:
    if period_days <= 0:
        raise ValueError("a billing period has at least one day")
    if days == period_days:
        return unit_price
    share = unit_price * Decimal(days) / Decimal(period_days)
    return share.quantize(_EFFECTIVE_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def line_subtotal(
    effective_unit_price: Decimal,
    billable_quantity: int,
    currency: str,
    exchange_rate: Decimal = Decimal(1),
) -> Decimal:
    """``ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2) x BillableQuantity``: the
    licence formula of "Modern invoice reconciliation file", in the billing ``currency``."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    unit = effective_unit_price * exchange_rate
    return unit.quantize(quantum, rounding=ROUND_DOWN) * billable_quantity


def pricing_unit_price(unit_price: Decimal, exchange_rate: Decimal) -> Decimal:
    """A billing-currency price in the pricing currency (``PCToBCExchangeRate`` converts it
    back); six decimals, as Microsoft writes prices."""
    if exchange_rate == 1:
        return unit_price
    return (unit_price / exchange_rate).quantize(_EFFECTIVE_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def tax_on(subtotal: Decimal, rate: Decimal, currency: str) -> Decimal:
    quantum = Decimal(1).scaleb(-exponent(currency))
    return (subtotal * rate).quantize(quantum, rounding=ROUND_HALF_EVEN)
