"""The pipeline with a flow's journal: writes made once, outputs re-sent on redelivery, and a
state value or output too large for a Kafka record dead-lettered, never sent."""

from __future__ import annotations

import random
from collections.abc import Sequence

from hub.errors import RetriableError
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.pipeline import MAX_OUTPUT_BYTES, Outcome, Pipeline, RetryPolicy
from hub.runtime.state import MemoryStore
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from tests.support.samples import sample

Sent = list[tuple[str, bytes | None, bytes | None, Headers]]


def _pipeline(sent: Sent, journal: Journal) -> Pipeline:
    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    async def no_sleep(_: float) -> None:
        return None

    return Pipeline(
        "test",
        Codec(),
        send,
        DeadLetters(send),
        RetryPolicy(max_attempts=3),
        sleep=no_sleep,
        rng=random.Random(1),
        journal=journal,
    )


def _source(offset: int = 7) -> SourceMessage:
    value = Codec().encode(sample("OrderAccepted"))
    return SourceMessage("orders", 2, offset, b"contoso", value, [])


async def test_a_redelivered_message_is_sent_again_without_being_handled_again() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    sent: Sent = []
    handled: list[Event] = []

    async def handler(event: Event) -> Sequence[Emit]:
        handled.append(event)
        journal.view("orders")[str(event.event_id)] = {"n": len(handled)}
        return [Emit("status", "contoso", sample("OrderRejected"))]

    pipeline = _pipeline(sent, journal)
    assert await pipeline.process(_source(7), handler) is Outcome.PROCESSED
    state = dict(store.data)
    # The same event again, at another offset (a reseller's retry) and after a restart.
    again = _pipeline(sent, Journal(store, "test"))
    assert await again.process(_source(9), handler) is Outcome.PROCESSED
    assert len(handled) == 1
    assert store.data == state
    assert [topic for topic, *_ in sent] == ["status", "status"]
    assert sent[0][2] == sent[1][2]


async def test_retries_start_from_a_clean_transaction() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    attempts = 0

    async def handler(event: Event) -> Sequence[Emit]:
        nonlocal attempts
        attempts += 1
        view = journal.view("n")
        view["count"] = view.get("count", 0) + 1
        if attempts < 3:
            raise RetriableError("Partner Center busy")
        return []

    outcome = await _pipeline([], journal).process(_source(), handler)
    assert (outcome, attempts, store.data["n|count"]) == (Outcome.PROCESSED, 3, 1)


async def test_a_state_value_too_large_for_a_record_is_dead_lettered_and_writes_nothing() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    sent: Sent = []

    async def handler(event: Event) -> Sequence[Emit]:
        journal.view("book")["all"] = ["line"] * 200_000
        return [Emit("status", "contoso", sample("OrderRejected"))]

    outcome = await _pipeline(sent, journal).process(_source(), handler)
    assert outcome is Outcome.DEAD_LETTERED
    assert store.data == {}
    assert [topic for topic, *_ in sent] == ["orders.dlq"]
    reason = dict(sent[0][3])["dlq.error.message"].decode()
    assert "'book|all' would be" in reason
    assert "key this state by entity" in reason


