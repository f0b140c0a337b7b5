"""The AsyncAPI 3.0 document resellers' developers read: the topics a reseller writes and reads.

Built from the topic catalogue (hub/topics.py) and the Avro contracts, so a catalogue change
changes the document; ``hub docs asyncapi`` writes it and a test compares it with the checked-in
``docs/asyncapi.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from hub import __version__
from hub.schemas.catalog import Catalog, default_catalog
from hub.topics import INGRESS, INGRESS_KINDS, PartnerTopic, TopicCatalog, TopicSpec

AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"
# A valid reseller id that no real one spells: replaced by the channel parameter ``{reseller}``.
_PLACEHOLDER = "__reseller__"
_PARAMETER = "{reseller}"

# What the hub sets on every event it sends (hub.runtime.pipeline.event_headers); a test keeps
# these names equal to what the pipeline writes.
HEADERS: dict[str, str] = {
    "hub.event-type": "the event's record name (e.g. OrderAccepted): route without decoding",
    "hub.schema-version": "the version of the event's contract (its .avsc file), as digits",
    "hub.event-id": "the event's event_id (a UUID): a second copy is a redelivery",
    "hub.correlation-id": "shared by every event of one business flow (one order, one close)",
}

_KEYS: dict[str, str] = {
    "reseller_id": (
        "your reseller id, as UTF-8 bytes; the hub partitions by murmur2 of the key (the Java "
        "client's default) and re-homes a message another partitioner placed elsewhere"
    ),
    "subject_id": (
        "the id of what the event is about (order, subscription, invoice, payment, ticket), as "
        "UTF-8 bytes: events about one subject stay in order on one partition"
    ),
}

_DESCRIPTION = """\
The topics of the CSP integration hub that a reseller's own systems use. A reseller writes its
events to its own ingress topics `reseller.{reseller}.<kind>` (only it may write there; the hub
forwards them) and reads the hub's events from its partner topics `partner.{reseller}.<kind>`
(only it may read there). Values are Avro: Confluent's wire format (magic byte 0, 4-byte schema
id) when the hub runs with a schema registry, Avro single-object encoding (0xC3 0x01 + CRC-64-AVRO
fingerprint) without one; the hub reads both. The registry holds one subject per record
(RecordNameStrategy: `hub.events.<Event>`). See docs/partner-guide.md.
"""


def _generic(text: str) -> str:
    return text.replace(_PLACEHOLDER, _PARAMETER)


def _camel(*words: str) -> str:
    parts = [p for word in words for p in word.replace("-", " ").replace(".", " ").split()]
    return parts[0] + "".join(p.title() for p in parts[1:])


def _topic_configuration(spec: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": ["compact" if spec.compacted else "delete"]}
    if spec.retention_ms is not None and not spec.compacted:
        config["retention.ms"] = spec.retention_ms
    return config


def _message(event: str, spec: TopicSpec, catalog: Catalog, hub_sends: bool) -> dict[str, Any]:
    contract = catalog.contract(event)
    doc = str(contract.current.raw.get("doc", "")).strip()
    message: dict[str, Any] = {
        "name": event,
        "title": event,
        "summary": doc or event,
        "contentType": "application/octet-stream",
    }
    if hub_sends:
        message["headers"] = {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": text} for name, text in HEADERS.items()
            },
            "required": list(HEADERS),
        }
    message["payload"] = {"$ref": f"#/components/schemas/{event}"}
    message["bindings"] = {
        "kafka": {
            "key": {"type": "string", "description": _KEYS.get(spec.key, spec.key)},
            "schemaIdLocation": "payload",
            "schemaIdPayloadEncoding": "confluent",
            "schemaLookupStrategy": "RecordNameStrategy",
            "x-partitioner": "murmur2",
            "bindingVersion": KAFKA_BINDING,
        }
    }
    return message


def _channel(spec: TopicSpec, catalog: Catalog, hub_sends: bool) -> dict[str, Any]:
    return {
        "address": _generic(spec.name),
        "title": _generic(spec.name),
        "description": _generic(spec.description),
        "parameters": {"reseller": {"$ref": "#/components/parameters/reseller"}},
        "messages": {e: _message(e, spec, catalog, hub_sends) for e in spec.events},
        "bindings": {
            "kafka": {
                "partitions": spec.partition_count,
                "topicConfiguration": _topic_configuration(spec),
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _operation(channel_id: str, spec: TopicSpec, action: str) -> dict[str, Any]:
    verb = "Write" if action == "send" else "Read"
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "summary": f"{verb} {_generic(spec.name)}: {', '.join(spec.events)}",
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{e}"} for e in spec.events],
    }


def _schemas(events: Iterable[str], catalog: Catalog) -> dict[str, Any]:
    return {
        event: {"schemaFormat": AVRO_FORMAT, "schema": dict(catalog.contract(event).current.raw)}
        for event in sorted(set(events))
    }


def asyncapi_document(catalog: Catalog | None = None) -> dict[str, Any]:
    """The document for one reseller's view of the hub, ``{reseller}`` standing for its id."""
    catalog = catalog or default_catalog()
    topics = TopicCatalog()
    ingress = topics.ingress_specs(_PLACEHOLDER)
    partner = topics.for_reseller(_PLACEHOLDER)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, spec in zip(INGRESS, ingress, strict=True):
        channel_id = _camel("reseller", INGRESS_KINDS[topic])
        channels[channel_id] = _channel(spec, catalog, hub_sends=False)
        operations[_camel("send", INGRESS_KINDS[topic])] = _operation(channel_id, spec, "send")
    for kind, spec in zip(PartnerTopic, partner, strict=True):
        channel_id = _camel("partner", kind.value)
        channels[channel_id] = _channel(spec, catalog, hub_sends=True)
        operations[_camel("receive", kind.value)] = _operation(channel_id, spec, "receive")
    events = [e for spec in (*ingress, *partner) for e in spec.events]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CSP integration hub: reseller topics",
            "version": __version__,
            "description": " ".join(_DESCRIPTION.split()),
        },
        "defaultContentType": "application/octet-stream",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "the local broker of `hub kafka start`; your distributor gives "
                "you its own bootstrap servers and credentials",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "parameters": {
                "reseller": {
                    "description": "your reseller id: 1-64 of A-Z a-z 0-9 _ -",
                    "examples": ["R-1001"],
                }
            },
            "schemas": _schemas(events, catalog),
        },
    }


_HEADER = "# Generated by `hub docs asyncapi` from hub/topics.py and the .avsc files: do not edit\n"


class _NoAliases(yaml.SafeDumper):
    """Writes a repeated object out again instead of as a YAML alias, which readers trip on."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(document: dict[str, Any]) -> str:
    """``document`` as YAML, keys in the order built (stable, so diffs show real changes)."""
    body = yaml.dump(document, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100)
    return _HEADER + body
