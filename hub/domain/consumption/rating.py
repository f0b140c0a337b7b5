"""Consumption rating: the reseller's price for Microsoft's cost, in the reseller's currency.

Microsoft rates each day's usage in the pricing currency (``pricingPreTaxTotal``) and converts
it at its stated rate (``pcToBCExchangeRate``) into the billing currency
(``billingPreTaxTotal``). The hub prices from the figure in the reseller's currency: the billing
total when they match, the pricing total when the reseller is billed in the pricing currency,
else the billing total at the distributor's documented rate. Markup (or discount, negative) in
basis points applies per reseller, or per meter category where one is set.

Prices stay exact ``Decimal`` until they become money: a fact's price is never rounded on its
own; the accrual of a period is the rounded running total, so the deltas it emits sum exactly to
the rounded total however many versions and facts move it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from hub.domain.money import exponent

_BPS = Decimal(10_000)


class RatingError(ValueError):
    """Usage cannot be priced as given (no rate into the reseller's currency, bad figure)."""


@dataclass(frozen=True)
class ConsumptionPricing:
    """A reseller's consumption price rule: markup in basis points on Microsoft's cost
    (negative: a discount), per meter category where set, else the reseller's default."""

    default_bps: int
    by_category: Mapping[str, int] = field(default_factory=dict)

    def bps_for(self, meter_category: str) -> int:
        return self.by_category.get(meter_category, self.default_bps)


def cost_in(
    currency: str,
    *,
    pricing_currency: str,
    pricing_total: Decimal,
    billing_currency: str,
    billing_total: Decimal,
    fx_rates: Mapping[tuple[str, str], Decimal] | None = None,
) -> Decimal:
    """Microsoft's cost of a usage line in ``currency`` (exact, unrounded).

    ``fx_rates[(billing_currency, currency)]`` is the distributor's documented rate, used only
    when ``currency`` is neither Microsoft's billing nor its pricing currency.
    """
    if currency == billing_currency:
        return billing_total
    if currency == pricing_currency:
        return pricing_total
    rate = (fx_rates or {}).get((billing_currency, currency))
    if rate is None or rate <= 0:
        raise RatingError(
            f"no exchange rate from {billing_currency} to {currency}: "
            f"set one for {billing_currency}/{currency} in the consumption exchange rates"
        )
    return billing_total * rate


def price_of(cost: Decimal, bps: int) -> Decimal:
    """The reseller's price for ``cost``: exact, never rounded here."""
    if bps < -10_000:
        raise RatingError(f"a discount of {bps} bps would make the price negative")
    return cost * (_BPS + bps) / _BPS


def to_minor(amount: Decimal, currency: str) -> int:
    """``amount`` in minor units of ``currency``, rounded half to even, once."""
    scaled = amount.scaleb(exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def accrual_delta(before: Decimal, after: Decimal, currency: str) -> int:
    """How much an exact running total moving from ``before`` to ``after`` moves its rounded
    figure: the deltas of any sequence of moves sum to the rounded final total exactly."""
    return to_minor(after, currency) - to_minor(before, currency)


def split_minor(total_minor: int, weights: Sequence[Decimal]) -> list[int]:
    """Split ``total_minor`` over ``weights`` (>= 0) by largest remainder: each part within one
    minor unit of its exact share, the parts summing to ``total_minor`` exactly. Ties go to the
    earlier weight. With no weight at all, the parts are as even as they can be."""
    if not weights:
        if total_minor != 0:
            raise ValueError("cannot split a non-zero amount over nothing")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must be >= 0")
    sign = -1 if total_minor < 0 else 1
    amount = abs(total_minor)
    basis = list(weights) if sum(weights) > 0 else [Decimal(1)] * len(weights)
    whole = sum(basis)
    exact = [Decimal(amount) * w / whole for w in basis]
    parts = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = amount - sum(parts)
    order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [sign * p for p in parts]
