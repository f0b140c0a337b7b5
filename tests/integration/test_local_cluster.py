"""Three local nodes: the launcher finds a running cluster, restarts a dead node and stops
clean; under failure, one broker SIGKILLed under acks=all load loses no acknowledged write and
breaks no partition's order, and with two down, writes fail."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from hub.errors import ConfigError
from hub.ops import local_cluster, local_kafka
from hub.ops.local_cluster import LocalCluster
from hub.ops.local_kafka import live_brokers
from hub.ops.local_service import pid_alive
from tests.support.broker import (  # noqa: F401 - the fixture
    kafka_cluster,
    writes_create_no_topic,
)

PARTITIONS = 6
KEYS = 24


@dataclass
class Partition:
    leader: int
    replicas: list[int]
    isr: list[int]


async def describe(bootstrap: str, topic: str) -> dict[int, Partition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {
        part["partition"]: Partition(part["leader"], list(part["replicas"]), list(part["isr"]))
        for part in described["partitions"]
    }


async def eventually(check: Callable[[], Any], timeout_s: float, what: str) -> None:
    """Poll ``check`` (sync or async) until it is true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            with contextlib.suppress(KafkaError, OSError):
                result = await result
        if result is True:
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f}s")


@dataclass
class Load:
    """A producer that keeps sending ``k<n>`` -> ``k<n>:<seq>`` (seq rises across all keys)
    with acks=all and idempotence, remembering where each acknowledged record landed."""

    topic: str
    acked: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    failed: dict[int, BaseException] = field(default_factory=dict)
    sent: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def _done(self, seq: int, key: str, future: asyncio.Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            self.failed[seq] = error
        else:
            meta = future.result()
            self.acked[seq] = (key, meta.partition, meta.offset)

    async def run(self, producer: AIOKafkaProducer) -> None:
        futures: list[asyncio.Future[Any]] = []
        while not self._stop.is_set():
            seq = self.sent
            key = f"k{seq % KEYS}"
            try:
                future = await producer.send(
                    self.topic, key=key.encode(), value=f"{key}:{seq}".encode()
                )
            except KafkaError as exc:
                self.failed[seq] = exc
            else:
                future.add_done_callback(lambda f, s=seq, k=key: self._done(s, k, f))
                futures.append(future)
            self.sent += 1
            await asyncio.sleep(0.004)
        await asyncio.gather(*futures, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()


async def read_all(bootstrap: str, topic: str) -> dict[int, list[tuple[int, str, int]]]:
    """Every record of ``topic`` as read_committed sees it: partition -> [(offset, key, seq)]."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        got: dict[int, list[tuple[int, str, int]]] = {p: [] for p in range(PARTITIONS)}
        async with asyncio.timeout(60):
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        key, _, seq = record.value.decode().partition(":")
                        assert record.key.decode() == key
                        got[tp.partition].append((record.offset, key, int(seq)))
        return got
    finally:
        await consumer.stop()


async def test_one_broker_killed_under_acks_all_loses_nothing_and_two_down_stop_writes(
    kafka_cluster: LocalCluster,  # noqa: F811 - the imported fixture
    topic_name: Callable[[str], str],
) -> None:
    cluster = kafka_cluster
    bootstrap = cluster.bootstrap
    topic = topic_name("failover")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3)]
        )
    finally:
        await admin.close()
    await eventually(
        lambda: _all_in_sync(bootstrap, topic), 30, "every partition with 3 in-sync replicas"
    )
    layout = await describe(bootstrap, topic)
    assert all(sorted(part.replicas) == [1, 2, 3] for part in layout.values())
    # The leader of partition 0 dies, so at least one partition must fail over.
    victim = layout[0].leader
    survivors = [node for node in cluster.node_ids if node != victim]

    load = Load(topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=30000,
        linger_ms=5,
    )
    await producer.start()
    try:
        producing = asyncio.create_task(load.run(producer))
        await eventually(lambda: len(load.acked) >= 300, 30, "300 acknowledged writes")

        await asyncio.to_thread(cluster.kill_node, victim)
        killed_at = len(load.acked)
        # Fenced after the broker session timeout; its partitions get new leaders, and the
        # in-sync sets shrink to the two survivors, which still satisfy min.insync.replicas=2.
        await eventually(
            lambda: _brokers_are(bootstrap, set(survivors)), 30, f"node {victim} fenced"
        )
        await eventually(
            lambda: len(load.acked) >= killed_at + 500, 30, "writes acked with one node down"
        )

        await asyncio.to_thread(cluster.start_node, victim)
        await eventually(
            lambda: _all_in_sync(bootstrap, topic), 60, f"node {victim} back in every ISR"
        )
        restarted_at = len(load.acked)
        await eventually(
            lambda: len(load.acked) >= restarted_at + 300, 30, "writes acked after the restart"
        )
        load.stop()
        await producing
    finally:
        load.stop()
        await producer.stop()

    assert not load.failed, f"{len(load.failed)} failed: {list(load.failed.values())[:3]!r}"
    got = await read_all(bootstrap, topic)
    landed = {(p, offset): (key, seq) for p, rows in got.items() for offset, key, seq in rows}
    for seq, (key, partition, offset) in load.acked.items():
        assert landed.get((partition, offset)) == (key, seq), f"acked {key}:{seq} lost"
    assert {seq for _, seq in landed.values()} == set(range(load.sent))
    assert len(landed) == load.sent, "a record was written twice"
    for partition, rows in got.items():
        per_key: dict[str, list[int]] = {}
        for _, key, seq in rows:
            per_key.setdefault(key, []).append(seq)
        for key, seqs in per_key.items():
            assert seqs == sorted(seqs), f"partition {partition} reordered {key}"
    keys_by_partition = {p: {key for _, key, _ in rows} for p, rows in got.items()}
    assert sum(len(keys) for keys in keys_by_partition.values()) == KEYS

    # Two down: the last node cannot make a write durable on two brokers, and with the
    # controller quorum gone it cannot shrink the in-sync set either, so acks=all fails.
    first, second = survivors
    await asyncio.to_thread(cluster.kill_node, first)
    await eventually(lambda: _brokers_are(bootstrap, {victim, second}), 30, f"node {first} fenced")
    await asyncio.to_thread(cluster.kill_node, second)
    # Not idempotent: an idempotent producer's start asks a broker for a producer id, which
    # without a quorum never comes; the write itself is what must fail here.
    lonely = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=5000)
    async with asyncio.timeout(60):
        try:
            await lonely.start()
            outcomes = await asyncio.gather(
                *[
                    lonely.send_and_wait(topic, key=b"late", value=b"late", partition=p)
                    for p in range(PARTITIONS)
                ],
                return_exceptions=True,
            )
        finally:
            await lonely.stop()
    succeeded = [p for p, outcome in enumerate(outcomes) if not isinstance(outcome, BaseException)]
    assert not succeeded, f"acks=all writes to partitions {succeeded} succeeded on one broker"
    assert all(isinstance(outcome, KafkaError) for outcome in outcomes), outcomes
    # A node without its quorum cannot shut down cleanly; SIGTERM would wait out the timeout.
    await asyncio.to_thread(cluster.kill_node, victim)


async def _all_in_sync(bootstrap: str, topic: str) -> bool:
    parts = await describe(bootstrap, topic)
    return len(parts) == PARTITIONS and all(len(part.isr) == 3 for part in parts.values())


async def _brokers_are(bootstrap: str, expected: set[int]) -> bool:
    # In a thread: the admin client it uses blocks, and the load must keep flowing meanwhile.
    return await asyncio.to_thread(live_brokers, bootstrap) == expected


def test_a_second_start_finds_the_cluster_and_restarts_a_dead_node(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    first = local_cluster.start_cluster(data_dir, die_with_parent=True)
    try:
        assert len(first.bootstrap.split(",")) == 3
        asyncio.run(writes_create_no_topic(first.bootstrap, replication_factor=3))
        again = local_cluster.start_cluster(data_dir, die_with_parent=True)
        assert [node.pid for node in again.nodes] == [node.pid for node in first.nodes]
        with pytest.raises(ConfigError, match="cluster runs from"):
            local_kafka.start_broker(data_dir)

        local_cluster.kill_node(data_dir, 3)
        status = local_cluster.cluster_status(data_dir)
        assert status is not None
        assert [local_cluster.node_alive(node) for node in status.nodes] == [True, True, False]
        healed = local_cluster.start_cluster(data_dir, die_with_parent=True)
        assert healed.node(3).pid != first.node(3).pid
        assert healed.node(3).port == first.node(3).port
        assert all(local_cluster.node_alive(node) for node in healed.nodes)
    finally:
        assert local_cluster.stop_cluster(data_dir, timeout_s=20)
    assert not any(pid_alive(node.pid) for node in healed.nodes)
    assert local_cluster.cluster_status(data_dir) is None
    assert not local_cluster.stop_cluster(data_dir)


def _squat_node_two() -> socket.socket:
    """A listening socket on a port P whose node-1 neighbours (P - 2, P + 1) are free, so a
    cluster on ``port=P - 2, controller_port=P + 1`` fails exactly on node 2's port."""
    for _ in range(20):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if not any(local_kafka.port_in_use(port + delta) for delta in (-2, 1)):
            sock.listen()
            return sock
        sock.close()
    pytest.fail("no port with free neighbours found")


def test_a_taken_node_port_is_refused_before_any_node_starts(tmp_path: Path) -> None:
    with _squat_node_two() as squatter:
        taken = squatter.getsockname()[1]
        with pytest.raises(ConfigError, match=f"node 2's port {taken} on 127.0.0.1 is already"):
            local_cluster.start_cluster(
                tmp_path / "cluster", port=taken - 2, controller_port=taken + 1
            )
    assert local_cluster.cluster_status(tmp_path / "cluster") is None
