"""The Confluent-compatible registry client against a tiny in-process fake of the ccompat API."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hub.connectors.schema_registry import (
    RegistryResolver,
    SchemaRegistryClient,
    register_all,
    subject_name,
)
from hub.errors import ConfigError, ExternalServiceError, SchemaError
from hub.schemas.catalog import default_catalog
from hub.schemas.codec import Codec
from tests.support.samples import sample


class FakeRegistry:
    """Just enough of /apis/ccompat/v7: global ids per distinct schema, versions per subject."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None

    def handle(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        if self.fail_with is not None:
            return self.fail_with, {"error_code": 50001, "message": "storage unavailable"}
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        match method, parts:
            case "POST", ["apis", "ccompat", "v7", "subjects", subject, "versions"]:
                schema = body["schema"]
                schema_id = self.ids.setdefault(schema, len(self.ids) + 1)
                versions = self.subjects.setdefault(subject, [])
                if schema not in versions:
                    versions.append(schema)
                return 200, {"id": schema_id}
            case "POST", ["apis", "ccompat", "v7", "subjects", subject]:
                versions = self.subjects.get(subject, [])
                if body["schema"] not in versions:
                    return 404, {"error_code": 40403, "message": "Schema not found"}
                schema = body["schema"]
                version = versions.index(schema) + 1
                return 200, {"subject": subject, "id": self.ids[schema], "version": version}
            case "GET", ["apis", "ccompat", "v7", "schemas", "ids", raw_id]:
                for schema, schema_id in self.ids.items():
                    if schema_id == int(raw_id):
                        return 200, {"schema": schema}
                return 404, {"error_code": 40403, "message": f"Schema {raw_id} not found"}
            case "GET", ["apis", "ccompat", "v7", "subjects", subject, "versions", "latest"]:
                if subject not in self.subjects:
                    return 404, {"error_code": 40401, "message": f"Subject {subject} not found"}
                schema = self.subjects[subject][-1]
                return 200, {
                    "subject": subject,
                    "id": self.ids[schema],
                    "version": len(self.subjects[subject]),
                    "schema": schema,
                }
        return 404, {"error_code": 404, "message": "no such endpoint"}


@pytest.fixture
def fake() -> Iterator[tuple[FakeRegistry, str]]:
    registry = FakeRegistry()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = registry.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield registry, f"http://127.0.0.1:{server.server_port}/apis/ccompat/v7"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


SCHEMA = default_catalog().contract("OrderRequested").current.text


def test_register_returns_the_id_and_is_cached(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    client = SchemaRegistryClient(url)
    first = client.register("reseller.orders-value", SCHEMA)
    assert client.register("reseller.orders-value", SCHEMA) == first
    assert registry.requests == [
        ("POST", "/apis/ccompat/v7/subjects/reseller.orders-value/versions")
    ]


def test_lookup_of_an_unregistered_schema_is_none(fake: tuple[FakeRegistry, str]) -> None:
    _, url = fake
    assert SchemaRegistryClient(url).lookup("reseller.orders-value", SCHEMA) is None


def test_schema_by_id_and_latest_return_what_was_registered(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    client = SchemaRegistryClient(url)
    schema_id = client.register("reseller.orders-value", SCHEMA)
    assert SchemaRegistryClient(url).schema_by_id(schema_id) == SCHEMA
    latest = client.latest("reseller.orders-value")
    assert (latest.schema_id, latest.version, latest.schema) == (schema_id, 1, SCHEMA)


def test_server_error_is_a_retriable_external_service_error(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    registry.fail_with = 503
    with pytest.raises(ExternalServiceError, match="storage unavailable") as caught:
        SchemaRegistryClient(url).register("s-value", SCHEMA)
    assert caught.value.retriable
    assert caught.value.status == 503
    assert caught.value.code == "50001"


def test_missing_subject_is_a_permanent_external_service_error(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    with pytest.raises(ExternalServiceError, match="Subject nope-value not found") as caught:
        SchemaRegistryClient(url).latest("nope-value")
    assert not caught.value.retriable
    assert caught.value.status == 404


def test_unreachable_registry_is_retriable() -> None:
    client = SchemaRegistryClient("http://127.0.0.1:9/apis/ccompat/v7", timeout_s=1)
    with pytest.raises(ExternalServiceError) as caught:
        client.schema_by_id(1)
    assert caught.value.retriable


def test_non_http_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be http"):
        SchemaRegistryClient("file:///etc/passwd")


def test_register_all_registers_each_topic_under_its_value_subject(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    ids = register_all(
        SchemaRegistryClient(url),
        {"reseller.orders": ["OrderRequested"], "reseller.payments": ["PaymentReceived"]},
    )
    assert set(ids) == {"reseller.orders-value", "reseller.payments-value"}
    assert registry.subjects["reseller.orders-value"] == [SCHEMA]


def test_register_all_refuses_two_records_in_one_topic_subject(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    with pytest.raises(ConfigError, match="use strategy='topic_record'"):
        register_all(SchemaRegistryClient(url), {"orders": ["OrderAccepted", "OrderHeld"]})


def test_topic_record_strategy_gives_each_record_its_subject(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    ids = register_all(
        SchemaRegistryClient(url),
        {"orders": ["OrderAccepted", "OrderHeld"]},
        strategy="topic_record",
    )
    assert set(ids) == {"orders-hub.events.OrderAccepted", "orders-hub.events.OrderHeld"}


def test_codec_with_registry_resolver_round_trips(fake: tuple[FakeRegistry, str]) -> None:
    _, url = fake
    client = SchemaRegistryClient(url)
    register_all(client, {"reseller.orders": ["OrderRequested"]})
    resolver = RegistryResolver(SchemaRegistryClient(url), {"OrderRequested": "reseller.orders"})
    event = sample("OrderRequested")
    data = Codec(resolver=resolver).encode(event)
    contract = default_catalog().contract("OrderRequested")
    expected_id = client.lookup(subject_name("reseller.orders", contract), contract.current.text)
    assert data[:5] == b"\x00" + (expected_id or 0).to_bytes(4, "big")
    assert Codec(resolver=resolver).decode(data) == event


def test_encoding_an_unregistered_event_says_to_run_register(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    resolver = RegistryResolver(SchemaRegistryClient(url), {"OrderRequested": "reseller.orders"})
    with pytest.raises(SchemaError, match="run `hub schemas register`"):
        Codec(resolver=resolver).encode(sample("OrderRequested"))


def test_unknown_schema_id_from_the_registry_is_a_schema_error(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    resolver = RegistryResolver(SchemaRegistryClient(url), {})
    with pytest.raises(SchemaError, match="unknown schema id 77"):
        Codec(resolver=resolver).decode(b"\x00\x00\x00\x00\x4d" + b"\x00")


def test_registry_outage_while_decoding_stays_retriable(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    registry.fail_with = 500
    resolver = RegistryResolver(SchemaRegistryClient(url), {})
    with pytest.raises(ExternalServiceError) as caught:
        Codec(resolver=resolver).decode(b"\x00\x00\x00\x00\x01\x00")
    assert caught.value.retriable
