"""Read your partner topics (status and billing) with confluent-kafka's stock Avro deserializer.

The hub writes Confluent's wire format when it runs with a schema registry: the deserializer
fetches each writer schema by the id in the message. Run:

    python consume_partner.py --bootstrap 127.0.0.1:9092 \
        --registry http://127.0.0.1:8081/apis/ccompat/v7 --reseller R-1001
"""

# ruff: noqa: T201 - an example prints what it read
from __future__ import annotations

import argparse
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

# What identifies each event for a person reading the output.
SUBJECT_FIELDS = (
    "order_id",
    "invoice_id",
    "credit_note_id",
    "payment_id",
    "subscription_id",
    "ticket_id",
)


def describe(event_type: str, value: dict[str, object]) -> str:
    words = [event_type]
    words += [f"{f}={value[f]}" for f in SUBJECT_FIELDS if value.get(f) is not None][:1]
    if event_type == "IngressRejected":
        words.append(f"code={value['code']}")
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True, help="the registry's Confluent-style URL")
    parser.add_argument("--reseller", required=True, help="your reseller id")
    parser.add_argument("--prefix", default="", help="a topic prefix, if your distributor uses one")
    parser.add_argument("--group", help="default: reseller-<reseller>.examples (your ACL allows)")
    parser.add_argument("--max-messages", type=int, default=0, help="stop after this many")
    parser.add_argument("--timeout", type=float, default=60.0, help="stop after this many s")
    args = parser.parse_args()

    topics = [f"{args.prefix}partner.{args.reseller}.{kind}" for kind in ("status", "billing")]
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": args.registry}))
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            # Your ACLs allow consumer groups named reseller-<id>.*
            "group.id": args.group or f"reseller-{args.reseller}.examples",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics)
    seen = 0
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and (args.max_messages == 0 or seen < args.max_messages):
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                print(f"error: {message.error()}")
                continue
            context = SerializationContext(message.topic(), MessageField.VALUE)
            value = deserializer(message.value(), context)
            # The hub's headers say the type without decoding; the record says it too.
            headers = {k: v.decode() for k, v in message.headers() or []}
            event_type = headers.get("hub.event-type", "?")
            key = message.key().decode() if message.key() else ""
            print(f"{message.topic()} key={key} {describe(event_type, value)}")
            consumer.commit(message, asynchronous=False)  # after handling: at least once
            seen += 1
    finally:
        consumer.close()
    print(f"read {seen} event(s)")


if __name__ == "__main__":
    main()
