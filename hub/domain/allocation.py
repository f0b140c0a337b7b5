"""Service-credit pass-through: split an approved Microsoft credit across affected subscriptions.

Exact minor units by the largest-remainder method; what cannot be allocated is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

from hub.domain.money import exponent
from hub.errors import ValidationFailed

_ONE = Decimal(1)
# Every month length divides this, so a day share of a fee is an exact integer once scaled.
_DAYS_LCM = math.lcm(28, 29, 30, 31)


class AffectedSubscription(NamedTuple):
    """One subscription hit by an incident.

    ``monthly_fee_minor`` is what the customer pays per month, in the customer's currency.
    ``rate_to_distributor`` is distributor-currency units per one customer-currency unit
    (1 when both are the same). A suite lists its per-service monthly fee shares in
    ``service_fees`` (minor units, customer currency); then only the affected service's share
    counts, both as weight and as cap. ``fx_rate``, when given, is the rate as an approval
    states it: customer-currency units per one distributor-currency unit; the conversion then
    uses it exactly (its inverse as ``rate_to_distributor`` would be a rounded decimal) and
    ``rate_to_distributor`` only shows that inverse.

    A named tuple, not a pydantic model: an approval can touch a million of these and
    per-item validation would dominate; ``allocate_credit`` checks each item in its loop.
    """

    subscription_id: str
    customer_id: str
    reseller_id: str
    service: str
    currency: str
    monthly_fee_minor: int
    affected_days: int
    days_in_month: int
    rate_to_distributor: Decimal = _ONE
    service_fees: tuple[tuple[str, int], ...] = ()
    fx_rate: Decimal | None = None

    def ratio_to_distributor(self) -> tuple[int, int]:
        """The exact rate to the distributor currency as (numerator, denominator)."""
        if self.fx_rate is not None:
            num, den = self.fx_rate.as_integer_ratio()
            return den, num
        return self.rate_to_distributor.as_integer_ratio()

    def fee_for(self, service: str | None) -> int:
        """The monthly fee of ``service`` in this subscription (all of it when not a suite)."""
        if self.service_fees:
            if service is None:
                return self.monthly_fee_minor
            for name, fee in self.service_fees:
                if name == service:
                    return fee
            return 0
        if service is None or service == self.service:
            return self.monthly_fee_minor
        return 0


class CreditAllocation(NamedTuple):
    """The part of an approved credit one subscription receives, in both currencies."""

    subscription_id: str
    customer_id: str
    reseller_id: str
    service: str
    amount_minor: int
    currency: str
    customer_amount_minor: int
    customer_currency: str
    rate_to_distributor: Decimal
    fx_rate: Decimal | None = None

    def fx_difference_minor(self) -> Decimal:
        """Distributor-currency minor units lost (+) or gained (-) converting to the customer.

        The customer amount is the distributor amount divided by the rate (or times the stated
        ``fx_rate``), rounded half up to the customer's minor unit; this is what that rounding
        leaves over: exact for a ``rate_to_distributor``, to 28 digits for a stated ``fx_rate``
        whose inverse has no finite decimal.
        """
        shift = exponent(self.currency) - exponent(self.customer_currency)
        if self.fx_rate is not None:
            converted = Decimal(self.customer_amount_minor) / self.fx_rate
        else:
            converted = Decimal(self.customer_amount_minor) * self.rate_to_distributor
        return Decimal(self.amount_minor) - converted.scaleb(shift)


class RemainderReason(StrEnum):
    NONE = "none"
    CAPS_REACHED = "caps_reached"
    NO_ELIGIBLE_FEES = "no_eligible_fees"


@dataclass(frozen=True, slots=True)
class AllocationResult:
    """Who gets what; ``allocated_minor + remainder_minor == approved_minor`` always."""

    approved_minor: int
    currency: str
    allocations: tuple[CreditAllocation, ...]
    remainder_minor: int
    remainder_reason: RemainderReason

    @property
    def allocated_minor(self) -> int:
        return sum(a.amount_minor for a in self.allocations)

    def fx_difference_minor(self) -> Decimal:
        """Total conversion rounding over all allocations, in distributor minor units."""
        return sum((a.fx_difference_minor() for a in self.allocations), Decimal(0))


def _check(sub: AffectedSubscription, distributor_currency: str) -> None:
    if sub.monthly_fee_minor < 0:
        raise ValidationFailed("monthly_fee_minor", sub.monthly_fee_minor, "must be >= 0")
    if not 28 <= sub.days_in_month <= 31:
        raise ValidationFailed("days_in_month", sub.days_in_month, "must be 28..31")
    if not 0 <= sub.affected_days <= sub.days_in_month:
        raise ValidationFailed("affected_days", sub.affected_days, "must be 0..days_in_month")
    if sub.rate_to_distributor <= 0:
        raise ValidationFailed("rate_to_distributor", sub.rate_to_distributor, "must be > 0")
    if sub.currency == distributor_currency and sub.rate_to_distributor != _ONE:
        raise ValidationFailed("rate_to_distributor", sub.rate_to_distributor, "same currency")
    if sub.fx_rate is not None:
        if sub.fx_rate <= 0:
            raise ValidationFailed("fx_rate", sub.fx_rate, "must be > 0")
        if sub.currency == distributor_currency and sub.fx_rate != _ONE:
            raise ValidationFailed("fx_rate", sub.fx_rate, "same currency")
    for name, fee in sub.service_fees:
        if fee < 0:
            raise ValidationFailed(f"service_fees[{name}]", fee, "must be >= 0")


def allocate_credit(
    approved_minor: int,
    currency: str,
    affected: Sequence[AffectedSubscription],
    *,
    service: str | None = None,
    by_affected_days: bool = True,
) -> AllocationResult:
    """Split ``approved_minor`` (distributor ``currency``) pro rata across ``affected``.

    Weight: the monthly fee of ``service`` (the whole fee when ``service`` is None) converted
    to the distributor currency, times ``affected_days / days_in_month`` (or the full fee when
    ``by_affected_days`` is false, as for SLA-tier credits where uptime already prices the
    outage). Cap: that service's monthly fee in the distributor currency, rounded down.
    Capped subscriptions are taken out and their excess re-spread until nothing new caps; the
    rest is split by largest remainder, ties to the lower ``subscription_id``. Each part is
    converted to the customer's currency at its rate, rounded half up (never above the fee).
    Zero parts are not listed; the rest keep the input order, and which subscription gets
    what does not depend on that order.
    """
    if approved_minor < 0:
        raise ValidationFailed("approved_minor", approved_minor, "must be >= 0")
    dist_exp = exponent(currency)
    n = len(affected)
    # Per distinct (currency, rate), a fee converts to distributor minor units exactly as
    # fee * num / den; weights stay integers by scaling everything to a common denominator.
    fx_index: dict[tuple[str, Decimal, Decimal | None], int] = {}
    nums: list[int] = []
    dens: list[int] = []
    idx = [0] * n
    fees = [0] * n
    day_weights = [0] * n
    seen: set[str] = set()
    for i, sub in enumerate(affected):
        sid, _, _, svc, cur, fee, aff, dim, rate, shares, stated = sub
        if fee < 0 or not 28 <= dim <= 31 or not 0 <= aff <= dim or shares:
            _check(sub, currency)  # the slow, precise check only where it can fail
        if sid in seen:
            raise ValidationFailed("subscription_id", sid, "listed twice")
        seen.add(sid)
        k = fx_index.get((cur, rate, stated))
        if k is None:
            _check(sub, currency)
            num, den = sub.ratio_to_distributor()
            k = fx_index[(cur, rate, stated)] = len(nums)
            nums.append(num * 10**dist_exp)
            dens.append(den * 10 ** exponent(cur))
        idx[i] = k
        if shares or (service is not None and svc != service):
            fee = sub.fee_for(service)
        fees[i] = fee
        day_weights[i] = fee * (aff if by_affected_days else dim) * (_DAYS_LCM // dim)
    del seen

    if len(nums) == 1:
        # Weights only matter relative to each other: one currency needs no rescaling.
        num0, den0 = nums[0], dens[0]
        weights = day_weights
        caps = fees if num0 == den0 else [f * num0 // den0 for f in fees]
    else:
        common = 1
        for den in dens:
            common = math.lcm(common, den)
        mult = [num * (common // den) for num, den in zip(nums, dens, strict=True)]
        weights = [w * mult[k] for w, k in zip(day_weights, idx, strict=True)]
        caps = [f * nums[k] // dens[k] for f, k in zip(fees, idx, strict=True)]
    del day_weights

    parts = _spread(approved_minor, weights, caps, [s.subscription_id for s in affected])
    remainder = approved_minor - sum(parts)
    reason = RemainderReason.NONE
    if remainder:
        reason = RemainderReason.CAPS_REACHED if any(weights) else RemainderReason.NO_ELIGIBLE_FEES

    return _result(approved_minor, currency, affected, service, parts, idx, nums, dens, reason)


def _result(
    approved_minor: int,
    currency: str,
    affected: Sequence[AffectedSubscription],
    service: str | None,
    parts: list[int],
    idx: list[int],
    nums: list[int],
    dens: list[int],
    reason: RemainderReason,
) -> AllocationResult:
    """The allocations of ``parts``, each converted to the customer's currency half up."""
    out: list[CreditAllocation] = []
    append = out.append
    # tuple.__new__ skips the generated keyword wrapper: a third of the time at a million.
    make = tuple.__new__
    for i, sub in enumerate(affected):
        part = parts[i]
        if part == 0:
            continue
        k = idx[i]
        num, den = nums[k], dens[k]
        if num == den:
            customer = part
        else:
            customer, r = divmod(part * den, num)
            if 2 * r >= num:
                customer += 1
        append(
            make(
                CreditAllocation,
                (
                    sub.subscription_id,
                    sub.customer_id,
                    sub.reseller_id,
                    sub.service if service is None else service,
                    part,
                    currency,
                    customer,
                    sub.currency,
                    sub.rate_to_distributor,
                    sub.fx_rate,
                ),
            )
        )
    remainder = approved_minor - sum(parts)
    return AllocationResult(approved_minor, currency, tuple(out), remainder, reason)


