"""Accrual of incentives on recognised revenue, and their clawback, exactly in minor units.

Each plan keeps, per month, a running total (``MonthTotals``: the month's tier measure, what
it accrued and reversed) and one cumulative bucket per tier, family and rate (``Bucket``).
An event's accrual in a bucket is the rounded cumulative incentive minus what the bucket had
accrued before, so however a month's revenue arrives, the accruals of a bucket always sum to
``round(rate x revenue)`` exactly (rounding: half away from zero, on the cumulative).

Tiers are marginal: revenue that carries the month's measure over a threshold is split, the
part below at the lower tier's rates and the part above at the higher tier's. A clawback is an
explicit reversal line per accrual line it reverses, never an edit of the accrual.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.incentives.plans import Plan
from hub.domain.pricing import round_half_up

BPS = Decimal(10_000)
# A month's statement explains at most this many tier changes (each is small; the measure
# may cross thresholds back and forth when revenue is adjusted down).
TIER_CHANGES_KEPT = 32

_LINES = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hub:incentives:line")

LineKind = Literal["accrual", "reversal"]
Reason = Literal["recognised", "refund_7_day", "written_off", "revenue_adjusted"]


class RevenueFact(BaseModel):
    """Revenue recognised for a reseller in a month (negative: an adjustment down).

    ``source_id`` names the recognition once ("rev:<charge>:<period>"): the same source again
    accrues nothing. ``after_refund``: a negative amount that follows a 7-day refund.
    """

    model_config = ConfigDict(frozen=True)

    source_id: str
    reseller_id: str
    charge_id: str
    subscription_id: str
    product_id: str
    period: str
    amount_minor: int
    currency: str
    after_refund: bool = False


class Bucket(BaseModel):
    """Revenue (payout minor units, exact) and incentive accrued so far, before any cap."""

    model_config = ConfigDict(frozen=True)

    revenue: str = "0"
    accrued_minor: int = 0


class TierChange(BaseModel):
    """The month's tier moved: which revenue moved it and where the measure went."""

    model_config = ConfigDict(frozen=True)

    from_tier: str
    to_tier: str
    source_id: str
    measure_before: str
    measure_after: str
    threshold: int


class MonthTotals(BaseModel):
    """One plan's month: the tier measure and what was accrued and reversed."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    payee: str
    period: str
    currency: str
    measure: str = "0"
    tier: int = 0
    accrued_minor: int = 0
    reversed_minor: int = 0
    capped_minor: int = 0
    reversed_by_reason: dict[str, int] = Field(default_factory=dict)
    lines: int = 0
    tier_changes: tuple[TierChange, ...] = ()

    @property
    def payable_minor(self) -> int:
        return self.accrued_minor - self.reversed_minor


class IncentiveLine(BaseModel):
    """One line of a payee's statement: an accrual, or a reversal of one (``reverses``)."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    plan_id: str
    payee: str
    period: str
    kind: LineKind
    reason: Reason
    source_id: str
    reseller_id: str
    charge_id: str
    subscription_id: str
    family: str
    tier: str
    rate_bps: int
    revenue_minor: str = Field(description="the revenue it is on, payout minor units, exact")
    amount_minor: int = Field(description="payout minor units; negative for a reversal")
    capped_minor: int = 0
    currency: str
    reverses: str | None = None


def line_id(*parts: object) -> str:
    """A line's id: the same parts (plan, source, part; or the line reversed, reason,
    source) give the same id, whatever their length."""
    return str(uuid.uuid5(_LINES, json.dumps([str(p) for p in parts])))


def bucket_key(tier: str, family: str, rate_bps: int) -> str:
    return f"{tier}|{family}|{rate_bps}"


class Accrual(BaseModel):
    model_config = ConfigDict(frozen=True)

    lines: tuple[IncentiveLine, ...]
    totals: MonthTotals
    buckets: dict[str, Bucket]  # the buckets it changed, by ``bucket_key``


def _portions(plan: Plan, before: Decimal, amount: Decimal) -> list[tuple[int, Decimal]]:
    """``amount`` of revenue moving the measure from ``before``, split by the tier each part
    falls in (signed like ``amount``), lowest tier first for a rise, highest first for a fall."""
    if plan.tier_basis == "seat_growth":
        return [(plan.tier_index(before), amount)] if amount else []
    after = before + amount
    low, high = min(before, after), max(before, after)
    sign = 1 if amount > 0 else -1
    out: list[tuple[int, Decimal]] = []
    for i, tier in enumerate(plan.tiers):
        start = Decimal(tier.from_measure) if i else Decimal("-Infinity")
        end = (
            Decimal(plan.tiers[i + 1].from_measure)
            if i + 1 < len(plan.tiers)
            else Decimal("Infinity")
        )
        part = min(high, end) - max(low, start)
        if part > 0:
            out.append((i, sign * part))
    return out if amount > 0 else out[::-1]


def _moved(plan: Plan, totals: MonthTotals, source_id: str, measure: Decimal) -> MonthTotals:
    tier = plan.tier_index(measure)
    changes = totals.tier_changes
    if tier != totals.tier:
        up = tier > totals.tier
        change = TierChange(
            from_tier=plan.tiers[totals.tier].name,
            to_tier=plan.tiers[tier].name,
            source_id=source_id,
            measure_before=totals.measure,
            measure_after=str(measure),
            threshold=plan.tiers[tier if up else totals.tier].from_measure,
        )
        changes = (*changes, change)[-TIER_CHANGES_KEPT:]
    update = {"measure": str(measure), "tier": tier, "tier_changes": changes}
    return totals.model_copy(update=update)


