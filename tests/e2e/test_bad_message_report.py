"""A reseller's undecodable message, through a real worker: the reseller hears of it on its own
status topic (reason, topic, partition, offset), another reseller hears nothing, and the bytes
are dead-lettered unchanged."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import publish, read_all
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.events.ingress import IngressRejected
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import reference_events
from tests.support.ingress_world import reseller

RESELLERS = ("acme", "globex")
CODEC = Codec()
GARBAGE = b'{"order_id": "PO-1", "note": "globex card 4111111111111111"}'


@dataclass
class Hub:
    bootstrap: str
    topics: TopicCatalog
    worker: WorkerProcess


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("bad-message")
    prefix = f"t.bad.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all(RESELLERS)))
    asyncio.run(publish(kafka.bootstrap, CODEC, reference_events(topics, map(reseller, RESELLERS))))
    worker = WorkerProcess(
        kafka.bootstrap,
        tmp,
        topic_prefix=prefix,
        app_id=f"bad-{uuid.uuid4().hex[:8]}",
        env={"HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "info"},
    )
    try:
        worker.start().wait_ready()
        yield Hub(kafka.bootstrap, topics, worker)
    finally:
        worker.stop()


async def _produce(bootstrap: str, topic: str, value: bytes) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value, key=b"acme")
        return int(sent.offset)
    finally:
        await producer.stop()


async def _reports(hub: Hub, reseller_id: str) -> list[IngressRejected]:
    status = hub.topics.partner(reseller_id, PartnerTopic.STATUS)
    events = [CODEC.decode(r.value or b"") for r in await read_all(hub.bootstrap, status)]
    return [e for e in events if isinstance(e, IngressRejected)]


async def test_undecodable_bytes_on_a_resellers_own_topic_are_reported_to_it_alone(
    hub: Hub,
) -> None:
    own = hub.topics.ingress("acme", Topic.ORDERS)
    offset = await _produce(hub.bootstrap, own, GARBAGE)

    deadline = time.monotonic() + 90
    while not (reports := await _reports(hub, "acme")):
        assert time.monotonic() < deadline, hub.worker.log_tail()
        await asyncio.sleep(0.5)
    (report,) = reports
    where = f"reseller.acme.orders/0/{offset}"
    assert report.code == "undecodable"
    assert report.topic == "reseller.acme.orders"
    assert report.value == where
    assert f"partition 0 offset {offset}" in report.message
    assert "4111" not in report.model_dump_json()
    assert await _reports(hub, "globex") == []

    dlq = TopicCatalog.dead_letter(hub.topics.name(Topic.ORDERS))
    letters = [r for r in await read_all(hub.bootstrap, dlq) if r.value == GARBAGE]
    assert len(letters) == 1
    assert dict(letters[0].headers)["dlq.error.type"] == b"SchemaError"


def test_the_worker_logs_one_json_object_a_line(hub: Hub) -> None:
    """faust configures the worker's logging itself; the hub's format holds there too."""
    text = hub.worker.log_path.read_text(encoding="utf-8")
    # The worker's own one-line notices (``hub: ...``) are for people, not log records; the
    # process runner marks each start (``--- start n ---``).
    records = [
        line for line in text.splitlines() if line and not line.startswith(("hub: ", "--- start "))
    ]
    assert records, text
    parsed = [json.loads(line) for line in records]
    assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
