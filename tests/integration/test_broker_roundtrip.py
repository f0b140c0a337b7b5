"""First proofs against the real broker: aiokafka round trip, and a faust agent in a worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.ops.local_kafka import free_port
from tests.support.broker import BrokerInfo

APPS = Path(__file__).parent / "apps"


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def consume(
    bootstrap: str, topic: str, count: int, timeout_s: float
) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return got


async def test_aiokafka_round_trip_returns_every_record_in_order(
    kafka: BrokerInfo, topic_name: Callable[[str], str]
) -> None:
    topic = topic_name("roundtrip")
    await create_topics(kafka.bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(50):
            await producer.send_and_wait(topic, key=b"k", value=f"v{i}".encode())
    finally:
        await producer.stop()

    got = await consume(kafka.bootstrap, topic, 50, timeout_s=30)

    assert [value for _, value in got] == [f"v{i}".encode() for i in range(50)]


async def test_faust_agent_in_a_worker_copies_one_topic_to_another(
    kafka: BrokerInfo, topic_name: Callable[[str], str], tmp_path: Path
) -> None:
    src, dst = topic_name("src"), topic_name("dst")
    await create_topics(kafka.bootstrap, src, dst)
    env = {
        **os.environ,
        "PASSTHROUGH_APP_ID": topic_name("app"),
        "PASSTHROUGH_BOOTSTRAP": kafka.bootstrap,
        "PASSTHROUGH_DATADIR": str(tmp_path),
        "PASSTHROUGH_WEB_PORT": str(free_port()),
        "PASSTHROUGH_SRC": src,
        "PASSTHROUGH_DST": dst,
    }
    worker = subprocess.Popen(
        [sys.executable, str(APPS / "passthrough_app.py"), "worker", "-l", "warn"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("wb"),
    )
    try:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(src, key=f"k{i}".encode(), value=f"m{i}".encode())
        finally:
            await producer.stop()

        try:
            got = await consume(kafka.bootstrap, dst, 10, timeout_s=60)
        except TimeoutError:
            log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"no output from the worker (exit {worker.poll()}):\n{log}"
            ) from None
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert sorted(got) == sorted((f"k{i}".encode(), f"seen:m{i}".encode()) for i in range(10))