def _spread(amount: int, weights: list[int], caps: list[int], ids: list[str]) -> list[int]:
    """Largest-remainder split of ``amount`` by ``weights``, capped, ties by ``ids``."""
    n = len(weights)
    parts = [0] * n
    active = [i for i in range(n) if weights[i] > 0 and caps[i] > 0]
    left = amount
    total = sum(weights[i] for i in active)
    # Water-filling: whoever's exact share reaches its cap takes the cap and leaves; the
    # share of the others can only grow, so repeat until a round caps nobody.
    while active and total > 0:
        capped = [i for i in active if left * weights[i] >= caps[i] * total]
        if not capped:
            break
        for i in capped:
            parts[i] = caps[i]
            left -= caps[i]
            total -= weights[i]
        capped_set = set(capped)
        active = [i for i in active if i not in capped_set]
    if not active or total == 0:
        return parts
    rems = [0] * len(active)
    given = 0
    for j, i in enumerate(active):
        q, r = divmod(left * weights[i], total)
        parts[i] = q
        rems[j] = r
        given += q
    extra = left - given
    if extra == 0:
        return parts
    # The extra units go to the largest remainders; the cut-off value may be shared, and the
    # tied ones are ordered by subscription id so the result never depends on input order.
    cutoff = sorted(rems, reverse=True)[extra - 1]
    tied: list[int] = []
    for j, i in enumerate(active):
        if rems[j] > cutoff:
            parts[i] += 1
            extra -= 1
        elif rems[j] == cutoff:
            tied.append(i)
    tied.sort(key=ids.__getitem__)
    for i in tied[:extra]:
        parts[i] += 1
    return parts


