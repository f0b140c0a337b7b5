"""Reconciliation of Microsoft's billed usage against what the hub rated.

A billed line for (subscription, meter, day) is compared with the hub's fact: its quantity and
Microsoft's cost. Each difference is one finding: a billed line the hub never saw, a quantity
that differs, a cost that differs by more than the tolerance; and an unbilled fact with no
billed line once the billed file is complete for the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from hub.domain.consumption.facts import UsageFact


class UsageDifference(StrEnum):
    NOT_RATED = "billed_not_rated"  # Microsoft billed usage the hub has no fact of
    QUANTITY = "quantity_differs"
    COST = "cost_differs"


@dataclass(frozen=True)
class Finding:
    kind: UsageDifference
    expected: Decimal | None
    billed: Decimal


def compare(
    fact: UsageFact | None,
    billed_quantity: Decimal,
    billed_cost: Decimal,
    cost_tolerance: Decimal = Decimal("0.01"),
) -> list[Finding]:
    """The differences between Microsoft's billed figures and the hub's fact (none: agreed).

    The hub's fact is compared as it stood before the billed line was folded in, so pass the
    fact as the hub rated it.
    """
    if fact is None:
        return [Finding(UsageDifference.NOT_RATED, None, billed_cost)]
    found: list[Finding] = []
    if fact.current.quantity != billed_quantity:
        found.append(Finding(UsageDifference.QUANTITY, fact.current.quantity, billed_quantity))
    if abs(fact.current.cost - billed_cost) > cost_tolerance:
        found.append(Finding(UsageDifference.COST, fact.current.cost, billed_cost))
    return found
