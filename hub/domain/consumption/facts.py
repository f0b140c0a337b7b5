"""Usage facts: one per (subscription, meter, day), whose figures arrive in versions.

Partner Center first reports a day's usage as an unbilled *estimate* (and may revise it until it
is billed), then as a *final* billed figure, and now and then a *correction* after that. They
are versions of one fact, never separate charges: a later version replaces the earlier one and
only the difference accrues. A version that arrives after the fact's billing period was closed
cannot change the closed invoice: its difference becomes an *adjustment* for the next invoice,
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class UsageStage(StrEnum):
    """How settled a figure is; a later stage always supersedes an earlier one."""

    ESTIMATE = "estimate"
    FINAL = "final"
    CORRECTION = "correction"


_RANK = {UsageStage.ESTIMATE: 0, UsageStage.FINAL: 1, UsageStage.CORRECTION: 2}


def fact_key(subscription_id: str, meter_id: str, day: date) -> str:
    """The fact's identity: Partner Center ids are GUIDs and never contain ``|``."""
    return f"{subscription_id}|{meter_id}|{day.isoformat()}"


def period_of(day: date) -> str:
    """The calendar billing period (``YYYY-MM``) a usage day belongs to."""
    return f"{day.year:04d}-{day.month:02d}"


class UsageVersion(BaseModel):
    """One version of a fact's figures: its quantity, Microsoft's cost, and the hub's price.

    ``revision`` orders versions of the same stage (Partner Center revises estimates); the
    price is exact (unrounded, in the reseller's currency) so sums round once.
    """

    model_config = ConfigDict(frozen=True)

    stage: UsageStage
    revision: int = 0
    quantity: Decimal
    cost: Decimal
    price: Decimal
    reason: str | None = None

    @property
    def order(self) -> tuple[int, int]:
        return (_RANK[self.stage], self.revision)


class UsageFact(BaseModel):
    """The fact as the hub holds it: its current version and what of it has been invoiced."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    meter_id: str
    day: date
    current: UsageVersion
    # The price already invoiced (the figure of the version current at the period's close);
    # None while the period is open.
    invoiced_price: Decimal | None = None

    @property
    def key(self) -> str:
        return fact_key(self.subscription_id, self.meter_id, self.day)

    @property
    def period(self) -> str:
        return period_of(self.day)


class Outcome(StrEnum):
    NEW = "new"
    REPLACED = "replaced"
    STALE = "stale"  # an older or equal version: nothing changes (a redelivery, a late estimate)
    ADJUSTED = "adjusted"  # a newer version after the period closed: an adjustment line


@dataclass(frozen=True)
class FactChange:
    """What one version did to its fact: the fact after, and the price difference it makes.

    ``accrued_delta`` moves the open period's accrual; ``adjustment`` (only after the close)
    is what the next invoice must add or take back. At most one of the two is non-zero.
    """

    outcome: Outcome
    fact: UsageFact
    accrued_delta: Decimal = Decimal(0)
    adjustment: Decimal = Decimal(0)
    quantity_delta: Decimal = Decimal(0)


def apply_version(
    existing: UsageFact | None,
    subscription_id: str,
    meter_id: str,
    day: date,
    version: UsageVersion,
) -> FactChange:
    """Fold ``version`` into the fact it belongs to (``existing``, None for a first figure).

    The newest version (by stage, then revision) wins; anything not newer than the current one
    is ignored, so replays and out-of-order estimates never count twice. After the period's
    close (``invoiced_price`` set) the difference to the current figure is an adjustment; the
    fact's invoiced price then moves to the new figure, as the adjustment bills it.
    """
    if existing is None:
        fact = UsageFact(
            subscription_id=subscription_id, meter_id=meter_id, day=day, current=version
        )
        return FactChange(Outcome.NEW, fact, version.price, quantity_delta=version.quantity)
    if (existing.subscription_id, existing.meter_id, existing.day) != (
        subscription_id,
        meter_id,
        day,
    ):
        raise ValueError(
            f"version of {fact_key(subscription_id, meter_id, day)} for {existing.key}"
        )
    if version.order <= existing.current.order:
        return FactChange(Outcome.STALE, existing)
    delta = version.price - existing.current.price
    quantity_delta = version.quantity - existing.current.quantity
    if existing.invoiced_price is not None:
        fact = existing.model_copy(update={"current": version, "invoiced_price": version.price})
        return FactChange(Outcome.ADJUSTED, fact, adjustment=delta, quantity_delta=quantity_delta)
    fact = existing.model_copy(update={"current": version})
    return FactChange(Outcome.REPLACED, fact, delta, quantity_delta=quantity_delta)


def close_fact(fact: UsageFact) -> UsageFact:
    """The fact once its period is invoiced: later versions become adjustments."""
    if fact.invoiced_price is not None:
        return fact
    return fact.model_copy(update={"invoiced_price": fact.current.price})
