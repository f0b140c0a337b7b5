"""A payee's monthly statement: per plan, what was accrued, reversed and is payable, the tier
reached, and every tier change of the month explained in words."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from hub.domain.incentives.accrual import MonthTotals, TierChange
from hub.domain.incentives.plans import Plan
from hub.domain.money import Money
from hub.domain.pricing import round_half_up


class PlanStatement(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan_id: str
    kind: str
    currency: str
    accrued_minor: int
    reversed_minor: int
    reversed_by_reason: dict[str, int]
    capped_minor: int
    payable_minor: int
    tier: str
    measure: str
    tier_changes: tuple[str, ...]


class Statement(BaseModel):
    model_config = ConfigDict(frozen=True)

    payee: str
    period: str
    plans: tuple[PlanStatement, ...]

    def payable_by_currency(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.plans:
            out[p.currency] = out.get(p.currency, 0) + p.payable_minor
        return dict(sorted(out.items()))


def _amount(plan: Plan, measure: str | int) -> str:
    if plan.tier_basis == "seat_growth":
        return f"{measure} seats"
    minor = round_half_up(Decimal(measure))
    return f"{Money.of(minor, plan.currency).to_decimal()} {plan.currency}"


def explain(plan: Plan, change: TierChange) -> str:
    """One sentence a payee can read: which revenue moved the tier, and what it means."""
    measure = "net seats added" if plan.tier_basis == "seat_growth" else "recognised revenue"
    before, after = _amount(plan, change.measure_before), _amount(plan, change.measure_after)
    threshold = _amount(plan, change.threshold)
    to_index = next(i for i, t in enumerate(plan.tiers) if t.name == change.to_tier)
    from_index = next(i for i, t in enumerate(plan.tiers) if t.name == change.from_tier)
    if to_index > from_index:
        return (
            f"tier {change.to_tier} reached on {change.source_id}: {measure} went from {before} "
            f"to {after}, past {threshold}; what lies above {threshold} accrues at "
            f"{change.to_tier} rates, what lies below it at {change.from_tier} rates"
        )
    return (
        f"back to tier {change.to_tier} on {change.source_id}: {measure} went from {before} "
        f"to {after}, below {threshold}"
    )


def statement(payee: str, period: str, months: Iterable[tuple[Plan, MonthTotals]]) -> Statement:
    """The payee's statement for ``period`` from each plan's month (no month: nothing accrued)."""
    plans = []
    for plan, totals in sorted(months, key=lambda item: item[0].plan_id):
        plans.append(
            PlanStatement(
                plan_id=plan.plan_id,
                kind=plan.kind,
                currency=plan.currency,
                accrued_minor=totals.accrued_minor,
                reversed_minor=totals.reversed_minor,
                reversed_by_reason=dict(sorted(totals.reversed_by_reason.items())),
                capped_minor=totals.capped_minor,
                payable_minor=totals.payable_minor,
                tier=plan.tiers[min(totals.tier, len(plan.tiers) - 1)].name,
                measure=totals.measure,
                tier_changes=tuple(explain(plan, c) for c in totals.tier_changes),
            )
        )
    return Statement(payee=payee, period=period, plans=tuple(plans))
