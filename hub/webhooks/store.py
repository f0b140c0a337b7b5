"""The bridge's topics as the commands use them: endpoints, the delivery log, parked
deliveries and the partner-topic scan a replay makes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import TopicPartition

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Record, open_consumer, producer, read_all
from hub.errors import SchemaError
from hub.settings import Settings
from hub.topics import PartnerTopic, Topic, TopicSpec
from hub.webhooks.records import Delivery, Endpoint, Parked


def webhook_specs(settings: Settings) -> tuple[TopicSpec, ...]:
    names = {settings.catalog.name(t) for t in (Topic.WEBHOOK_ENDPOINTS, Topic.WEBHOOK_DELIVERIES)}
    names.add(settings.catalog.name(Topic.WEBHOOK_RETRIES))
    return tuple(spec for spec in settings.catalog.fixed() if spec.name in names)


async def ensure_webhook_topics(settings: Settings) -> None:
    """Create the bridge's topics if missing (a worker's start creates them too)."""
    await apply_topics(
        settings.kafka_bootstrap_servers,
        webhook_specs(settings),
        replication_factor=settings.kafka_replication_factor,
        auth=auth_from_settings(settings),
    )


def fold_endpoints(records: Iterable[Record]) -> dict[str, Endpoint]:
    """The latest record per endpoint id; a tombstone (no value) removes it."""
    endpoints: dict[str, Endpoint] = {}
    for record in records:
        if record.key is None:
            continue
        key = record.key.decode()
        if record.value is None:
            endpoints.pop(key, None)
            continue
        try:
            endpoints[key] = Endpoint.from_bytes(record.value)
        except SchemaError:
            continue
    return endpoints


async def load_endpoints(settings: Settings) -> dict[str, Endpoint]:
    records = await read_all(
        settings.kafka_bootstrap_servers,
        settings.catalog.name(Topic.WEBHOOK_ENDPOINTS),
        auth=auth_from_settings(settings),
    )
    return fold_endpoints(records)


async def put_endpoint(settings: Settings, endpoint_id: str, endpoint: Endpoint | None) -> None:
    """Write an endpoint record, or its tombstone when ``endpoint`` is None."""
    topic = settings.catalog.name(Topic.WEBHOOK_ENDPOINTS)
    async with producer(settings.kafka_bootstrap_servers, auth=auth_from_settings(settings)) as p:
        value = None if endpoint is None else endpoint.to_bytes()
        await (await p.send(topic, key=endpoint_id.encode(), value=value))


async def load_deliveries(settings: Settings) -> list[Delivery]:
    records = await read_all(
        settings.kafka_bootstrap_servers,
        settings.catalog.name(Topic.WEBHOOK_DELIVERIES),
        auth=auth_from_settings(settings),
    )
    out = []
    for record in records:
        if record.value is None:
            continue
        try:
            out.append(Delivery.from_bytes(record.value))
        except SchemaError:
            continue
    return sorted(out, key=lambda d: d.at)


async def write(settings: Settings, items: Sequence[tuple[Topic, str, bytes]]) -> None:
    """Send ``(topic, key, value)`` items and wait until the broker has them all."""
    async with producer(settings.kafka_bootstrap_servers, auth=auth_from_settings(settings)) as p:
        futures = [
            await p.send(settings.catalog.name(t), key=k.encode(), value=v) for t, k, v in items
        ]
        await asyncio.gather(*futures)


async def park(settings: Settings, items: Sequence[Parked]) -> None:
    await write(settings, [(Topic.WEBHOOK_RETRIES, p.endpoint_id, p.to_bytes()) for p in items])


async def log_delivery(settings: Settings, delivery: Delivery) -> None:
    await write(settings, [(Topic.WEBHOOK_DELIVERIES, delivery.endpoint_id, delivery.to_bytes())])


@dataclass(frozen=True)
class ReplayFrom:
    """Where a replay starts: a time (epoch ms), or an offset of every selected partition."""

    since_ms: int | None = None
    offset: int | None = None
    partition: int | None = None


async def scan_partner_topics(
    settings: Settings, reseller_id: str, kinds: Sequence[PartnerTopic], start: ReplayFrom
) -> list[Record]:
    """The records of the reseller's partner topics from ``start`` to their current end."""
    catalog = settings.catalog
    async with open_consumer(
        settings.kafka_bootstrap_servers,
        auth=auth_from_settings(settings),
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    ) as consumer:
        await consumer._client.force_metadata_update()
        assigned: list[TopicPartition] = []
        for kind in kinds:
            topic = catalog.partner(reseller_id, kind)
            for p in sorted(consumer.partitions_for_topic(topic) or ()):
                if start.partition is None or start.partition == p:
                    assigned.append(TopicPartition(topic, p))
        if not assigned:
            return []
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        firsts = await consumer.beginning_offsets(assigned)
        if start.since_ms is not None:
            found = await consumer.offsets_for_times(dict.fromkeys(assigned, start.since_ms))
            for tp in assigned:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        else:
            for tp in assigned:
                consumer.seek(tp, max(start.offset or 0, firsts[tp]))
        records: list[Record] = []
        remaining = {tp for tp in assigned if await consumer.position(tp) < ends[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, items in batch.items():
                records.extend(
                    Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
                    for r in items
                    if r.offset < ends[tp]
                )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return records
