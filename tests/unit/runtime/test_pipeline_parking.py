"""Parking: a message that cannot be handled yet waits in its flow's state, the partition moves
on, ticks retry it, and after the last delay it is dead-lettered with its original bytes."""

from __future__ import annotations

import random
from collections.abc import Sequence

from hub.errors import RetriableError
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.parking import Parking, tick
from hub.runtime.pipeline import (
    FailureHandler,
    Handler,
    Outcome,
    ParkedRoute,
    Pipeline,
    RetryPolicy,
)
from hub.runtime.state import MemoryStore
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from tests.support import crash_cut
from tests.support.samples import sample

Sent = list[tuple[str, bytes | None, bytes | None, Headers]]
PARKING = Parking("hub.retry.test", inline_attempts=2, delays_s=(1.0, 2.0), page=10)


class World:
    """A pipeline with a journal and parking, a clock, and what it sent."""

    def __init__(
        self, store: MemoryStore | None = None, parked_route: ParkedRoute | None = None
    ) -> None:
        self.store = store if store is not None else crash_cut.RecordingStore()
        self.journal = Journal(self.store, "test")
        self.sent: Sent = []
        self.now_ms = 1_000_000
        self.flushes = 0

        async def send(topic: str, key: bytes | None, value: bytes | None, h: Headers) -> None:
            self.sent.append((topic, key, value, h))

        async def no_sleep(_: float) -> None:
            return None

        async def flush() -> None:
            self.flushes += 1

        self.pipeline = Pipeline(
            "test",
            Codec(),
            send,
            DeadLetters(send),
            RetryPolicy(max_attempts=5),
            sleep=no_sleep,
            rng=random.Random(1),
            journal=self.journal,
            parking=PARKING,
            parked_route=parked_route,
            clock_ms=lambda: self.now_ms,
            flush=flush,
        )

    def topics(self) -> list[str]:
        return [topic for topic, *_ in self.sent]

    def parked(self) -> list[str]:
        return sorted(k for k in self.store.data if k.startswith("parked|"))


def order(offset: int, seed: str = "OrderAccepted") -> SourceMessage:
    value = Codec().encode(sample(seed))
    return SourceMessage("orders", 0, offset, b"contoso", value, [("trace", b"t-1")])


def a_tick(at_ms: int, offset: int) -> SourceMessage:
    value, headers = tick(at_ms)
    return SourceMessage("hub.retry.test", 0, offset, None, value, headers)


def failing(times: int, calls: list[int]) -> object:
    async def handler(event: Event) -> Sequence[Emit]:
        calls.append(1)
        if len(calls) <= times:
            raise RetriableError("catalogue item not loaded yet")
        return [Emit("status", "contoso", sample("OrderRejected"))]

    return handler


async def test_a_message_not_handleable_yet_is_parked_and_the_partition_moves_on() -> None:
    world = World()
    calls: list[int] = []
    outcome = await world.pipeline.process(order(7), failing(99, calls))  # type: ignore[arg-type]
    assert outcome is Outcome.PARKED
    assert len(calls) == PARKING.inline_attempts
    assert world.sent == []
    assert len(world.parked()) == 1
    # The next message of the partition is handled at once.
    ok: list[int] = []
    assert await world.pipeline.process(order(8, "OrderRejected"), failing(0, ok)) is (  # type: ignore[arg-type]
        Outcome.PROCESSED
    )
    assert world.topics() == ["status"]
    # Delivered again, the parked message is not parked twice.
    await world.pipeline.process(order(7), failing(99, calls))  # type: ignore[arg-type]
    assert len(world.parked()) == 1


async def test_a_tick_retries_what_is_due_and_sends_its_outputs_once() -> None:
    world = World()
    calls: list[int] = []
    handler = failing(2, calls)
    await world.pipeline.process(order(7), handler)  # type: ignore[arg-type]
    assert await world.pipeline.process(a_tick(world.now_ms + 500, 1), handler) is (  # type: ignore[arg-type]
        Outcome.PROCESSED
    )
    assert (len(calls), world.sent) == (2, [])  # not due yet
    await world.pipeline.process(a_tick(world.now_ms + 1000, 2), handler)  # type: ignore[arg-type]
    assert len(calls) == 3
    assert world.topics() == ["status"]
    assert world.parked() == []
    await world.pipeline.process(a_tick(world.now_ms + 9000, 3), handler)  # type: ignore[arg-type]
    assert (len(calls), world.topics()) == (3, ["status"])


