"""What every stream module is given: the app, settings, codec, topics and reference tables."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust

from hub.runtime.batching import BatchPolicy
from hub.runtime.dead_letter import DeadLetters, Headers
from hub.runtime.journal import Journal
from hub.runtime.parking import PARKED_VIEW, Parking, due_in, tick
from hub.runtime.pipeline import Handler, ParkedRoute, Pipeline, RetryPolicy
from hub.runtime.state import FaustStore
from hub.runtime.tuning import ROCKSDB_OPTIONS
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.settings import Settings
from hub.streams import partner_guard
from hub.topics import Topic, TopicCatalog

if TYPE_CHECKING:
    from hub.streams.reference import ReferenceTables


@dataclass
class Context:
    """What a stream module needs besides the app: settings, codec, topics, the send path."""

    app: faust.App
    settings: Settings
    codec: Codec
    topics: TopicCatalog
    reference: ReferenceTables
    # Ops command contract -> the flow's handler; one agent dispatches (hub.streams.ops_commands).
    ops_handlers: dict[type[Event], Handler] = field(default_factory=dict)
    _raw_topics: dict[str, Any] = field(default_factory=dict)
    # Books every worker reads besides the reference data (the relationship books): no flow
    # handles a message, and the worker is not ready, until each is read (``wait_for``).
    _books: list[asyncio.Event] = field(default_factory=list)

    def wait_for(self, loaded: asyncio.Event) -> None:
        """Every flow's first message waits until ``loaded`` is set, as for reference data."""
        self._books.append(loaded)

    async def ready(self) -> None:
        await self.reference.loaded.wait()
        for loaded in self._books:
            await loaded.wait()

    def is_ready(self) -> bool:
        return self.reference.loaded.is_set() and all(b.is_set() for b in self._books)

    def raw_topic(self, name: str) -> Any:
        """A faust topic carrying raw bytes: the pipeline decodes and encodes, agents never do."""
        topic = self._raw_topics.get(name)
        if topic is None:
            topic = self.app.topic(
                name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
            )
            self._raw_topics[name] = topic
        return topic

    def source(self, topic: Topic) -> Any:
        return self.raw_topic(self.topics.name(topic))

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        # Never a partner topic of a reseller that was not onboarded (hub/streams/partner_guard.py).
        topic, headers = partner_guard.route(self.topics, self._onboarded, topic, headers)
        # In the worker's record batches, not faust's send path (hub/runtime/record_batches.py):
        # handed over in order with the flows' state writes, and before any commit.
        producer: Any = self.app.producer
        producer.batches.add(topic, None, key, value, headers)

    def _onboarded(self, reseller_id: str) -> bool:
        return reseller_id in self.reference.view().resellers

    def on_ops_command(self, command: type[Event], handler: Handler) -> None:
        if command in self.ops_handlers:
            raise ValueError(f"{command.__name__} already has an ops command handler")
        self.ops_handlers[command] = handler

    def journal(self, flow: str) -> Journal:
        """The flow's one state table and its journal (``hub.runtime.journal``). Only agents
        reading topics co-partitioned with it (keyed alike, same partition count) may use it."""
        table = self.app.Table(
            f"{flow}-state",
            partitions=self.settings.kafka_partitions,
            # Raw keys (bytes in the store, sorted as the strings they are): prefix scans.
            key_type=bytes,
            options=ROCKSDB_OPTIONS,
        )
        return Journal(FaustStore(table), flow, flush=self.flush)

    def parking(
        self, topic: Topic, journal: Journal, every_s: float = 2.0, page: int = 50
    ) -> Parking:
        """Parking for a flow whose agent reads ``topic`` (hub-internal, co-partitioned with
        its state): every ``every_s`` a timer looks at the first parked message of each of the
        topic's partitions this worker owns and, when one is due, sends that partition a tick
        (hub/runtime/parking.py). No parked message, no tick. ``page``: the parked messages
        one tick retries (fewer where each retry calls Microsoft)."""
        name = self.topics.name(topic)

        @self.app.timer(interval=every_s)  # type: ignore[untyped-decorator]
        async def send_ticks() -> None:
            now = int(time.time() * 1000)
            value, headers = tick(now)
            for tp in self.app.assignor.assigned_actives():
                if tp.topic != name:
                    continue
                if due_in(journal.first(tp.partition, PARKED_VIEW, f"{tp.partition}|"), now):
                    await self.raw_topic(name).send(
                        key=None, value=value, partition=tp.partition, headers=headers
                    )

        return Parking(name, page=page)

    async def flush(self) -> None:
        """Wait until every record this worker sent so far is delivered."""
        await self.app.producer.flush()

    def pipeline(
        self,
        flow: str,
        retry: RetryPolicy | None = None,
        *,
        observer: bool = False,
        journal: Journal | None = None,
        parking: Parking | None = None,
        parked_route: ParkedRoute | None = None,
        batched: bool = True,
        ready: bool = True,
    ) -> Pipeline:
        """``observer``: this flow reads a topic another flow owns (and dead-letters for);
        ``journal``: the flow's state, written through it; ``batched=False``: one message per
        journal entry (a flow whose handlers call Microsoft: a crash replays one call, not a
        batch of them); ``ready=False``: it need not wait for the worker's reference data."""
        size = self.settings.batch_max if batched else 1
        batch = BatchPolicy(size, self.settings.batch_wait_ms / 1000)
        return Pipeline(
            flow,
            self.codec,
            self.send,
            DeadLetters(self.send),
            retry,
            observer=observer,
            journal=journal,
            parking=parking,
            parked_route=parked_route,
            flush=self.flush,
            batch=batch,
            ready=self.ready if ready else None,
        )
