"""The real registry enforces FULL_TRANSITIVE on the subjects `hub schemas register` creates."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid

import pytest

from hub.connectors.schema_registry import SchemaRegistryClient, register_contracts
from hub.errors import ExternalServiceError


def test_registered_subjects_are_full_transitive(schema_registry: str) -> None:
    client = SchemaRegistryClient(schema_registry)
    ids = register_contracts(client)
    assert "hub.events.InvoiceIssued" in ids
    assert client.compatibility("hub.events.InvoiceIssued") == "FULL_TRANSITIVE"
    assert client.compatibility("hub.events.ServiceCreditApproved") == "FULL_TRANSITIVE"
    assert register_contracts(client) == ids  # registering again changes nothing


@pytest.mark.skipif(
    bool(os.environ.get("HUB_TEST_REGISTRY_URL")),
    reason="about the registry `hub registry start` runs",
)
def test_the_local_registry_defaults_every_subject_to_full_transitive(
    schema_registry: str,
) -> None:
    with urllib.request.urlopen(f"{schema_registry}/config", timeout=10) as answer:
        assert json.loads(answer.read())["compatibilityLevel"] == "FULL_TRANSITIVE"


def test_the_registry_refuses_what_old_readers_cannot_read_and_takes_a_defaulted_field(
    schema_registry: str,
) -> None:
    client = SchemaRegistryClient(schema_registry)
    subject = f"hub.test.E{uuid.uuid4().hex[:8]}"

    def record(*fields: dict[str, object]) -> str:
        schema = {"type": "record", "name": "E", "namespace": "hub.test", "fields": list(fields)}
        return json.dumps(schema)

    client.set_compatibility(subject)
    first = client.register(subject, record({"name": "q", "type": "int"}))
    with pytest.raises(ExternalServiceError) as refused:  # int widened: old readers read an int
        client.register(subject, record({"name": "q", "type": "long"}))
    assert refused.value.status == 409
    added = record({"name": "q", "type": "int"}, {"name": "note", "type": "string", "default": ""})
    assert client.register(subject, added) != first
