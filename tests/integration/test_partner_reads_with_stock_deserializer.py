"""A partner reads a hub event with Confluent's stock Avro deserializer and the registry only.

No hub code on the reading side: that is the promise to resellers' developers.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentRegistry
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.connectors.schema_registry import (
    RegistryResolver,
    SchemaRegistryClient,
    register_contracts,
)
from hub.schemas.codec import Codec
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.samples import sample


def _read_one(bootstrap: str, topic: str, registry_url: str) -> tuple[Any, bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"partner-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    deserializer = AvroDeserializer(ConfluentRegistry({"url": registry_url}))
    consumer.subscribe([topic])
    try:
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            value = deserializer(message.value(), SerializationContext(topic, MessageField.VALUE))
            return value, message.value()
    finally:
        consumer.close()
    raise AssertionError(f"nothing to read on {topic}")


async def test_a_partner_reads_an_invoice_with_only_the_stock_deserializer(
    kafka: BrokerInfo, schema_registry: str
) -> None:
    catalog = TopicCatalog(f"t{uuid.uuid4().hex[:8]}.")
    invoice = sample("InvoiceIssued")
    assert invoice.reseller_id is not None
    billing = catalog.partner(invoice.reseller_id, PartnerTopic.BILLING)
    await apply_topics(kafka.bootstrap, catalog.all([invoice.reseller_id]))
    client = SchemaRegistryClient(schema_registry)
    await asyncio.to_thread(register_contracts, client)
    # One subject per record (RecordNameStrategy), whichever topic the event is written to.
    codec = Codec(resolver=RegistryResolver(client, strategy="record"))
    assert catalog.event_homes()["InvoiceIssued"] == catalog.name(Topic.INVOICES)

    await publish(kafka.bootstrap, codec, [Outgoing(billing, invoice.reseller_id, invoice)])
    value, raw = await asyncio.to_thread(_read_one, kafka.bootstrap, billing, schema_registry)

    assert raw[0] == 0  # Confluent wire format: magic byte 0 + schema id
    assert str(value["event_id"]) == str(invoice.event_id)
    assert value["reseller_id"] == invoice.reseller_id
    expected = invoice.model_dump(mode="json")
    for field in ("invoice_number", "currency", "total_minor", "subtotal_minor", "tax_minor"):
        if field in expected:
            assert value[field] == expected[field], field
    assert codec.decode(raw) == invoice  # and the hub reads it back the same