# SLA credit tiers by service: (uptime below this percentage, credit percentage), strictest last.
SLA_TIERS: dict[str, tuple[tuple[Decimal, int], ...]] = {
    **{
        name: ((Decimal("99.9"), 25), (Decimal("99"), 50), (Decimal("95"), 100))
        for name in ("microsoft365", "exchange", "sharepoint", "teams", "onedrive", "intune")
    },
    "azure-vm": ((Decimal("99.99"), 10), (Decimal("99"), 25), (Decimal("95"), 100)),
}


def tier_percentage(service: str, uptime_pct: Decimal) -> int:
    """Credit percentage for a month's uptime; 0 when the SLA was met."""
    tiers = SLA_TIERS.get(service)
    if tiers is None:
        raise ValidationFailed("service", service, "no SLA tiers known for this service")
    if not Decimal(0) <= uptime_pct <= Decimal(100):
        raise ValidationFailed("uptime_pct", uptime_pct, "must be 0..100")
    pct = 0
    for below, credit in tiers:
        if uptime_pct < below:
            pct = credit
    return pct


def credit_from_tier(service: str, uptime_pct: Decimal, monthly_fee_minor: int) -> int:
    """The tier's share of one monthly fee, rounded down so a credit never exceeds the SLA."""
    if monthly_fee_minor < 0:
        raise ValidationFailed("monthly_fee_minor", monthly_fee_minor, "must be >= 0")
    return monthly_fee_minor * tier_percentage(service, uptime_pct) // 100


def allocate_tier_credit(
    service: str,
    uptime_pct: Decimal,
    currency: str,
    affected: Sequence[AffectedSubscription],
) -> AllocationResult:
    """Credit every affected subscription the tier's share of its ``service`` fee.

    The total is the tier share of all capped fees (distributor currency, rounded down) and
    is spread by full monthly fee, so each part is the tier share within one minor unit.
    """
    return allocate_percentage(
        tier_percentage(service, uptime_pct), currency, affected, service=service
    )


