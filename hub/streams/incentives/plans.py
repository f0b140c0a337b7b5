"""Incentive plans, whole in every worker: read from the compacted plans topic.

Like reference data (hub/streams/reference.py), each worker reads every partition of
``hub.incentives.plans`` from its start outside the consumer group, so the router (keyed by
reseller) and the ledger (keyed by payee) of any worker see every plan. Neither handles a fact
before its worker has read the plans up to where they stood at its start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import cast

from hub.domain.incentives.plans import Plan
from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events.incentives import IncentivePlanSet
from hub.streams.reference import ReferenceReader, ReferenceTables

log = logging.getLogger(__name__)


class PlanBook:
    """The plans this worker knows, by plan id, with an index by reseller covered."""

    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}
        self.loaded = asyncio.Event()

    def apply(self, event: Event) -> None:
        if not isinstance(event, IncentivePlanSet):
            raise SchemaError(f"{type(event).__name__} is not an incentive plan")
        if event.active:
            self.plans[event.plan_id] = event.plan()
        else:
            self.plans.pop(event.plan_id, None)

    def get(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id)

    def covering(self, reseller_id: str) -> list[Plan]:
        """Plans paying on ``reseller_id``'s revenue, by plan id (a few per reseller)."""
        return sorted(
            (p for p in self.plans.values() if reseller_id in p.resellers),
            key=lambda p: p.plan_id,
        )

    def of_payee(self, payee: str) -> list[Plan]:
        return sorted((p for p in self.plans.values() if p.payee == payee), key=lambda p: p.plan_id)

    def counts(self) -> dict[str, int]:
        return {"incentive_plans": len(self.plans)}


class PlanReader(ReferenceReader):
    """The reference reader over the plans topic, filling a ``PlanBook``."""

    def __init__(self, book: PlanBook, *args: object, **kwargs: object) -> None:
        # The reader needs only apply, counts and loaded of its tables: a PlanBook has them.
        super().__init__(cast("ReferenceTables", book), *args, **kwargs)  # type: ignore[arg-type]
        self.book = book

    def _ready(self, seconds: float) -> None:
        self.book.loaded.set()
        log.info("incentive plans loaded in %.1f s: %d plans", seconds, len(self.book.plans))


async def check(event: Event) -> Sequence[Emit]:
    """The plans agent's handler: a record that decoded is a plan, or it is dead-lettered."""
    if not isinstance(event, IncentivePlanSet):
        raise SchemaError(f"{type(event).__name__} is not an incentive plan")
    return ()
