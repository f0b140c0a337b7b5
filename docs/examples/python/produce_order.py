"""Send one OrderRequested to the hub, as a reseller's system does.

Stock confluent-kafka only: Avro in Confluent's wire format with the schema the distributor
registered (no schema file to ship, no registry write access needed). Run:

    python produce_order.py --bootstrap 127.0.0.1:9092 \
        --registry http://127.0.0.1:8081/apis/ccompat/v7 --reseller R-1001 --customer C-1 \
        --order-id PO-42
"""

# ruff: noqa: T201 - an example prints what it did
from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

# The subject the distributor registers OrderRequested under: its record's full name
# (RecordNameStrategy), the same whichever topic carries it.
SUBJECT = "hub.events.OrderRequested"


def order(reseller: str, customer: str, order_id: str) -> dict[str, object]:
    """An OrderRequested as a dict of the Avro record's fields."""
    now = datetime.now(UTC)
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": now,
        "correlation_id": f"order-{order_id}",
        "causation_id": None,
        "reseller_id": reseller,
        "schema_version": 1,
        "order_id": order_id,  # a retry of the same order reuses it
        "customer_id": customer,
        "lines": [
            {
                "product_id": "CFQ7TTC0LH18",
                "sku_id": "0001",
                "availability_id": "CFQ7TTC0LDPB",
                "quantity": 5,
                "term": "P1M",
                "billing_cycle": "monthly",
            }
        ],
        "requested_at": now,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True, help="the registry's Confluent-style URL")
    parser.add_argument("--reseller", required=True, help="your reseller id")
    parser.add_argument("--customer", required=True)
    parser.add_argument("--order-id", required=True)
    parser.add_argument("--topic", help="default: reseller.<reseller>.orders")
    parser.add_argument("--subject", default=SUBJECT)
    args = parser.parse_args()
    topic = args.topic or f"reseller.{args.reseller}.orders"

    serializer = AvroSerializer(
        SchemaRegistryClient({"url": args.registry}),
        None,  # no schema of our own: the latest registered under the subject
        conf={
            "auto.register.schemas": False,
            "use.latest.version": True,
            "subject.name.strategy": lambda _ctx, _record: args.subject,
        },
    )
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True})
    event = order(args.reseller, args.customer, args.order_id)
    value = serializer(event, SerializationContext(topic, MessageField.VALUE))
    delivered: list[str] = []

    def on_delivery(error: object, message: object) -> None:
        if error is not None:
            raise SystemExit(f"not delivered: {error}")
        delivered.append(f"partition {message.partition()} offset {message.offset()}")

    producer.produce(
        topic,
        key=StringSerializer()(args.reseller),  # the key is your reseller id
        value=value,
        on_delivery=on_delivery,
    )
    if producer.flush(30) != 0 or not delivered:
        raise SystemExit(f"OrderRequested {args.order_id} not delivered to {topic} in 30 s")
    print(
        f"sent OrderRequested {args.order_id} event_id={event['event_id']} to {topic} "
        f"{delivered[0]}"
    )


if __name__ == "__main__":
    main()
