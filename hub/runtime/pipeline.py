"""The one path every consumed message takes: decode, handle, encode, send, or dead-letter.

A faust agent that raises acks its message and loses it, so nothing raises out of here: a
message either yields its outputs or lands in ``<topic>.dlq`` with the reason. Retriable errors
(the ``retriable`` flag of ``hub.errors``) are retried with backoff first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hub.errors import HubError, SchemaError
from hub.logging_setup import add_log_context, log_context
from hub.metrics import (
    EVENTS_IN,
    EVENTS_OUT,
    LEFT_TO_OWNER,
    PARKED,
    RETRIES,
    FlowTimings,
    topic_family,
)
from hub.runtime.batching import BatchPolicy, messages
from hub.runtime.dead_letter import DeadLetters, Headers, RawSender, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.journal import deliver
from hub.runtime.parking import (
    PARKED_VIEW,
    Parking,
    due_of,
    is_tick,
    park_doc,
    parked_key,
    source_of,
    tick_time,
)
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event

if TYPE_CHECKING:
    from hub.runtime.journal import Journal

log = logging.getLogger(__name__)


Handler = Callable[[Event], Awaitable[Sequence[Emit]]]
# A handler that also needs the message key (a re-keyed topic: the key is the grouping).
KeyedHandler = Callable[[Event, str], Awaitable[Sequence[Emit]]]
# Called with (event, error, attempts) when a decoded event is about to be dead-lettered: what it
# returns is sent first, so a flow can report the failure (e.g. ProvisioningFailed) as an event.
FailureHandler = Callable[[Event, Exception, int], Awaitable[Sequence[Emit]]]
# Called with (message, error) when the owner dead-letters a message it cannot decode: what it
# returns is sent first, so its writer hears of it (hub/streams/ingress/undecodable.py).
UndecodableHandler = Callable[[SourceMessage, Exception], Sequence[Emit]]
# Where a tick sends a parked message: the handler and failure handler of the topic it came from,
# for an agent that reads several topics with a handler each (the orders flow's fulfilment).
# Without one, a tick retries every parked message with its own route's handler.
ParkedRoute = Callable[[SourceMessage], tuple[Handler, FailureHandler | None]]


# Kafka's default record limit is 1 MiB; an output this large is refused (dead-lettered with the
# reason) before anything is sent, instead of failing inside the producer.
MAX_OUTPUT_BYTES = 900_000


class OutputTooLarge(HubError):
    """An encoded output would not fit one Kafka record."""

    retriable = False


class Outcome(StrEnum):
    PROCESSED = "processed"
    DEAD_LETTERED = "dead-lettered"
    # An observer's view of a message the topic's owning flow dead-letters: not a second outcome.
    LEFT_TO_OWNER = "left-to-owner"
    # Not handleable yet: kept in the flow's state and tried again later (hub.runtime.parking).
    PARKED = "parked"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts."""

    max_attempts: int = 5
    base_s: float = 0.2
    cap_s: float = 10.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


def message_id(source: SourceMessage, event: Event) -> str:
    """What the journal keeps a message's outputs under: its event id on its topic under its
    key. The same event on another topic (a command the hub re-emits as a fact) is another
    message, and a record of one reseller reusing another's event id is not taken for it."""
    key = (source.key or b"").decode("utf-8", "replace")
    return f"{source.topic}|{key}|{event.event_id}"


async def _no_flush() -> None:
    return None


def event_headers(event: Event) -> Headers:
    """Headers on every event the hub sends: partners can route on them without decoding."""
    return [
        ("hub.event-type", type(event).__name__.encode()),
        ("hub.schema-version", str(event.schema_version).encode()),
        ("hub.event-id", str(event.event_id).encode()),
        ("hub.correlation-id", event.correlation_id.encode()),
    ]


