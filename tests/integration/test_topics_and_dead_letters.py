"""Topic catalogue applied to a real broker; the pipeline's good-or-dead-letter guarantee."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.connectors.kafka_admin import (
    ChangeKind,
    apply_topics,
    ensure_topics,
    partition_counts,
)
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.connectors.kafka_io import producer as kafka_producer
from hub.errors import ConfigError
from hub.ops.local_kafka import free_port
from hub.schemas.codec import Codec
from hub.settings import Settings
from hub.topics import PartnerTopic, Topic, TopicCatalog, TopicSpec
from tests.support.broker import BrokerInfo
from tests.support.samples import sample

APPS = Path(__file__).parent / "apps"


async def test_topics_apply_twice_creates_once_then_changes_nothing(kafka: BrokerInfo) -> None:
    catalog = TopicCatalog(f"t{uuid.uuid4().hex[:8]}.")
    specs = catalog.all(["contoso", "fabrikam"])

    first = await apply_topics(kafka.bootstrap, specs)
    second = await apply_topics(kafka.bootstrap, specs)

    assert {c.kind for c in first} == {ChangeKind.CREATED}
    assert len(first) == len(specs)
    assert {c.kind for c in second} == {ChangeKind.UNCHANGED}
    names = {c.topic for c in first}
    assert catalog.partner("contoso", PartnerTopic.BILLING) in names
    assert catalog.partner("fabrikam", PartnerTopic.STATUS) in names
    assert catalog.dead_letter(catalog.name(Topic.ORDERS)) in names


async def test_topics_apply_restores_a_drifted_config(kafka: BrokerInfo) -> None:
    catalog = TopicCatalog(f"t{uuid.uuid4().hex[:8]}.")
    spec = next(s for s in catalog.fixed() if s.name == catalog.name(Topic.INVOICES))
    drifted = dataclasses.replace(spec, retention_ms=1000)
    await apply_topics(kafka.bootstrap, [drifted])

    changes = await apply_topics(kafka.bootstrap, [spec])

    assert [c.kind for c in changes] == [ChangeKind.CONFIG_UPDATED]
    assert (await apply_topics(kafka.bootstrap, [spec]))[0].kind is ChangeKind.UNCHANGED


async def test_topics_apply_never_changes_a_keyed_topics_partition_count(
    kafka: BrokerInfo,
) -> None:
    """Adding partitions would move keys away from their state: refused, with the reason."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    fewer = TopicCatalog(prefix, partitions=2)
    await apply_topics(kafka.bootstrap, fewer.keyed())

    more = TopicCatalog(prefix, partitions=4)
    changes = await apply_topics(kafka.bootstrap, more.keyed())

    assert {c.kind for c in changes} == {ChangeKind.REFUSED}
    assert "has 2 partitions, the catalogue says 4" in changes[0].detail
    assert "HUB_KAFKA_PARTITIONS=2" in changes[0].detail
    counts = await partition_counts(kafka.bootstrap, [s.name for s in more.keyed()])
    assert set(counts.values()) == {2}


async def test_a_worker_refuses_topics_partitioned_otherwise_than_its_tables(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    """What a worker's start runs (``ensure_topics``): keyed topics of another count than its
    tables are refused with both ways out, and with the count they have, the start goes on."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix, partitions=2)
    await apply_topics(kafka.bootstrap, catalog.keyed())
    settings = Settings(
        kafka_bootstrap_servers=kafka.bootstrap, topic_prefix=prefix, kafka_partitions=3
    )

    with pytest.raises(ConfigError, match="have 2 partitions, the catalogue says 3") as refused:
        await ensure_topics(settings, settings.catalog.keyed())
    assert "HUB_KAFKA_PARTITIONS=2" in str(refused.value)
    assert "delete and recreate" in str(refused.value)
    agreed = settings.model_copy(update={"kafka_partitions": 2})
    await ensure_topics(agreed, agreed.catalog.keyed())  # agrees: nothing refused


async def test_one_good_and_one_poison_message_give_one_output_and_one_dead_letter(
    kafka: BrokerInfo, topic_name: Callable[[str], str], tmp_path: Path
) -> None:
    src, dst = topic_name("src"), topic_name("dst")
    prefix = topic_name("hub") + "."
    source = TopicSpec(src, "reseller_id", ("OrderRequested",), "test source", partitions=1)
    sink = TopicSpec(dst, "reseller_id", ("OrderRequested",), "test sink", partitions=1)
    catalog = TopicCatalog(prefix)
    await apply_topics(
        kafka.bootstrap, [source, sink, *catalog.dead_letters([source]), *catalog.fixed()]
    )
    codec = Codec()
    good = sample("OrderRequested")
    poison_value = b'{"order_id": "sent as JSON, not Avro"}'
    async with kafka_producer(kafka.bootstrap) as client:
        await client.send_and_wait(
            src, key=b"contoso", value=poison_value, headers=[("origin", b"reseller-erp")]
        )
    await publish(kafka.bootstrap, codec, [Outgoing(src, "contoso", good)])

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_APP_ID": topic_name("app"),
        "HUB_STATE_DIR": str(tmp_path),
        "HUB_WORKER_WEB_PORT": str(free_port()),
        "PIPELINE_SRC": src,
        "PIPELINE_DST": dst,
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, str(APPS / "pipeline_app.py"), "worker", "-l", "warn"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        outputs, dead = [], []
        for _ in range(120):
            outputs = await read_all(kafka.bootstrap, dst)
            dead = await read_all(kafka.bootstrap, TopicCatalog.dead_letter(src))
            if outputs and dead:
                break
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)  # anything extra would show up now
        outputs = await read_all(kafka.bootstrap, dst)
        dead = await read_all(kafka.bootstrap, TopicCatalog.dead_letter(src))
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    assert len(outputs) == 1, log.read_text(errors="replace")[-3000:]
    assert codec.decode(outputs[0].value or b"") == good
    assert dict(outputs[0].headers)["hub.event-type"] == b"OrderRequested"
    assert len(dead) == 1
    letter = dead[0]
    assert letter.key == b"contoso"
    assert letter.value == poison_value
    headers = dict(letter.headers)
    assert headers["origin"] == b"reseller-erp"
    assert headers["dlq.error.type"] == b"SchemaError"
    assert b"magic" in headers["dlq.error.message"].lower()
    assert headers["dlq.source.topic"] == src.encode()
    assert headers["dlq.source.partition"] == b"0"
    assert headers["dlq.source.offset"] == b"0"
    assert headers["dlq.error.retriable"] == b"false"
    assert b"T" in headers["dlq.time"]