async def test_an_output_too_large_for_a_record_is_dead_lettered_not_sent() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    sent: Sent = []
    rejected = sample("OrderRejected")
    reason = rejected.reasons[0].model_copy(update={"message": "x" * 2000})
    big = rejected.model_copy(update={"reasons": (reason,) * (MAX_OUTPUT_BYTES // 2000 + 1)})

    async def handler(event: Event) -> Sequence[Emit]:
        journal.view("x")["written"] = True
        return [Emit("status", "contoso", big)]

    outcome = await _pipeline(sent, journal).process(_source(), handler)
    assert outcome is Outcome.DEAD_LETTERED
    assert store.data == {}
    assert [topic for topic, *_ in sent] == ["orders.dlq"]
    assert dict(sent[0][3])["dlq.error.type"] == b"OutputTooLarge"


async def test_in_a_batch_outputs_and_dead_letters_go_after_the_entry_in_message_order() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    sent: Sent = []

    async def handler(event: Event) -> Sequence[Emit]:
        view = journal.view("n")
        view["count"] = view.get("count", 0) + 1
        return [Emit("status", "contoso", sample("OrderRejected"))]

    pipeline = _pipeline(sent, journal)
    good = Codec().encode(sample("OrderAccepted"))
    batch = journal.open_batch(2)
    outcomes = [
        await pipeline.process(SourceMessage("orders", 2, 1, b"contoso", good, []), handler),
        await pipeline.process(SourceMessage("orders", 2, 2, b"contoso", b"junk", []), handler),
        await pipeline.process(_source(3), handler),
    ]
    assert outcomes == [Outcome.PROCESSED, Outcome.DEAD_LETTERED, Outcome.PROCESSED]
    assert sent == []
    assert "n|count" not in store.data
    await journal.close_batch(batch)
    # the second good message is the first's event again (a redelivery): handled once
    assert store.data["n|count"] == 1
    assert [topic for topic, *_ in sent] == ["status", "orders.dlq", "status"]


async def test_outputs_wait_until_the_entry_before_them_is_delivered() -> None:
    """An output in Kafka without its entry would be sent again, differently, by the replay:
    the journal flushes the producer between its entry and the first output after it, once per
    batch, and not at all for a redelivery, which writes no entry."""
    store = MemoryStore()
    log: list[str] = []

    async def flush() -> None:
        log.append(f"flush with {sum(k.endswith('|h') for k in store.data)} head(s) written")

    journal = Journal(store, "test", flush=flush)
    sent: Sent = []

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        log.append(f"send {topic}")
        sent.append((topic, key, value, headers))

    pipeline = Pipeline("test", Codec(), send, DeadLetters(send), journal=journal)

    async def handler(event: Event) -> Sequence[Emit]:
        journal.view("n")[str(event.event_id)] = 1
        return [Emit("status", "contoso", sample("OrderRejected"))]

    await pipeline.process(_source(1), handler)
    assert log == ["flush with 1 head(s) written", "send status"]
    log.clear()
    await pipeline.process(_source(2), handler)  # a redelivery: its kept output, no entry
    assert log == ["send status"]

    log.clear()
    other = Codec().encode(sample("OrderHeld"))
    batch = journal.open_batch(2)
    await pipeline.process(_source(3), handler)
    await pipeline.process(SourceMessage("orders", 2, 4, b"contoso", other, []), handler)
    assert log == []
    await journal.close_batch(batch)
    assert log == ["flush with 1 head(s) written", "send status", "send status"]


async def test_one_event_sent_to_several_topics_is_encoded_once_and_kept_for_each() -> None:
    encoded: list[Event] = []

    class Counting(Codec):
        def encode(self, event: Event) -> bytes:  # type: ignore[override]
            encoded.append(event)
            return super().encode(event)

    store = MemoryStore()
    journal = Journal(store, "test")
    sent: Sent = []
    pipeline = _pipeline(sent, journal)
    pipeline.codec = Counting()
    routed, other = sample("OrderRejected"), sample("OrderAccepted")

    async def handler(event: Event) -> Sequence[Emit]:
        return [Emit("a", "k", routed), Emit("b", "k", routed), Emit("c", "k", other)]

    assert await pipeline.process(_source(7), handler) is Outcome.PROCESSED
    assert encoded == [routed, other]
    assert [(topic, value) for topic, _, value, _ in sent] == [
        ("a", Codec().encode(routed)),
        ("b", Codec().encode(routed)),
        ("c", Codec().encode(other)),
    ]
    sent.clear()
    # A redelivery re-sends all three from what the journal kept.
    assert await pipeline.process(_source(8), handler) is Outcome.PROCESSED
    assert [(topic, value) for topic, _, value, _ in sent] == [
        ("a", Codec().encode(routed)),
        ("b", Codec().encode(routed)),
        ("c", Codec().encode(other)),
    ]
