"""Messages of one partition sharing one journal entry: one entry per batch, a failing message
drops only its own writes, sends wait for the entry, and a crash at any write of a batch's
entry replays to the uncut state and outputs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest

from hub.runtime.batching import BatchPolicy, messages
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal, StateTooLarge
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from tests.support import crash_cut
from tests.support.samples import sample

EVENT: Event = sample("TicketOpened")


async def add(journal: Journal, key: str, amount: int) -> Sequence[Emit]:
    """A counter every message of the batch adds to (a reseller's exposure), and one entry per
    message."""
    view = journal.view("x")
    view["total"] = view.get("total", 0) + amount
    view[key] = amount
    return [Emit("out", key, EVENT)]


async def fails(journal: Journal) -> Sequence[Emit]:
    journal.view("x")["total"] = -1_000_000
    raise ValueError("refused")


async def run_batch(journal: Journal, sent: list[str], items: Sequence[tuple[str, int]]) -> None:
    batch = journal.open_batch(0)
    for key, amount in items:
        if amount < 0:
            with pytest.raises(ValueError, match="refused"):
                await journal.run(0, key, lambda: fails(journal))
            continue
        emits = await journal.run(0, key, lambda k=key, a=amount: add(journal, k, a))

        async def send(emits: Sequence[Emit] = emits) -> None:
            sent.extend(e.key for e in emits)

        await journal.deliver(send)
    assert sent == []  # nothing goes out before the batch's entry
    await journal.close_batch(batch)


async def test_a_batch_is_one_entry_and_a_key_written_by_many_messages_is_written_once() -> None:
    store = crash_cut.RecordingStore()
    journal = Journal(store, "test")
    sent: list[str] = []
    await run_batch(journal, sent, [("m1", 1), ("m2", 2), ("bad", -1), ("m3", 3)])
    assert sent == ["m1", "m2", "m3"]
    assert store.data["x|total"] == 6
    assert "x|bad" not in store.data
    written = [key for key, _ in store.log]
    assert written.count("~j|0|h") == 1
    assert written.count("x|total") == 1
    # each handled message's outputs are kept: a redelivery, even in a new process, gets them
    calls: list[str] = []

    async def counted() -> Sequence[Emit]:
        calls.append("ran")
        return []

    again = await Journal(store, "test").run(0, "m2", counted)
    assert [e.key for e in again] == ["m2"]
    assert calls == []


async def test_a_message_twice_in_one_batch_is_handled_once() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    sent: list[str] = []
    await run_batch(journal, sent, [("m1", 5), ("m1", 5)])
    assert store.data["x|total"] == 5
    assert sent == ["m1", "m1"]  # the same outputs, sent again as for any redelivery


async def test_a_crash_at_any_write_of_a_batch_replays_to_the_uncut_state_and_outputs() -> None:
    whole = crash_cut.RecordingStore()
    journal = Journal(whole, "test")
    await journal.run(0, "m0", lambda: add(journal, "m0", 10))
    start = len(whole.log)
    await run_batch(journal, [], [("m1", 1), ("m2", 2), ("m3", 3)])
    for cut in range(start, len(whole.log) + 1):
        store = crash_cut.landed(whole.log[:cut])
        replay = Journal(store, "test")  # a restarted worker: faust redelivers the batch
        sent: list[str] = []
        await run_batch(replay, sent, [("m1", 1), ("m2", 2), ("m3", 3)])
        assert sent == ["m1", "m2", "m3"], f"cut after {cut - start} writes"
        assert store.data == whole.data | {
            k: v for k, v in store.data.items() if k.startswith("~j|")
        }, f"cut after {cut - start} writes"
        assert store.data["x|total"] == 16


async def test_a_message_whose_write_is_too_large_is_refused_alone() -> None:
    journal = Journal(MemoryStore(), "test", max_value_bytes=1000)

    async def huge() -> Sequence[Emit]:
        journal.view("x")["big"] = "y" * 2000
        return []

    batch = journal.open_batch(0)
    await journal.run(0, "m1", lambda: add(journal, "m1", 1))
    with pytest.raises(StateTooLarge):
        await journal.run(0, "m2", huge)
    await journal.run(0, "m3", lambda: add(journal, "m3", 2))
    await journal.close_batch(batch)
    assert journal.store.get("x|total") == 3
    assert journal.store.get("x|big") is None


async def test_a_batch_takes_messages_of_its_own_partition_only() -> None:
    journal = Journal(MemoryStore(), "test")
    batch = journal.open_batch(0)
    with pytest.raises(RuntimeError, match="partition 1 in a batch of 0"):
        await journal.run(1, "m1", lambda: add(journal, "m1", 1))
    await journal.close_batch(batch)


class FakeEvent:
    """Weakly referable, as faust's events are."""

    def __init__(self, message: Any) -> None:
        self.message = message


class BatchedStream:
    """A faust stream's ``take_events``: the given lists, as faust would hand them over."""

    def __init__(self, *batches: list[tuple[int, int]]) -> None:
        self.batches = batches
        self.asked: list[tuple[int, float]] = []

    async def take_events(self, size: int, within: float) -> AsyncIterator[list[Any]]:
        self.asked.append((size, within))
        for batch in self.batches:
            yield [
                FakeEvent(
                    SimpleNamespace(
                        topic="t", partition=p, offset=o, key=b"k", value=b"v", headers=[]
                    )
                )
                for p, o in batch
            ]


async def test_messages_are_taken_in_batches_and_grouped_by_partition() -> None:
    from faust.streams import current_event

    journal = Journal(MemoryStore(), "test")
    stream = BatchedStream([(0, 1), (1, 1), (0, 2)], [(1, 2)])
    seen: list[tuple[int, int, int | None, int | None]] = []
    async for source in messages(stream, journal, BatchPolicy(size=50, within_s=0.01)):
        batch = journal._batch.get()
        event = current_event()
        seen.append(
            (
                source.partition,
                source.offset,
                None if batch is None else batch.partition,
                None if event is None else int(event.message.partition),
            )
        )
    # partition 0's two messages together, then partition 1's; each in its own open batch,
    # with faust's current event (where table writes go) on that partition
    assert seen == [(0, 1, 0, 0), (0, 2, 0, 0), (1, 1, 1, 1), (1, 2, 1, 1)]
    assert stream.asked == [(50, 0.01)]
    assert journal._batch.get() is None
    assert current_event() is None


async def test_a_take_of_large_messages_writes_and_sends_them_before_it_holds_too_much(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A take of month-end pages (each a few hundred kB of writes and outputs) is cut into
    several entries, each written and its outputs sent before the next messages are handled, so
    a take never holds more than about ``MAX_TAKE_BYTES`` of them."""
    from hub.runtime import batching

    monkeypatch.setattr(batching, "MAX_TAKE_BYTES", 1_000)
    store = crash_cut.RecordingStore()
    journal = Journal(store, "test")
    sent: list[str] = []
    stream = BatchedStream([(0, n) for n in range(10)] + [(1, n) for n in range(10)])
    heads_when_handled: list[int] = []
    big = "x" * 300  # four of them fill a take
    async for source in messages(stream, journal, BatchPolicy(size=50, within_s=0.01)):
        heads_when_handled.append(sum(1 for key, _ in store.log if key.endswith("|h")))
        message = f"{source.partition}-{source.offset}"

        async def handle(message: str = message, partition: int = source.partition) -> list[Emit]:
            journal.view("pages")[message] = big
            await journal.deliver(partial(_note, sent, message))
            return []

        await journal.run(source.partition, message, handle)
    assert sorted(sent) == sorted(f"{p}-{n}" for p in (0, 1) for n in range(10))
    assert sent == [f"{p}-{n}" for p in (0, 1) for n in range(10)]  # in message order
    # Every fourth message ended an entry and sent what waited before the next was handled:
    # partition 0 in entries of 4, 4 and 2, partition 1 of 2 (the take's fourth), 4 and 4.
    assert sum(1 for key, _ in store.log if key.endswith("|h")) == 6
    assert heads_when_handled[:9] == [0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert heads_when_handled[10:13] == [3, 3, 4]


async def _note(sent: list[str], message: str) -> None:
    sent.append(message)
