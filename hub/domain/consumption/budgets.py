"""Consumption budgets: thresholds of a monthly budget that fire once each per period.

A budget belongs to a reseller (all its customers) or to one customer. Spending can go down
(a lower final figure, a correction) and up again: a threshold that fired stays fired for the
period, so it never fires twice; a new period starts with none fired.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_THRESHOLDS = (50, 80, 100)


class Budget(BaseModel):
    """A monthly budget in minor units of the reseller's currency, with percent thresholds."""

    model_config = ConfigDict(frozen=True)

    amount_minor: int = Field(gt=0)
    currency: str
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(t <= 0 or t > 1000 for t in value):
            raise ValueError("thresholds are percentages in 1..1000, at least one")
        return tuple(sorted(set(value)))


def reached(threshold: int, budget_minor: int, spent_minor: int) -> bool:
    """``spent`` is at or above ``threshold`` percent of the budget (exact integers)."""
    return spent_minor * 100 >= threshold * budget_minor


def newly_crossed(budget: Budget, spent_minor: int, fired: Collection[int]) -> Sequence[int]:
    """The thresholds ``spent_minor`` reaches that have not fired yet this period, ascending."""
    return [
        t
        for t in budget.thresholds
        if t not in fired and reached(t, budget.amount_minor, spent_minor)
    ]
