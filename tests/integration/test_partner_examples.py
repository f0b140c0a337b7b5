"""The partner guide's examples run against a real broker and registry and print what they did.

docs/examples/python (confluent-kafka, stock Avro serde) and docs/examples/java (kafka-clients
and Apache Avro, built with Maven): what docs/partner-guide.md tells a reseller's developer to run.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.connectors.schema_registry import (
    RegistryResolver,
    SchemaRegistryClient,
    register_contracts,
)
from hub.domain.ingress import Limits, Rules, Writer, admit
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderRequested
from hub.streams.ingress import claim_of
from hub.topics import PartnerTopic, Topic, TopicCatalog, hub_documents, reseller_events
from tests.support.broker import BrokerInfo
from tests.support.samples import sample

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


@dataclass(frozen=True)
class Partner:
    """One onboarded reseller under a test's own prefix, its subjects registered."""

    catalog: TopicCatalog
    reseller: str
    codec: Codec
    registry: str


@pytest.fixture
async def partner(kafka: BrokerInfo, schema_registry: str) -> Partner:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    reseller = f"R-{uuid.uuid4().hex[:6]}"
    await apply_topics(kafka.bootstrap, catalog.all([reseller]))
    client = SchemaRegistryClient(schema_registry)
    await asyncio.to_thread(register_contracts, client)  # as `hub schemas register` does
    resolver = RegistryResolver(client, strategy="record")
    return Partner(catalog, reseller, Codec(resolver=resolver), schema_registry)


async def _publish_partner_events(kafka: BrokerInfo, partner: Partner) -> list[str]:
    """An accepted order and a refused event on status, an invoice on billing; the lines a
    consumer example should print for them."""
    rid = partner.reseller
    status = partner.catalog.partner(rid, PartnerTopic.STATUS)
    billing = partner.catalog.partner(rid, PartnerTopic.BILLING)

    def mine(name: str) -> Event:
        return sample(name).model_copy(update={"reseller_id": rid})

    accepted, refused, invoice = (
        mine("OrderAccepted"),
        mine("IngressRejected"),
        mine("InvoiceIssued"),
    )
    code = refused.code  # type: ignore[attr-defined]
    items = [
        Outgoing(status, "PO-4711", accepted),
        Outgoing(status, rid, refused),
        Outgoing(billing, "inv-1", invoice),
    ]
    await publish(kafka.bootstrap, partner.codec, items)
    return [
        f"{status} key=PO-4711 OrderAccepted order_id=PO-4711",
        f"{status} key={rid} IngressRejected code={code}",
        f"{billing} key=inv-1 InvoiceIssued invoice_id=inv-1",
    ]


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{argv}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def _assert_read(printed: str, expected: list[str]) -> None:
    lines = printed.strip().splitlines()
    assert lines[-1] == f"read {len(expected)} event(s)", printed
    # Keys spread events over the topic's partitions: order holds per key, not across keys.
    assert sorted(lines[:-1]) == sorted(expected), printed


JAVA = EXAMPLES / "java"


@functools.cache
def _java() -> str:
    """``java`` once the example project is built (once per session), or the test is skipped."""
    mvn, java = shutil.which("mvn"), shutil.which("java")
    if mvn is None or java is None:
        pytest.skip("the Java examples need mvn and java on PATH (.ci/run installs them)")
    _run([mvn, "-q", "-B", "clean", "package"], JAVA, 600)
    return java


_JAVA_CLASSPATH = "target/partner-examples.jar:target/lib/*"


def _producer_argv(language: str, partner: Partner, bootstrap: str, topic: str) -> list[str]:
    if language == "python":
        program = [sys.executable, str(EXAMPLES / "python" / "produce_order.py")]
    else:
        program = [_java(), "-cp", _JAVA_CLASSPATH, "hub.examples.OrderProducer"]
    return [
        *program,
        "--bootstrap", bootstrap,
        "--registry", partner.registry,
        "--reseller", partner.reseller,
        "--customer", "C-1",
        "--order-id", "PO-42",
        "--topic", topic,
    ]  # fmt: skip


def _consumer_argv(language: str, partner: Partner, bootstrap: str) -> list[str]:
    if language == "python":
        program = [sys.executable, str(EXAMPLES / "python" / "consume_partner.py")]
    else:
        program = [_java(), "-cp", _JAVA_CLASSPATH, "hub.examples.PartnerConsumer"]
    return [
        *program,
        "--bootstrap", bootstrap,
        "--registry", partner.registry,
        "--reseller", partner.reseller,
        "--prefix", partner.catalog.prefix,
        "--max-messages", "3",
        "--timeout", "60",
    ]  # fmt: skip


@pytest.mark.parametrize("language", ["python", "java"])
async def test_the_producer_example_writes_an_order_the_hub_admits(
    kafka: BrokerInfo, partner: Partner, language: str
) -> None:
    topic = partner.catalog.ingress(partner.reseller, Topic.ORDERS)
    argv = _producer_argv(language, partner, kafka.bootstrap, topic)
    printed = await asyncio.to_thread(_run, argv, JAVA)
    assert printed.startswith("sent OrderRequested PO-42 event_id="), printed
    assert f"to {topic} partition 0 offset 0" in printed

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.key == partner.reseller.encode()
    assert record.value[0] == 0  # Confluent's wire format, the registry's schema id
    event = partner.codec.decode_as(record.value, OrderRequested)
    assert str(event.event_id) in printed
    assert (event.reseller_id, event.order_id, event.customer_id) == (
        partner.reseller,
        "PO-42",
        "C-1",
    )
    rules = Rules(reseller_events(Topic.ORDERS), hub_documents(), Limits())
    writer = Writer(partner.reseller, None, False)
    assert admit(claim_of(event), writer, rules, datetime.now(UTC)) is None


@pytest.mark.parametrize("language", ["python", "java"])
async def test_the_consumer_example_reads_status_and_billing(
    kafka: BrokerInfo, partner: Partner, language: str
) -> None:
    argv = _consumer_argv(language, partner, kafka.bootstrap)
    expected = await _publish_partner_events(kafka, partner)
    printed = await asyncio.to_thread(_run, argv, JAVA)
    _assert_read(printed, expected)
