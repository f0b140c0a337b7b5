"""Reading topics whole from their start in a worker, with no consumer group.

Books kept in memory (reference data, relationship books) are rebuilt this way in every worker:
every partition of the topics is assigned, read from the beginning, and followed from there on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from hub.connectors.kafka_auth import KafkaAuth
from hub.connectors.kafka_io import open_consumer

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


async def replay(
    topics: Sequence[str],
    bootstrap: str,
    auth: KafkaAuth | None,
    *,
    waiting: Callable[[list[str]], None] | None = None,
) -> AsyncGenerator[tuple[Batch, bool], None]:
    """Each poll's records (possibly none), and whether the topics have been read up to where
    they ended when reading began; once that is true it stays true.

    Until the broker knows every topic the reader waits, calling ``waiting`` with the missing
    ones at first and every 30 s after."""
    async with open_consumer(bootstrap, auth=auth, auto_offset_reset="earliest") as consumer:
        partitions = await _partitions(consumer, topics, waiting)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        caught_up = False
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=2_000)
            caught_up = caught_up or await _caught_up(consumer, ends)
            yield batch, caught_up


async def _partitions(
    consumer: AIOKafkaConsumer,
    topics: Sequence[str],
    waiting: Callable[[list[str]], None] | None,
) -> list[TopicPartition]:
    """Every partition of ``topics``, once the broker knows them all."""
    waited = 0.0
    while True:
        await consumer._client.force_metadata_update()
        found = {t: consumer.partitions_for_topic(t) for t in topics}
        missing = [t for t, parts in found.items() if not parts]
        if not missing:
            return [TopicPartition(t, p) for t, parts in found.items() for p in parts or ()]
        if waiting is not None and waited % 30 < 1:
            waiting(missing)
        await asyncio.sleep(1.0)
        waited += 1.0


async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