def allocate_percentage(
    percentage: int,
    currency: str,
    affected: Sequence[AffectedSubscription],
    *,
    service: str | None = None,
) -> AllocationResult:
    """Credit every affected subscription ``percentage`` % of its ``service`` fee.

    The total is that share of the sum of the *exact* converted fees (distributor currency,
    rounded down once), spread by the same exact fees, so each part is within one minor unit of
    its exact share for any mix of currencies and rates. (Rounding each converted fee down
    before summing, but spreading by the unrounded fees, would hand every converted
    subscription's rounding loss to the others.)
    """
    if not 0 <= percentage <= 100:
        raise ValidationFailed("percentage", percentage, "must be 0..100")
    dist_exp = exponent(currency)
    nums: list[int] = []
    dens: list[int] = []
    shares: list[Fraction] = []
    caps: list[int] = []
    seen: set[str] = set()
    for sub in affected:
        _check(sub, currency)
        if sub.subscription_id in seen:
            raise ValidationFailed("subscription_id", sub.subscription_id, "listed twice")
        seen.add(sub.subscription_id)
        num, den = sub.ratio_to_distributor()
        nums.append(num * 10**dist_exp)
        dens.append(den * 10 ** exponent(sub.currency))
        converted = Fraction(sub.fee_for(service) * nums[-1], dens[-1])
        shares.append(converted * percentage / 100)
        caps.append(math.floor(converted))  # never more than the fee
    approved = math.floor(sum(shares, Fraction(0)))
    # Each part is its exact share rounded down, the units left over going to the largest
    # fractions (ties to the lower subscription id), so every part is within one minor unit.
    parts = [min(math.floor(share), cap) for share, cap in zip(shares, caps, strict=True)]
    order = sorted(
        range(len(parts)), key=lambda i: (-(shares[i] - parts[i]), affected[i].subscription_id)
    )
    left = approved - sum(parts)
    for i in order:
        if left == 0:
            break
        if parts[i] < caps[i] and shares[i] > parts[i]:
            parts[i] += 1
            left -= 1
    reason = RemainderReason.NONE
    if left:
        reason = RemainderReason.CAPS_REACHED if any(caps) else RemainderReason.NO_ELIGIBLE_FEES
    idx = list(range(len(parts)))
    return _result(approved, currency, affected, service, parts, idx, nums, dens, reason)


def allocate_approved(
    currency: str,
    affected: Sequence[AffectedSubscription],
    *,
    service: str | None = None,
    amount_minor: int | None = None,
    percentage: int | None = None,
    customer_amounts: Mapping[str, int] | None = None,
) -> AllocationResult:
    """Allocate an approval as Microsoft stated it.

    Per-customer amounts, when given, are each split across that customer's subscriptions
    (a customer with none leaves its amount as remainder). Else a fixed amount is spread by
    fee x affected days, or by full fee when a tier percentage is also stated (the tier already
    prices the outage); a percentage alone credits that share of every fee.
    """
    if customer_amounts:
        return _per_customer(currency, affected, service, customer_amounts)
    if amount_minor is not None:
        by_days = percentage is None
        return allocate_credit(
            amount_minor, currency, affected, service=service, by_affected_days=by_days
        )
    if percentage is not None:
        return allocate_percentage(percentage, currency, affected, service=service)
    raise ValidationFailed("approval", None, "give an amount, a percentage or customer amounts")


def _per_customer(
    currency: str,
    affected: Sequence[AffectedSubscription],
    service: str | None,
    customer_amounts: Mapping[str, int],
) -> AllocationResult:
    by_customer: dict[str, list[AffectedSubscription]] = {}
    for sub in affected:
        by_customer.setdefault(sub.customer_id, []).append(sub)
    allocations: list[CreditAllocation] = []
    remainder = 0
    reasons: set[RemainderReason] = set()
    for customer_id in sorted(customer_amounts):
        part = allocate_credit(
            customer_amounts[customer_id],
            currency,
            by_customer.get(customer_id, []),
            service=service,
        )
        allocations.extend(part.allocations)
        remainder += part.remainder_minor
        reasons.add(part.remainder_reason)
    reason = RemainderReason.NONE
    if remainder:
        reason = (
            RemainderReason.CAPS_REACHED
            if RemainderReason.CAPS_REACHED in reasons
            else RemainderReason.NO_ELIGIBLE_FEES
        )
    total = sum(customer_amounts.values())
    return AllocationResult(total, currency, tuple(allocations), remainder, reason)
