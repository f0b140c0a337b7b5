"""Partitions a group never committed on, against the real broker: each is read from where its
log starts and committed to its end (hub/runtime/faust_transport.py, rule 3).

A worker of ``HubApp`` copies one topic to another. Its group starts with no committed offset:
partition 0's log start was moved past 0 (records deleted, as retention does), partition 1
starts at 0, and partition 2 is empty until the worker runs. The worker must learn each start
(no record before it is waited for or fetched again) and commit every partition to its end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import KafkaError

from hub.ops.local_kafka import free_port
from tests.support.broker import BrokerInfo

# The worker: HubApp (the hub's transport) with one agent that copies and acks each record.
APP = """
import os

import faust

from hub.runtime.faust_transport import HubApp

app = HubApp(
    os.environ["FRESH_APP_ID"],
    broker=f"kafka://{os.environ['FRESH_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["FRESH_DATADIR"],
    web_port=int(os.environ["FRESH_WEB_PORT"]),
    web_host="127.0.0.1",
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    autodiscover=False,
)
source = app.topic(os.environ["FRESH_SRC"], key_serializer="raw", value_serializer="raw")
sink = app.topic(os.environ["FRESH_DST"], key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def copy(stream):
    async for key, value in stream.items():
        await sink.send(key=key, value=b"seen:" + value)


if __name__ == "__main__":
    app.main()
"""

DELETED = 20  # partition 0's log starts here


async def send(bootstrap: str, topic: str, partition: int, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, key=b"k", value=value, partition=partition)
    finally:
        await producer.stop()


async def prepare(bootstrap: str, src: str, dst: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(src, num_partitions=3, replication_factor=1),
                NewTopic(dst, num_partitions=1, replication_factor=1),
            ]
        )
        await send(bootstrap, src, 0, [f"p0-{n}".encode() for n in range(50)])
        await send(bootstrap, src, 1, [f"p1-{n}".encode() for n in range(30)])
        await admin.delete_records({TopicPartition(src, 0): RecordsToDelete(DELETED)})
    finally:
        await admin.close()


async def committed(bootstrap: str, group: str, src: str) -> dict[int, int]:
    """The group's committed offset per partition of ``src`` (none while it has no coordinator)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # e.g. the coordinator of a group that never committed is not known yet
        return {}
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == src}


async def values_in(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        end = (await consumer.end_offsets([tp]))[tp]
        got: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(r.value or b"" for records in batch.values() for r in records)
        return got
    finally:
        await consumer.stop()


def test_partitions_never_committed_are_read_from_their_log_start_and_committed_to_the_end(
    kafka: BrokerInfo, topic_name: Callable[[str], str], tmp_path: Path
) -> None:
    src, dst, group = topic_name("src"), topic_name("dst"), topic_name("app")
    asyncio.run(prepare(kafka.bootstrap, src, dst))
    app = tmp_path / "fresh_app.py"
    app.write_text(APP)
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "FRESH_APP_ID": group,
        "FRESH_BOOTSTRAP": kafka.bootstrap,
        "FRESH_DATADIR": str(tmp_path / "data"),
        "FRESH_WEB_PORT": str(free_port()),
        "FRESH_SRC": src,
        "FRESH_DST": dst,
    }
    worker = subprocess.Popen(
        [sys.executable, str(app), "worker", "-l", "warn"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parents[2],
    )
    expected = {0: 50, 1: 30, 2: 5}
    try:
        deadline = time.monotonic() + 120
        # Partition 2 gets its records once the worker has it (empty, never committed).
        while asyncio.run(committed(kafka.bootstrap, group, src)).get(1) != 30:
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        asyncio.run(send(kafka.bootstrap, src, 2, [f"p2-{n}".encode() for n in range(5)]))
        while (offsets := asyncio.run(committed(kafka.bootstrap, group, src))) != expected:
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, (
                f"committed {offsets}, expected {expected}:\n"
                + log.read_text(errors="replace")[-3000:]
            )
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    copied = asyncio.run(values_in(kafka.bootstrap, dst))
    wanted = [
        *(f"seen:p0-{n}" for n in range(DELETED, 50)),
        *(f"seen:p1-{n}" for n in range(30)),
        *(f"seen:p2-{n}" for n in range(5)),
    ]
    assert sorted(set(copied)) == sorted(v.encode() for v in wanted)
    text = log.read_text(errors="replace")
    # The start was read from the broker, not guessed: nothing before it was fetched again.
    assert "never delivered" not in text, text[-3000:]
    assert "could not read where" not in text, text[-3000:]
