"""Publishing and reading hub events outside a worker: CLI commands, the demo, tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError
from aiokafka.protocol.metadata import MetadataRequest

from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.errors import ExternalServiceError
from hub.runtime.dead_letter import Headers
from hub.runtime.kafka_client import track_produced_topics
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str
    event: Event


@dataclass(frozen=True)
class Record:
    """One record as read back: raw bytes and headers, and its position."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers


@contextlib.asynccontextmanager
async def producer(
    bootstrap: str, *, auth: KafkaAuth | None = None
) -> AsyncIterator[AIOKafkaProducer]:
    track_produced_topics()  # see hub/runtime/kafka_client.py
    # Idempotent producer: a retried send is never written twice.
    client = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **client_kwargs(auth)
    )
    try:
        await client.start()
    except Exception as exc:
        await client.stop()  # its connections and tasks, or aiokafka warns of an unclosed client
        raise ExternalServiceError(
            "kafka", f"cannot reach Kafka at {bootstrap}: {exc}", retriable=True
        ) from exc
    try:
        yield client
    finally:
        await client.stop()


@contextlib.asynccontextmanager
async def open_consumer(
    bootstrap: str, *, auth: KafkaAuth | None = None, **options: object
) -> AsyncIterator[AIOKafkaConsumer]:
    """A started group-less consumer (``options`` as aiokafka's), stopped on leaving, and also
    when its start fails: a consumer never stopped keeps its connections, and aiokafka logs
    "Unclosed AIOKafkaConsumer" when it is collected."""
    client = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **client_kwargs(auth), **options
    )
    try:
        await client.start()
        yield client
    finally:
        await client.stop()


async def publish(
    bootstrap: str, codec: Codec, items: Sequence[Outgoing], *, auth: KafkaAuth | None = None
) -> int:
    """Encode and send every item, waiting until the broker has them all. Returns the count."""
    encoded = [(item, codec.encode(item.event)) for item in items]
    async with producer(bootstrap, auth=auth) as client:
        futures = [
            await client.send(
                item.topic,
                key=item.key.encode(),
                value=value,
                headers=event_headers(item.event),
            )
            for item, value in encoded
        ]
        await asyncio.gather(*futures)
    return len(encoded)


async def _refuse_if_unauthorized(consumer: AIOKafkaConsumer, topic: str) -> None:
    """Raise the broker's TopicAuthorizationFailedError rather than read a denied topic as empty.

    A metadata request for all topics silently omits those the client may not describe; asking
    by name (without auto-creating it) makes the broker say which it is.
    """
    client = consumer._client
    request = MetadataRequest([topic], allow_auto_topic_creation=False)
    response = await client.send(client.get_random_node(), request)
    for error_code, *_ in response.topics:
        if error_code == TopicAuthorizationFailedError.errno:
            raise TopicAuthorizationFailedError(topic)


async def read_all(
    bootstrap: str, topic: str, *, timeout_s: float = 60.0, auth: KafkaAuth | None = None
) -> list[Record]:
    """Everything currently in ``topic`` (all partitions, from the start to the current end)."""
    async with open_consumer(
        bootstrap, auth=auth, auto_offset_reset="earliest", isolation_level="read_committed"
    ) as consumer:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await _refuse_if_unauthorized(consumer, topic)
            partitions = set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[Record] = []
        remaining = {tp for tp in assigned if ends[tp] > 0}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while remaining:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s}s")
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(
                    Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
                    for r in items
                )
            # Positions, not counts: transaction markers occupy offsets too.
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return records


async def follow(
    bootstrap: str,
    topics: Sequence[str],
    *,
    since_ms: int,
    auth: KafkaAuth | None = None,
) -> AsyncGenerator[Record | None, None]:
    """Every record of ``topics`` written from ``since_ms`` (epoch ms) on, as it arrives, until
    the caller stops iterating (no consumer group: nothing is committed). ``None`` after each
    poll that found nothing, so the caller can keep time."""
    async with open_consumer(
        bootstrap, auth=auth, auto_offset_reset="latest", isolation_level="read_committed"
    ) as consumer:
        assigned: list[TopicPartition] = []
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await _refuse_if_unauthorized(consumer, topic)
                partitions = set()
            assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        # The ends first: a record that lands between the two lookups is then at or after its
        # partition's end and is read from there. Looked up the other way round, a record
        # written just after the timestamp lookup found nothing was skipped by seeking to an
        # end already past it, which is how a fast answer to a CLI request went unseen.
        ends = await consumer.end_offsets(assigned)
        starts = await consumer.offsets_for_times(dict.fromkeys(assigned, since_ms))
        for tp in assigned:
            found = starts.get(tp)
            consumer.seek(tp, min(found.offset, ends[tp]) if found is not None else ends[tp])
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                yield None
            for items in batch.values():
                for r in items:
                    yield Record(
                        r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or [])
                    )