def accrue(
    plan: Plan, totals: MonthTotals, buckets: Mapping[str, Bucket], fact: RevenueFact
) -> Accrual:
    """The incentive ``plan`` accrues on ``fact`` given the month so far.

    ``buckets``: the month's buckets by ``bucket_key`` (a missing one is empty). A negative
    amount accrues negatively, as a reversal line when it follows a refund or is an adjustment.
    """
    family = plan.family_of(fact.product_id)
    revenue = plan.to_payout(fact.amount_minor, fact.currency)
    before = Decimal(totals.measure)
    lines: list[IncentiveLine] = []
    changed: dict[str, Bucket] = {}
    accrued, capped = totals.accrued_minor, totals.capped_minor
    for n, (index, part) in enumerate(_portions(plan, before, revenue)):
        tier = plan.tiers[index]
        rate = tier.rate_for(family)
        key = bucket_key(tier.name, family, rate)
        bucket = changed.get(key) or buckets.get(key) or Bucket()
        cumulative = Decimal(bucket.revenue) + part
        now = round_half_up(cumulative * rate / BPS)
        amount = now - bucket.accrued_minor
        changed[key] = Bucket(revenue=str(cumulative), accrued_minor=now)
        cut = 0
        if plan.cap_minor is not None and amount > 0:
            cut = max(0, amount - max(0, plan.cap_minor - accrued))
        booked = amount - cut
        accrued += booked
        capped += cut
        negative = fact.amount_minor < 0
        reason: Reason = "recognised"
        if negative:
            reason = "refund_7_day" if fact.after_refund else "revenue_adjusted"
        lines.append(
            IncentiveLine(
                line_id=line_id(plan.plan_id, fact.source_id, n),
                plan_id=plan.plan_id,
                payee=plan.payee,
                period=fact.period,
                kind="reversal" if negative else "accrual",
                reason=reason,
                source_id=fact.source_id,
                reseller_id=fact.reseller_id,
                charge_id=fact.charge_id,
                subscription_id=fact.subscription_id,
                family=family,
                tier=tier.name,
                rate_bps=rate,
                revenue_minor=str(part),
                amount_minor=booked,
                capped_minor=cut,
                currency=plan.currency,
            )
        )
    if plan.tier_basis == "revenue":
        totals = _moved(plan, totals, fact.source_id, before + revenue)
    # A negative accrual (an adjustment down) counts as reversed on the statement.
    gained = sum(ln.amount_minor for ln in lines if ln.kind == "accrual")
    totals = book_reversals(
        totals.model_copy(
            update={
                "accrued_minor": totals.accrued_minor + gained,
                "capped_minor": capped,
                "lines": totals.lines + len(lines) - sum(1 for ln in lines if ln.kind != "accrual"),
            }
        ),
        [ln for ln in lines if ln.kind == "reversal"],
    )
    return Accrual(lines=tuple(lines), totals=totals, buckets=changed)


def count_seats(plan: Plan, totals: MonthTotals, source_id: str, delta: int) -> MonthTotals:
    """Net seats added in the month move a ``seat_growth`` plan's tier (others ignore them)."""
    if plan.tier_basis != "seat_growth" or not delta:
        return totals
    return _moved(plan, totals, source_id, Decimal(totals.measure) + delta)


def reverse(
    line: IncentiveLine,
    already_reversed_minor: int,
    *,
    period: str,
    reason: Reason,
    source_id: str,
    numerator: int = 1,
    denominator: int = 1,
) -> IncentiveLine | None:
    """The reversal of ``numerator/denominator`` of ``line`` (an accrual), in ``period``.

    Never more than what is left of it after ``already_reversed_minor``: a write-off after a
    partial refund reverses the rest, and a full reversal leaves the accrual at exactly zero.
    None when nothing is left to reverse.
    """
    if not 0 < numerator <= denominator:
        raise ValueError(f"reverse a fraction in (0, 1], got {numerator}/{denominator}")
    left = line.amount_minor - already_reversed_minor
    share = round_half_up(Decimal(line.amount_minor) * numerator / denominator)
    if numerator == denominator:
        amount = left
    else:
        amount = min(share, left) if left > 0 else max(share, left)
    if amount == 0:
        return None
    return IncentiveLine(
        line_id=line_id(line.line_id, reason, source_id),
        plan_id=line.plan_id,
        payee=line.payee,
        period=period,
        kind="reversal",
        reason=reason,
        source_id=source_id,
        reseller_id=line.reseller_id,
        charge_id=line.charge_id,
        subscription_id=line.subscription_id,
        family=line.family,
        tier=line.tier,
        rate_bps=line.rate_bps,
        revenue_minor=str(-Decimal(line.revenue_minor) * numerator / denominator),
        amount_minor=-amount,
        currency=line.currency,
        reverses=line.line_id,
    )


def book_reversals(totals: MonthTotals, reversals: Sequence[IncentiveLine]) -> MonthTotals:
    """``totals`` of the month the reversals are booked in, with them counted."""
    by_reason = dict(totals.reversed_by_reason)
    for r in reversals:
        by_reason[r.reason] = by_reason.get(r.reason, 0) - r.amount_minor
    return totals.model_copy(
        update={
            "reversed_minor": totals.reversed_minor - sum(r.amount_minor for r in reversals),
            "reversed_by_reason": by_reason,
            "lines": totals.lines + len(reversals),
        }
    )