async def test_a_message_failing_past_the_last_delay_is_dead_lettered_as_it_arrived() -> None:
    world = World()
    calls: list[int] = []
    handler = failing(99, calls)
    await world.pipeline.process(order(7), handler)  # type: ignore[arg-type]
    await world.pipeline.process(a_tick(world.now_ms + 1000, 1), handler)  # type: ignore[arg-type]
    assert len(world.parked()) == 1  # parked again, for its second delay
    assert world.sent == []
    await world.pipeline.process(a_tick(world.now_ms + 1000 + 2000, 2), handler)  # type: ignore[arg-type]
    assert world.parked() == []
    ((topic, key, value, headers),) = world.sent
    assert (topic, key, value) == ("orders.dlq", b"contoso", order(7).value)
    named = dict(headers)
    assert named["trace"] == b"t-1"
    assert named["dlq.error.type"] == b"RetriableError"
    assert named["dlq.source.offset"] == b"7"
    assert world.flushes == 1  # delivered before the tick's writes were made


async def test_a_tick_replayed_after_a_crash_at_any_write_retries_each_message_once() -> None:
    whole = World()
    calls: list[int] = []
    handler = failing(2, calls)
    await whole.pipeline.process(order(7), handler)  # type: ignore[arg-type]
    await whole.pipeline.process(order(8, "OrderRejected"), failing(2, []))  # type: ignore[arg-type]
    log = whole.store.log  # type: ignore[attr-defined]
    start = len(log)
    at = a_tick(whole.now_ms + 1000, 1)
    await whole.pipeline.process(at, failing(0, []))  # type: ignore[arg-type]
    expected = whole.sent
    assert len(expected) == 2
    for cut in range(start, len(log) + 1):
        replay = World(crash_cut.landed(log[:cut]))
        await replay.pipeline.process(at, failing(0, []))  # type: ignore[arg-type]
        assert replay.sent == expected, f"cut after {cut - start} writes"
        assert replay.store.data == whole.store.data, f"cut after {cut - start} writes"


async def test_a_tick_takes_a_page_of_what_is_due() -> None:
    world = World()
    for offset in range(15):
        source = order(offset)
        event = Codec().decode(source.value or b"")
        fresh = event.model_copy(update={"event_id": f"00000000-0000-4000-8000-{offset:012d}"})
        source = SourceMessage("orders", 0, offset, b"contoso", Codec().encode(fresh), [])
        await world.pipeline.process(source, failing(99, []))  # type: ignore[arg-type]
    assert len(world.parked()) == 15
    await world.pipeline.process(a_tick(world.now_ms + 1000, 1), failing(0, []))  # type: ignore[arg-type]
    assert len(world.sent) == PARKING.page
    assert len(world.parked()) == 5


async def test_a_tick_retries_a_parked_message_with_the_handler_of_the_topic_it_came_from() -> None:
    """An agent reading several topics with a handler each (the orders flow's fulfilment): a
    tick arrives on one topic, and each parked message goes back to its own topic's handler and
    failure report."""
    placed: list[int] = []
    reported: list[tuple[str, int]] = []

    async def report(event: Event, error: Exception, attempts: int) -> Sequence[Emit]:
        reported.append((type(error).__name__, attempts))
        return [Emit("status", "contoso", sample("OrderRejected"))]

    routes: dict[str, tuple[Handler, FailureHandler | None]] = {
        "orders": (failing(99, placed), report)  # type: ignore[dict-item]
    }
    world = World(parked_route=lambda original: routes[original.topic])
    await world.pipeline.process(order(7), *routes["orders"])
    assert len(placed) == PARKING.inline_attempts
    ticked: list[int] = []
    tick_handler = failing(0, ticked)
    await world.pipeline.process(a_tick(world.now_ms + 1000, 1), tick_handler)  # type: ignore[arg-type]
    await world.pipeline.process(a_tick(world.now_ms + 3000, 2), tick_handler)  # type: ignore[arg-type]
    assert ticked == []  # the tick's own route never saw the parked order
    assert len(placed) == PARKING.inline_attempts + len(PARKING.delays_s)
    assert reported == [("RetriableError", len(PARKING.delays_s) + 1)]
    assert world.topics() == ["status", "orders.dlq"]
