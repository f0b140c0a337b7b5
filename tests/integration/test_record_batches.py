"""The worker's record batches against a real broker: order, partitioning, offsets, failure.

``RecordBatches`` (hub/runtime/record_batches.py) carries every flow's state writes (changelog
records) and outputs; a journal entry is only sound if a partition's records land in the order
they were added, and an output keyed like any faust send must land on the partition Kafka's
default partitioner picks for its key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.runtime.kafka_client import track_produced_topics
from hub.runtime.record_batches import RecordBatches
from tests.integration.test_broker_roundtrip import create_topics
from tests.support.broker import BrokerInfo


async def _read(bootstrap: str, topic: str, count: int) -> list[tuple[int, int, bytes, bytes]]:
    """(partition, offset, key, value) of ``count`` records of ``topic``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[tuple[int, int, bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += [(r.partition, r.offset, r.key or b"", r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return got


async def test_records_of_a_partition_land_in_the_order_added_across_many_batches(
    kafka: BrokerInfo, topic_name: Callable[[str], str]
) -> None:
    track_produced_topics()
    changelog, outputs = topic_name("rb-changelog"), topic_name("rb-outputs")
    await create_topics(kafka.bootstrap, changelog, outputs, partitions=4)
    # Small batches: 3,000 records of ~1 KB fill many builders per partition.
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, acks="all", max_batch_size=16_384, linger_ms=5
    )
    await producer.start()
    reached: dict[int, int] = {}
    batches = RecordBatches(lambda: producer)
    try:

        def note(partition: int) -> Callable[[int], None]:
            return lambda offset: reached.__setitem__(partition, offset)

        for i in range(3_000):
            partition = i % 3
            key = f"reseller-{i % 10}".encode()
            batches.add(
                changelog,
                partition,
                f"k{i}".encode(),
                f"{i:06d}".encode() * 150,
                (),
                (lambda offset, p=partition: reached.__setitem__(p, offset))
                if i % 7 == 0
                else None,
            )
            batches.add(
                outputs, None, f"reseller-{i % 10}".encode(), str(i).encode(), [("h", b"v")]
            )
        assert batches.pending() == 6_000
        await batches.publish()
        assert batches.pending() == 0
        await producer.flush()
        keyed = {
            f"reseller-{n}".encode(): producer._partition(
                outputs, None, None, None, f"reseller-{n}".encode(), b""
            )
            for n in range(10)
        }
    finally:
        await producer.stop()

    written = await _read(kafka.bootstrap, changelog, 3_000)
    for partition in range(3):
        values = [int(value[:6]) for p, _, _, value in sorted(written) if p == partition]
        assert values == list(range(partition, 3_000, 3))  # every record, in the order added
    last_noted = {p: max(i for i in range(p, 3_000, 3) if i % 7 == 0) for p in range(3)}
    offsets = {(p, int(value[:6])): offset for p, offset, _, value in written}
    assert reached == {p: offsets[(p, i)] for p, i in last_noted.items()}

    sent = await _read(kafka.bootstrap, outputs, 3_000)
    # Each output on its key's partition, as Kafka's default partitioner (murmur2) puts it.
    assert all(partition == keyed[key] for partition, _, key, _ in sent)
    by_key: dict[bytes, list[int]] = {}
    for _, _, key, value in sorted(sent):
        by_key.setdefault(key, []).append(int(value))
    assert by_key == {key: list(range(n, 3_000, 10)) for n, key in enumerate(sorted(keyed))}


async def test_a_batch_the_client_cannot_deliver_stops_every_later_publish(
    kafka: BrokerInfo, topic_name: Callable[[str], str]
) -> None:
    track_produced_topics()
    topic = topic_name("rb-failed")
    await create_topics(kafka.bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    told: list[BaseException] = []
    batches = RecordBatches(lambda: producer, told.append)
    try:
        # Partition 5 of a one-partition topic: the client refuses the batch.
        batches.add(topic, 5, b"k", b"v")
        refused = await _raised(batches.publish())
        assert refused is not None
        assert told == [refused]
        batches.add(topic, 0, b"k", b"later")
        # Nothing more is handed over once a record was lost.
        assert await _raised(batches.publish()) is refused
    finally:
        await producer.stop()


async def _raised(call: Awaitable[None]) -> BaseException | None:
    try:
        await call
    except Exception as exc:  # noqa: BLE001 - the caller asserts what it is
        return exc
    return None
