"""Records handed to the Kafka client a batch per partition, not one by one.

Every state write of a flow (its changelog record) and every output used to go through faust's
send path one record at a time: a ``FutureMessage``, faust's sensors (a Prometheus label lookup
per record), the producer buffer, aiokafka's ``send`` (its accumulator, a future per record), and
for a changelog record, on its acknowledgement, a RocksDB put of the reached offset. A profile of
ticket routing at full load had a third of the worker's samples there (bench/PROFILE.md,
"Record batches"). Here a worker's records wait in one list, in the order added, and are handed
over in aiokafka ``BatchBuilder``\\ s, one per topic partition at a time (``send_batch``): a journal
entry's 1,000 records for one changelog partition are one batch and one future.

Order. Records of one partition leave in the order added: one hand-over at a time takes the
oldest records, and aiokafka keeps a partition's batches in order. ``publish`` returns once every
record added before the call is in the client's hands; the producer's flush (faust's, before it
commits offsets, and the journal's, before outputs) publishes first, so a commit never covers a
record still waiting here (hub/runtime/faust_producer.py).

Failure. A batch the client could not deliver (its retries spent) leaves state that is no longer
backed by the changelog: the error is kept and every later ``publish`` raises it, so the worker
stops instead of committing past it, and a restarted worker rebuilds from the changelog and
replays from the last commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Called with the offset a record got, once its batch is delivered (a changelog's reached
# offset, kept in the table's store as faust does).
Delivered = Callable[[int], None]


@dataclass(slots=True)
class _Record:
    topic: str
    partition: int | None
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    delivered: Delivered | None


class RecordBatches:
    """A worker's records on their way to the Kafka client (see the module docstring).

    ``producer`` returns the started ``AIOKafkaProducer`` (faust builds it when it starts)."""

    def __init__(
        self,
        producer: Callable[[], Any],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._producer = producer
        # Told of the first record that cannot be delivered (the worker stops).
        self._on_error = on_error
        self._pending: list[_Record] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.added = 0
        self.handed_over = 0
        self.error: BaseException | None = None

    def add(
        self,
        topic: str,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
        delivered: Delivered | None = None,
    ) -> None:
        """Queue one record; ``partition`` None: by the key, as Kafka's default partitioner."""
        # aiokafka's batch builder takes headers as a list only.
        listed = headers if type(headers) is list else list(headers)
        self._pending.append(_Record(topic, partition, key, value, listed, delivered))
        self.added += 1
        self._wake.set()

    def pending(self) -> int:
        return self.added - self.handed_over

    async def publish(self) -> None:
        """Return once every record added before the call is in the Kafka client's hands.

        Shielded: a caller cancelled while records are being handed over (an agent stopped at
        shutdown) leaves the hand-over to finish, under the lock, so no record taken from the
        list is lost and none is handed over out of order."""
        await asyncio.shield(self._publish(self.added))

    async def _publish(self, target: int) -> None:
        async with self._lock:
            while self.handed_over < target and self.error is None:
                records, self._pending = self._pending, []
                if not records:
                    break
                try:
                    await self._hand_over(records)
                except Exception as exc:
                    self._fail(exc)
                    raise
                self.handed_over += len(records)
        if self.error is not None:
            raise self.error

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Publish whatever is added, as soon as the event loop is free (a service task)."""
        while not stopping():
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.publish()
            except Exception:  # noqa: BLE001 - kept in ``error``; every flush raises it
                await asyncio.sleep(1.0)

    async def _hand_over(self, records: list[_Record]) -> None:
        producer = self._producer()
        builders: dict[tuple[str, int], Any] = {}
        callbacks: dict[tuple[str, int], list[tuple[int, Delivered]]] = {}
        ready: list[tuple[tuple[str, int], Any, list[tuple[int, Delivered]]]] = []
        known: set[str] = set()
        for record in records:
            partition = record.partition
            if partition is None:
                if record.topic not in known:
                    await producer.client._wait_on_metadata(record.topic)
                    known.add(record.topic)
                partition = producer._partition(
                    record.topic, None, None, None, record.key, record.value
                )
            tp = (record.topic, partition)
            builder = builders.get(tp)
            appended = None
            if builder is not None:
                appended = builder.append(
                    timestamp=None, key=record.key, value=record.value, headers=record.headers
                )
            if builder is None or appended is None:
                if builder is not None:  # full: it goes as it is, a new one follows
                    ready.append((tp, builder, callbacks.pop(tp, [])))
                builder = builders[tp] = producer.create_batch()
                # The first record of a batch always fits, whatever its size.
                builder.append(
                    timestamp=None, key=record.key, value=record.value, headers=record.headers
                )
            if record.delivered is not None:
                callbacks.setdefault(tp, []).append((builder.record_count() - 1, record.delivered))
        for tp, builder in builders.items():
            ready.append((tp, builder, callbacks.pop(tp, [])))
        # A partition's full builders were queued as they filled, its last one after them.
        for (topic, partition), builder, on_delivery in ready:
            future = await producer.send_batch(builder, topic, partition=partition)
            future.add_done_callback(self._on_batch(topic, partition, on_delivery))

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
            if self._on_error is not None:
                self._on_error(error)

    def _on_batch(
        self, topic: str, partition: int, on_delivery: list[tuple[int, Delivered]]
    ) -> Callable[[asyncio.Future[Any]], None]:
        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled():
                return
            error = future.exception()
            if error is not None:
                log.error("a batch for %s[%d] was not delivered: %r", topic, partition, error)
                self._fail(error)
                return
            base = future.result().offset
            for index, delivered in on_delivery:
                delivered(base + index)

        return done
