"""The incentives router and ledger are crash-safe against their journals: a message whose
writes a crash cut short at any point, handled again over what landed, gives the uncut run's
outputs and state.

Three months of billing facts go through the router and the ledger (as
``test_incentive_flow.py`` runs them), each journal over a store that records its writes
(``tests/support/crash_cut.py``); the router's and the ledger's messages that wrote the most are
then replayed over every prefix of their writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from hub.domain.incentives.book import IncentiveBook
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.schemas.envelope import Event
from hub.streams.incentives.ledger import IncentiveLedger
from hub.streams.incentives.route import IncentiveRouter
from tests.support import crash_cut
from tests.unit.streams import test_incentive_flow as flow


@dataclass
class Handled:
    """One message of a journal: where its writes start and end in the store's log."""

    event: Event
    start: int
    end: int
    outputs: list[Emit]


class Recording(flow.World):
    """The incentive flow's world with the router's and the ledger's journals recording."""

    def __init__(self) -> None:
        super().__init__()
        self.route_journal = Journal(crash_cut.RecordingStore(), "incentives-route")
        self.router = IncentiveRouter(flow.TOPICS, self.plans, self.route_journal.view("route"))
        self.ledger_journal = Journal(crash_cut.RecordingStore(), "incentives")
        self.ledger = ledger(self, self.ledger_journal)
        self.handled: dict[str, list[Handled]] = {"incentives-route": [], "incentives": []}

    async def _run(self, journal: Journal, handler: Any, event: Event) -> Sequence[Emit]:
        log = getattr(journal.store, "log", None)
        if log is None:  # billing's journal: not cut here
            return await super()._run(journal, handler, event)
        start = len(log)
        out = list(await super()._run(journal, handler, event))
        self.handled[journal.flow].append(Handled(event, start, len(log), out))
        return out


def ledger(world: flow.World, journal: Journal) -> IncentiveLedger:
    entries = journal.view("book")
    return IncentiveLedger(flow.TOPICS, world.plans, IncentiveBook(entries, entries.scan))


async def assert_every_cut_replays(
    world: Recording, journal: Journal, handler_over: Callable[[Journal], Any]
) -> None:
    """The message of ``journal`` that wrote the most, replayed over every prefix of its writes
    by the handler ``handler_over`` builds on a fresh journal."""
    log: list[tuple[str, Any]] = journal.store.log  # type: ignore[attr-defined]
    most = max(world.handled[journal.flow], key=lambda h: h.end - h.start)
    assert most.end - most.start > 2, "the message must write several entries to be cut"
    whole = crash_cut.landed(log[: most.end]).data
    assert crash_cut.landed(log[: most.start]).data != whole
    for cut in range(most.start, most.end + 1):
        fresh = Journal(crash_cut.landed(log[:cut]), journal.flow)
        handler = handler_over(fresh)
        replayed = await fresh.run(
            0, str(most.event.event_id), lambda handler=handler: handler(most.event)
        )
        assert list(replayed) == most.outputs, f"cut after {cut - most.start} writes"
        assert fresh.store.data == whole, f"cut after {cut - most.start} writes"


async def three_months(monkeypatch: pytest.MonkeyPatch) -> Recording:
    """The scenario of test_incentive_flow.py, on the recording world."""
    world = Recording()
    monkeypatch.setattr(flow, "World", lambda: world)
    assert await flow.three_months() is world
    return world


async def test_the_routers_biggest_message_cut_short_replays_to_the_same_facts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await three_months(monkeypatch)
    await assert_every_cut_replays(
        world,
        world.route_journal,
        lambda j: IncentiveRouter(flow.TOPICS, world.plans, j.view("route")).handle,
    )


async def test_the_ledgers_biggest_message_cut_short_replays_to_the_same_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await three_months(monkeypatch)
    await world.statement("alice", "2026-11")
    await assert_every_cut_replays(world, world.ledger_journal, lambda j: ledger(world, j).handle)
