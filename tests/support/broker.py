"""Pick the real Kafka broker a test session runs against, and start it if needed.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` set -> use it; a Docker engine answers -> testcontainers
with the official ``apache/kafka`` image; otherwise the local broker built from Maven jars.
``HUB_TEST_BROKER=env|docker|local|cluster`` forces a choice; ``cluster`` is three local nodes
(replication 3, min ISR 2). A test that takes brokers away uses ``own_cluster()`` (or the
``kafka_cluster`` fixture) for a cluster of its own, never the session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from hub.errors import ConfigError
from hub.ops import local_kafka
from hub.ops.local_cluster import LocalCluster

# Same version as ops/kafka/pom.xml and docker-compose.yml.
KAFKA_IMAGE = "apache/kafka:4.1.1"


class BrokerSource(StrEnum):
    ENV = "env"
    DOCKER = "docker"
    LOCAL = "local"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class BrokerInfo:
    bootstrap: str
    source: BrokerSource
    # Set for the local broker and cluster only: where its data lives, for restart tests.
    data_dir: Path | None = None
    # Set for HUB_TEST_BROKER=cluster: its nodes, which a test must leave running.
    cluster: LocalCluster | None = None


def docker_engine_answers() -> bool:
    """True when a Docker engine (not just the client) answers a ping within a few seconds."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no engine, no socket, no SDK: all mean "no Docker"
        return False


def select_source(
    env: Mapping[str, str], docker_available: Callable[[], bool] = docker_engine_answers
) -> BrokerSource:
    forced = env.get("HUB_TEST_BROKER", "").strip().lower()
    if forced:
        try:
            source = BrokerSource(forced)
        except ValueError:
            raise ConfigError(
                f"HUB_TEST_BROKER={forced!r}: use env, docker or local (one broker), "
                "or cluster (three local nodes)"
            ) from None
        if source is BrokerSource.ENV and not env.get("KAFKA_BOOTSTRAP_SERVERS"):
            raise ConfigError("HUB_TEST_BROKER=env but KAFKA_BOOTSTRAP_SERVERS is not set")
        return source
    if env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip():
        return BrokerSource.ENV
    if docker_available():
        return BrokerSource.DOCKER
    return BrokerSource.LOCAL


@contextlib.contextmanager
def _docker_broker() -> Iterator[BrokerInfo]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = local_kafka.free_port()
    container: Any = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_NUM_PARTITIONS", "3")
        # As the local broker and docker-compose.yml: no topic is created by a write.
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    container.start()
    try:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        yield BrokerInfo(bootstrap=f"127.0.0.1:{port}", source=BrokerSource.DOCKER)
    finally:
        container.stop()


async def writes_create_no_topic(bootstrap: str, replication_factor: int = 1) -> None:
    """Assert that a write to an undeclared topic fails and creates nothing, and that the same
    topic created through the admin API (as ``apply_topics`` and faust do) takes the write."""
    topic = f"undeclared.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await asyncio.gather(producer.start(), admin.start())
    try:
        with pytest.raises(KafkaError):
            await producer.send_and_wait(topic, b"stray")
        assert topic not in await admin.list_topics(), "a write created a topic"
        await admin.create_topics([NewTopic(topic, 1, replication_factor)])
        for _ in range(50):  # the producer's metadata catches up with the new topic
            try:
                await producer.send_and_wait(topic, b"declared")
                break
            except KafkaError:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{topic} created through the admin API took no write")
    finally:
        await asyncio.gather(producer.stop(), admin.close())


@contextlib.contextmanager
def _local_broker() -> Iterator[BrokerInfo]:
    # HUB_TEST_RUN_ID names a run's brokers, so that its clean-up (.ci/run) stops only them and
    # not the brokers of another checkout's tests or benchmarks on the same machine.
    run_id = os.environ.get("HUB_TEST_RUN_ID", "").strip()
    prefix = f"hub-test-kafka-{run_id}-" if run_id else "hub-test-kafka-"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        data_dir = Path(tmp)
        handle = local_kafka.start_broker(data_dir, die_with_parent=True)
        try:
            yield BrokerInfo(
                bootstrap=handle.bootstrap, source=BrokerSource.LOCAL, data_dir=data_dir
            )
        finally:
            local_kafka.stop_broker(data_dir)


@contextlib.contextmanager
def own_cluster(data_dir: Path | None = None, nodes: int = 3) -> Iterator[LocalCluster]:
    """A local cluster for one test (or module), in ``data_dir`` or a temporary directory.

    Its nodes die with the test process and are stopped on the way out, whatever the test did
    to them; SIGTERM waits a short while only, since a node that lost its quorum cannot shut
    down cleanly.
    """
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-cluster-")))
        cluster = LocalCluster.start(data_dir, nodes=nodes, die_with_parent=True)
        try:
            yield cluster
        finally:
            cluster.stop(timeout_s=15.0)


@pytest.fixture
def kafka_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A three-node cluster of the test's own (import this fixture into the test module)."""
    with own_cluster(tmp_path / "cluster") as cluster:
        yield cluster


@contextlib.contextmanager
def _cluster_broker() -> Iterator[BrokerInfo]:
    with own_cluster() as cluster:
        yield BrokerInfo(
            bootstrap=cluster.bootstrap,
            source=BrokerSource.CLUSTER,
            data_dir=cluster.data_dir,
            cluster=cluster,
        )


@contextlib.contextmanager
def session_broker(env: Mapping[str, str]) -> Iterator[BrokerInfo]:
    """A real broker for one test session, stopped afterwards if this started it."""
    source = select_source(env)
    if source is BrokerSource.ENV:
        yield BrokerInfo(bootstrap=env["KAFKA_BOOTSTRAP_SERVERS"].strip(), source=source)
    elif source is BrokerSource.DOCKER:
        with _docker_broker() as broker:
            yield broker
    elif source is BrokerSource.CLUSTER:
        with _cluster_broker() as broker:
            yield broker
    else:
        with _local_broker() as broker:
            yield broker
