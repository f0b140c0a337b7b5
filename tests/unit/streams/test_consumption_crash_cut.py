"""The consumption book is crash-safe against its journal: a message whose writes a crash cut
short at any point, handled again over what landed, ends in the uncut run's state and outputs.

The flow's views share one journaled store, as the worker wires them
(``hub/streams/consumption/__init__.py``); a crash lands a prefix of that store's writes
(``tests/support/crash_cut.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import uuid4

from hub.domain.orders import ReferenceView
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from hub.schemas.events import consumption as u
from hub.streams.consumption import VIEWS, ConsumptionHandler
from hub.streams.consumption.book import ConsumptionBook
from hub.streams.consumption.close import ConsumptionClose
from hub.topics import Topic
from tests.support import crash_cut
from tests.unit.streams.test_consumption_flow import CATALOG, DAY, RID, T0, profile, usage


class World:
    """The consumption handler over one journaled store, as the worker runs it."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else crash_cut.RecordingStore()
        self.journal = Journal(self.store, "consumption")
        ref = ReferenceView(
            resellers={RID: profile(markup_bps=250)}, customers={}, catalogue={}, prices={}
        )
        book = ConsumptionBook(
            {name: self.journal.view(name) for name in VIEWS},
            CATALOG,
            lambda: ref,
            clock=lambda: T0,
        )
        self.handler = ConsumptionHandler(book, ConsumptionClose(book, page=2))

    async def run(self, event: Event) -> Sequence[Emit]:
        """One message through the journal, as the pipeline runs it."""
        return await self.journal.run(0, str(event.event_id), lambda: self.handler.handle(event))


def budget() -> u.ConsumptionBudgetSet:
    return u.ConsumptionBudgetSet(
        event_id=uuid4(),
        event_time=T0,
        correlation_id="budget",
        reseller_id=RID,
        scope="customer",
        customer_id="cust-1",
        amount_minor=10_000,
        currency="EUR",
    )


async def history(world: World) -> None:
    """A budget and a week of quiet days on two meters."""
    await world.run(budget())
    for day in range(7):
        for meter in ("m-vm", "m-disk"):
            await world.run(usage(DAY + timedelta(days=day), "5.00", meter=meter))


async def assert_every_cut_replays(world: World, last: Event) -> list[Emit]:
    """Handles ``last`` whole, then again over every prefix of its writes; each replay must
    give the uncut run's outputs and state."""
    log: list[tuple[str, Any]] = world.store.log  # type: ignore[attr-defined]
    start = len(log)
    before = dict(world.store.data)
    outputs = list(await world.run(last))
    after = world.store.data
    assert len(log) - start > 2, "the message must write several entries to be cut"
    assert before != after
    for cut in range(start, len(log) + 1):
        replay = World(crash_cut.landed(log[:cut]))
        assert list(await replay.run(last)) == outputs, f"cut after {cut - start} writes"
        assert replay.store.data == after, f"cut after {cut - start} writes"
    return outputs


async def test_a_spike_cut_short_alerts_and_accrues_once_on_replay() -> None:
    world = World()
    await history(world)
    spike = usage(DAY + timedelta(days=7), "90.00", meter="m-vm")
    out = await assert_every_cut_replays(world, spike)
    kinds = {type(e.event).__name__ for e in out}
    # The spike crosses the budget's thresholds and is an anomaly: a rich message to cut.
    assert {"ConsumptionAccrued", "ConsumptionBudgetThresholdReached"} <= kinds
    assert "ConsumptionAnomalyDetected" in kinds


async def test_a_final_figure_cut_short_replaces_its_estimate_once_on_replay() -> None:
    world = World()
    await history(world)
    final = usage(DAY, "7.25", stage="final", meter="m-disk")
    out = await assert_every_cut_replays(world, final)
    deltas = [e.event.delta_minor for e in out if isinstance(e.event, u.ConsumptionAccrued)]
    assert deltas
    assert all(delta > 0 for delta in deltas)


async def test_a_close_page_cut_short_hands_billing_the_same_lines_on_replay() -> None:
    world = World()
    await history(world)
    close = u.ConsumptionCloseRequested(
        event_id=uuid4(), event_time=T0, correlation_id="close", reseller_id=RID, period="2026-11"
    )
    pages = [
        e.event for e in await world.run(close) if isinstance(e.event, u.ConsumptionCloseContinued)
    ]
    assert pages, "the close goes on page by page"
    out = await assert_every_cut_replays(world, pages[0])
    billing = CATALOG.name(Topic.BILLING_INPUTS)
    assert [e for e in out if e.topic == billing]