class Pipeline:
    """Runs one flow's handler over raw messages with exactly one outcome per message."""

    def __init__(
        self,
        flow: str,
        codec: Codec,
        send: RawSender,
        dead_letters: DeadLetters,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        observer: bool = False,
        journal: Journal | None = None,
        parking: Parking | None = None,
        parked_route: ParkedRoute | None = None,
        clock_ms: Callable[[], int] | None = None,
        flush: Callable[[], Awaitable[None]] | None = None,
        batch: BatchPolicy | None = None,
        ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.flow = flow
        # Awaited before the first message: what the flow needs before it handles any (the
        # worker's reference data, hub/streams/reference.py).
        self._ready = ready
        self.codec = codec
        self._send = send
        self.dead_letters = dead_letters
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        # Several flows read some topics; only the topic's owner dead-letters undecodable
        # messages, so each message still leaves with exactly one outcome.
        self.observer = observer
        # The flow's state and journal: each message's writes and outputs are kept in one entry
        # before they are made, and a redelivered message gets its kept outputs again.
        self.journal = journal
        # With a journal: a retriable failure waits in the flow's state instead of the partition.
        self.parking = parking if journal is not None else None
        self._parked_route = parked_route
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        # Waits until every record sent so far is delivered (the worker's producer flush).
        self._flush = flush or _no_flush
        # How many messages of a partition may share one journal entry (hub.runtime.batching).
        self.batch = batch or BatchPolicy()
        # Labelled metric children, looked up once per (topic, event type) instead of per message.
        self._events_in: dict[tuple[str, str], Any] = {}
        self._events_out: dict[tuple[str, str], Any] = {}
        self._latency = FlowTimings(flow)

    def _count(
        self, metric: Any, children: dict[tuple[str, str], Any], topic: str, kind: str
    ) -> None:
        # Keyed by the topic's family: as bounded as the series, whatever the resellers.
        family = topic_family(topic)
        child = children.get((family, kind))
        if child is None:
            child = children[(family, kind)] = metric.labels(
                flow=self.flow, topic=family, event_type=kind
            )
        child.inc()

    async def messages(self, stream: Any) -> AsyncIterator[SourceMessage]:
        """A faust stream's messages, in journal batches by the pipeline's batch policy: a
        driver's loop over them is the same either way (hub.runtime.batching). None before the
        pipeline is ready."""
        if self._ready is not None:
            await self._ready()
        async for source in messages(stream, self.journal, self.batch):
            yield source

    async def run(
        self, stream: Any, handler: Handler, on_failure: FailureHandler | None = None
    ) -> None:
        """Drive a faust stream (raw bytes) through ``handler`` until the stream ends."""
        async for source in self.messages(stream):
            await self.process(source, handler, on_failure)

    async def run_keyed(self, stream: Any, handler: KeyedHandler) -> None:
        """Like ``run``, for handlers that also get the message key."""

        def handler_for(source: SourceMessage) -> Handler:
            key = source.key.decode() if source.key is not None else ""

            async def handle(decoded: Event) -> Sequence[Emit]:
                return await handler(decoded, key)

            return handle

        async for source in self.messages(stream):
            await self._process(source, handler_for)

    async def process(
        self,
        source: SourceMessage,
        handler: Handler,
        on_failure: FailureHandler | None = None,
        on_undecodable: UndecodableHandler | None = None,
    ) -> Outcome:
        return await self._process(source, lambda _: handler, on_failure, on_undecodable)

    async def _process(
        self,
        source: SourceMessage,
        handler_for: Callable[[SourceMessage], Handler],
        on_failure: FailureHandler | None = None,
        on_undecodable: UndecodableHandler | None = None,
    ) -> Outcome:
        """One message, its log lines saying which (hub/logging_setup.py)."""
        with log_context(
            flow=self.flow, topic=source.topic, partition=source.partition, offset=source.offset
        ):
            return await self._process_message(source, handler_for, on_failure, on_undecodable)

    async def _process_message(
        self,
        source: SourceMessage,
        handler_for: Callable[[SourceMessage], Handler],
        on_failure: FailureHandler | None,
        on_undecodable: UndecodableHandler | None,
    ) -> Outcome:
        if self.parking is not None and is_tick(source):
            return await self._tick(source, handler_for, on_failure)
        handler = handler_for(source)
        self._latency.took(source)
        try:
            if source.value is None:
                raise SchemaError("message has no value (a tombstone is not an event)")
            event = self.codec.decode(source.value)
        except Exception as exc:  # noqa: BLE001 - any decode failure is this message's fault
            if self.observer:
                LEFT_TO_OWNER.labels(flow=self.flow, topic=topic_family(source.topic)).inc()
                return Outcome.LEFT_TO_OWNER
            if on_undecodable is not None:
                await self._report_undecodable(on_undecodable, source, exc)
            return await self._dead_letter(source, exc)
        add_log_context(event_id=str(event.event_id), correlation_id=event.correlation_id)
        event_type = type(event).__name__
        self._count(EVENTS_IN, self._events_in, source.topic, event_type)
        attempt = 1
        while True:
            try:
                encoded = await self._handle(source, event, handler)
                break
            except Exception as exc:  # noqa: BLE001 - nothing may escape: it would lose the message
                retriable = getattr(exc, "retriable", False)
                inline = self.retry.max_attempts
                if self.parking is not None:
                    inline = min(inline, self.parking.inline_attempts)
                if retriable and attempt < inline:
                    RETRIES.labels(flow=self.flow, error_type=type(exc).__name__).inc()
                    await self._sleep(self.retry.delay(attempt, self._rng))
                    attempt += 1
                    continue
                if retriable and self.parking is not None:
                    return await self._park(source, event, exc)
                if on_failure is not None:
                    await self._report_failure(on_failure, event, exc, attempt)
                return await self._dead_letter(source, exc)
        await self._send_all(encoded)
        self._latency.finished(source, event)
        return Outcome.PROCESSED

    async def _park(self, source: SourceMessage, event: Event, error: Exception) -> Outcome:
        """Keep the message in the flow's state until its first retry is due; move on."""
        assert self.parking is not None
        assert self.journal is not None
        parking, journal = self.parking, self.journal
        due = self._clock_ms() + (parking.delay_ms(1) or 0)

        async def handle() -> Sequence[Emit]:
            key = parked_key(source.partition, due, str(event.event_id))
            journal.view(PARKED_VIEW)[key] = park_doc(source, 1, error)
            return []

        await journal.run(source.partition, message_id(source, event), handle)
        PARKED.labels(flow=self.flow, error_type=type(error).__name__).inc()
        log.info("%s parked %s: %s", self.flow, event.event_id, error)
        return Outcome.PARKED

    async def _tick(
        self,
        tick: SourceMessage,
        handler_for: Callable[[SourceMessage], Handler],
        on_failure: FailureHandler | None,
    ) -> Outcome:
        """Handle the partition's parked messages due by the tick's time, a page at a time."""
        assert self.parking is not None
        assert self.journal is not None
        parking, journal = self.parking, self.journal
        now = tick_time(tick)
        partition = tick.partition

        async def handle() -> Sequence[Emit]:
            parked = journal.view(PARKED_VIEW)
            due: list[tuple[str, Any]] = []
            for key, doc in parked.scan(f"{partition}|"):
                if due_of(key) > now or len(due) >= parking.page:
                    break
                due.append((key, doc))
            emits: list[Emit] = []
            for key, doc in due:
                del parked[key]
                original = source_of(doc)
                event = self.codec.decode(original.value or b"")
                handler, failure = (
                    (handler_for(original), on_failure)
                    if self._parked_route is None
                    else self._parked_route(original)
                )
                with journal.nested() as attempt:
                    try:
                        out = await handler(event)
                        self._encode(out)
                    except Exception as exc:  # noqa: BLE001 - parked again or dead-lettered
                        error: Exception = exc
                    else:
                        journal.merge(attempt)
                        emits += out
                        RETRIES.labels(flow=self.flow, error_type="parked").inc()
                        continue
                tries = int(doc["attempt"]) + 1
                wait = parking.delay_ms(tries)
                if getattr(error, "retriable", False) and wait is not None:
                    again = parked_key(partition, now + wait, str(event.event_id))
                    parked[again] = park_doc(original, tries, error)
                    continue
                # Dead-lettered, and delivered, before the tick's writes are made: a crash in
                # between dead-letters it again, never loses it.
                if failure is not None:
                    await self._report_failure(failure, event, error, tries)
                await self.dead_letters.send(original, error)
                await self._flush()
            return emits

        message_id = f"@{tick.topic}:{tick.partition}:{tick.offset}"
        emits = await journal.run(partition, message_id, handle, keep_empty=False)
        await self._send_all(self._encode(emits))
        return Outcome.PROCESSED

    async def _handle(
        self, source: SourceMessage, event: Event, handler: Handler
    ) -> list[tuple[Emit, bytes]]:
        """The handler's outputs, encoded; with a journal, its writes made (or a first run's
        kept outputs). Everything is encoded before anything is written or sent."""
        encoded: list[tuple[Emit, bytes]] | None = None

        async def handle() -> Sequence[Emit]:
            nonlocal encoded
            emits = await handler(event)
            encoded = self._encode(emits)
            return emits

        if self.journal is None:
            await handle()
        else:
            emits = await self.journal.run(source.partition, message_id(source, event), handle)
            if encoded is None:  # a redelivery: the outputs its first run kept
                encoded = self._encode(emits)
        assert encoded is not None
        return encoded

    def _encode(self, emits: Sequence[Emit]) -> list[tuple[Emit, bytes]]:
        # One event sent to several topics (a routed ticket: the reseller's topic, ops, the
        # correlation topic) is encoded once.
        done: dict[int, bytes] = {}
        encoded = []
        for emit in emits:
            value = done.get(id(emit.event))
            if value is None:
                value = done[id(emit.event)] = self.codec.encode(emit.event)
            encoded.append((emit, value))
        for emit, value in encoded:
            if len(value) > MAX_OUTPUT_BYTES:
                raise OutputTooLarge(
                    f"{type(emit.event).__name__} to {emit.topic} would be {len(value)} bytes, "
                    f"over the limit of {MAX_OUTPUT_BYTES}"
                )
        return encoded

    async def _deliver(self, delivery: Callable[[], Awaitable[None]]) -> None:
        await deliver(self.journal, delivery)

    async def _send_all(self, encoded: Sequence[tuple[Emit, bytes]]) -> None:
        if not encoded:
            return

        async def send() -> None:
            for emit, value in encoded:
                await self._send(emit.topic, emit.key.encode(), value, event_headers(emit.event))
                self._count(EVENTS_OUT, self._events_out, emit.topic, type(emit.event).__name__)

        await self._deliver(send)

    async def _report_failure(
        self, on_failure: FailureHandler, event: Event, error: Exception, attempts: int
    ) -> None:
        """Send what ``on_failure`` makes of ``error``; the message is dead-lettered either way."""
        try:
            emits = await on_failure(event, error, attempts)
            encoded = self._encode(emits)
        except Exception as exc:  # noqa: BLE001 - the dead letter below still records the cause
            log.warning("failure report of %s failed: %r", self.flow, exc)
            return
        await self._send_all(encoded)

    async def _report_undecodable(
        self, on_undecodable: UndecodableHandler, source: SourceMessage, error: Exception
    ) -> None:
        """Send what ``on_undecodable`` makes of ``error``; dead-lettered either way."""
        try:
            encoded = self._encode(on_undecodable(source, error))
        except Exception as exc:  # noqa: BLE001 - the dead letter below still records the cause
            log.warning("undecodable-message report of %s failed: %r", self.flow, exc)
            return
        await self._send_all(encoded)

    async def _dead_letter(self, source: SourceMessage, error: Exception) -> Outcome:
        async def send() -> None:
            await self.dead_letters.send(source, error)

        await self._deliver(send)
        return Outcome.DEAD_LETTERED
