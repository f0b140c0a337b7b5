"""SLA tick commands as the intake agent's loop runs them (``support._drive``): journaled under
their position, skipped when nothing is due, re-sent alike when redelivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hub.domain.enums import Severity
from hub.runtime.batching import BatchPolicy, messages
from hub.runtime.dead_letter import Headers
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.codec import Codec
from hub.schemas.events.support import SlaBreached
from hub.streams.support import _drive
from hub.streams.support.config import SupportConfig
from hub.streams.support.intake import Intake, IntakeState, TickCommands
from hub.streams.support.topics import encode_command
from hub.topics import Topic
from tests.unit.streams.test_support_handlers import CATALOG, T0, VIEW, opened

COMMANDS = CATALOG.name(Topic.SUPPORT_TICKET_COMMANDS)
CODEC = Codec()


class Stream:
    """Tick commands on partition 0 of the commands topic, as faust hands them over."""

    def __init__(self, *ticks: tuple[int, datetime]) -> None:
        self.ticks = ticks

    async def events(self) -> AsyncIterator[Any]:
        for offset, now in self.ticks:
            value, headers = encode_command("sla_tick", {"now": now.isoformat()})
            message = SimpleNamespace(
                topic=COMMANDS, partition=0, offset=offset, key=None, value=value, headers=headers
            )
            yield SimpleNamespace(message=message)


class Sent:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.codec = CODEC

    async def send(self, topic: str, key: bytes | None, value: bytes | None, _: Headers) -> None:
        assert value is not None
        self.events.append((topic, CODEC.decode(value)))


class NoDeadLetters:
    async def send(self, source: Any, error: Exception) -> None:
        raise AssertionError(f"dead-lettered: {error!r}")


async def run_ticks(store: MemoryStore, *ticks: tuple[int, datetime]) -> list[tuple[str, Any]]:
    journal = Journal(store, "support-intake")
    intake = Intake(CATALOG, SupportConfig(), lambda: VIEW, IntakeState.of(journal))
    commands = TickCommands(intake)
    pipeline = SimpleNamespace(
        dead_letters=NoDeadLetters(),
        messages=lambda stream: messages(stream, journal, BatchPolicy()),
    )
    ctx = Sent()
    await _drive(Stream(*ticks), ctx, pipeline, intake.handle, commands, journal, commands.idle)  # type: ignore[arg-type]
    return ctx.events


async def store_with_a_critical_ticket() -> MemoryStore:
    store = MemoryStore()
    journal = Journal(store, "support-intake")
    intake = Intake(CATALOG, SupportConfig(), lambda: VIEW, IntakeState.of(journal))
    ticket = opened(severity=Severity.CRITICAL)
    await journal.run(0, str(ticket.event_id), lambda: intake.handle(ticket, 0))
    return store


async def test_a_tick_with_nothing_due_writes_nothing() -> None:
    store = await store_with_a_critical_ticket()
    before = dict(store.data)

    sent = await run_ticks(store, (5, T0 + timedelta(minutes=10)))

    assert sent == []
    assert store.data == before


async def test_a_redelivered_tick_sends_the_breach_it_fired_again_under_the_same_id() -> None:
    store = await store_with_a_critical_ticket()
    breach_time = T0 + timedelta(hours=3)

    first = await run_ticks(store, (6, breach_time))
    after_first = dict(store.data)
    again = await run_ticks(store, (6, breach_time), (7, breach_time + timedelta(minutes=1)))

    breaches = [event for _, event in first if isinstance(event, SlaBreached)]
    assert len(breaches) == 2  # the reseller's topic and the ops topic
    assert {b.event_id for b in breaches} == {breaches[0].event_id}
    assert again == first
    assert {k: v for k, v in store.data.items() if not k.startswith("~j")} == {
        k: v for k, v in after_first.items() if not k.startswith("~j")
    }
