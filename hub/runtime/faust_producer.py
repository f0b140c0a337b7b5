"""faust's producer with a buffer whose flush hands over every table write, in order.

Table writes are synchronous (``table[key] = value``), so faust queues each changelog record in
the producer's buffer and a background task hands them to the Kafka client one by one. Before
offsets are committed faust flushes that buffer, but faust 0.15.3's flush gives up once no
record has been handed over for 0.1 s, and never waits for the one its background task is
handing over (a full client batch can hold it for a produce round trip). Under load the commit
then covers messages whose table writes never reached Kafka; a SIGKILL after it loses those
writes for good, and the idempotency tables they belong to no longer stop a replay
(tests/reliability/test_crash_money_flows.py lost billed subscriptions this way).

Here one sender at a time (the background task, or a flush) takes the oldest record and hands
it over, so records leave in the order they were written, and ``flush`` returns only once every
record queued before it has been handed over. The commit's client flush that follows then waits
for their delivery.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from mode import Service

from hub.runtime.record_batches import RecordBatches


class OrderedProducerBuffer(ProducerBuffer):
    """A producer buffer with one sender at a time and a flush that does not give up."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sending = asyncio.Lock()
        self._has_pending = asyncio.Event()
        self.queued = 0  # records put so far
        self.handed_over = 0  # records handed to the Kafka client so far

    def put(self, fut: FutureMessage) -> None:
        super().put(fut)
        self.queued += 1
        self._has_pending.set()

    async def send_next(self) -> bool:
        """Hand the oldest queued record to the Kafka client; False if there was none."""
        async with self._sending:
            if self.pending.empty():
                return False
            await self._send_pending(self.pending.get_nowait())
            self.handed_over += 1
            self.message_sent.set()
            return True

    @Service.task
    async def _handle_pending(self) -> None:
        while not self.should_stop:
            if not await self.send_next():
                self._has_pending.clear()
                if self.pending.empty():
                    await self._has_pending.wait()

    async def flush(self) -> None:
        """Return once every record queued before the call is in the Kafka client's hands."""
        app: Any = self.app
        if app is not None and app.conf.producer_threaded:
            await super().flush()  # records go to the producer thread's queue instead
            return
        target = self.queued
        while self.handed_over < target:
            if not await self.send_next():
                # Queue empty: the background task took the last ones; wait until it is done.
                async with self._sending:
                    return


class OrderedBufferProducer(faust_aiokafka.Producer):
    """faust's aiokafka producer on an ``OrderedProducerBuffer``, with the worker's
    ``RecordBatches`` (hub/runtime/record_batches.py): the flows' state writes and outputs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        buffer = OrderedProducerBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        if self.app.conf.producer_threaded:
            buffer.threaded_producer = self.threaded_producer
        self.buffer = buffer
        self.batches = RecordBatches(self._ensure_producer, self._undeliverable)

    def _undeliverable(self, error: BaseException) -> None:
        """A state write or output the client gave up on: the worker stops, and a restart
        replays from the last commit (hub/runtime/record_batches.py)."""
        self._crashing = asyncio.ensure_future(self.crash(error))

    @Service.task
    async def _publish_batches(self) -> None:
        await self.batches.run(lambda: self.should_stop)

    async def flush(self) -> None:
        """Every record so far delivered: the batches' first, then faust's buffer and the
        client's (faust flushes before it commits offsets)."""
        await self.batches.publish()
        await super().flush()
