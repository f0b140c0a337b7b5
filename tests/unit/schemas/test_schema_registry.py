"""The Confluent-compatible registry client against a tiny in-process fake of the ccompat API."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from hub.app import build_codec
from hub.connectors.schema_registry import (
    RegistryAuth,
    RegistryResolver,
    SchemaRegistryClient,
    register_all,
    register_contracts,
    registry_auth,
    subject_name,
)
from hub.errors import ConfigError, ExternalServiceError, SchemaError
from hub.schemas.catalog import default_catalog
from hub.schemas.codec import Codec
from hub.settings import load_settings
from tests.support.samples import sample


class FakeRegistry:
    """Just enough of /apis/ccompat/v7: global ids per distinct schema, versions per subject."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None
        self.config: dict[str, str] = {}
        # The Authorization header every request must carry (None: an open registry).
        self.require: str | None = None
        self.seen_authorization: list[str | None] = []

    def handle(
        self, method: str, path: str, body: Any, authorization: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        self.seen_authorization.append(authorization)
        if self.require is not None and authorization != self.require:
            return 401, {"error_code": 401, "message": "Unauthorized"}
        if self.fail_with is not None:
            return self.fail_with, {"error_code": 50001, "message": "storage unavailable"}
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        match method, parts:
            case "PUT", ["apis", "ccompat", "v7", "config"]:
                self.config[""] = body["compatibility"]
                return 200, {"compatibility": body["compatibility"]}
            case "PUT", ["apis", "ccompat", "v7", "config", subject]:
                self.config[subject] = body["compatibility"]
                return 200, {"compatibility": body["compatibility"]}
            case "GET", ["apis", "ccompat", "v7", "config", subject]:
                if subject not in self.config:
                    return 404, {"error_code": 40401, "message": f"Subject {subject} not found"}
                return 200, {"compatibilityLevel": self.config[subject]}
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
            status, answer = registry.handle(
                self.command, self.path, body, self.headers.get("Authorization")
            )
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

        def do_PUT(self) -> None:
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


def test_register_contracts_gives_each_record_a_full_transitive_subject_before_its_versions(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    ids = register_contracts(SchemaRegistryClient(url))
    catalog = default_catalog()
    assert set(ids) == {c.current.full_name for c in catalog.contracts.values()}
    assert set(registry.config.values()) == {"FULL_TRANSITIVE"}
    assert set(registry.config) == set(ids)
    subject = "hub.events.ServiceCreditApproved"
    calls = [r for r in registry.requests if subject in r[1]]
    assert calls == [  # the level first, so the registry checks v2 against v1
        ("PUT", f"/apis/ccompat/v7/config/{subject}"),
        ("POST", f"/apis/ccompat/v7/subjects/{subject}/versions"),
        ("POST", f"/apis/ccompat/v7/subjects/{subject}/versions"),
    ]
    versions = catalog.contract("ServiceCreditApproved").versions
    assert registry.subjects[subject] == [versions[1].text, versions[2].text]
    assert SchemaRegistryClient(url).compatibility(subject) == "FULL_TRANSITIVE"
    assert SchemaRegistryClient(url).compatibility("never-set") is None


def test_register_all_sets_the_level_on_each_subject_once(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    register_all(
        SchemaRegistryClient(url), {"a": ["OrderHeld"], "b": ["OrderHeld"]}, strategy="record"
    )
    assert registry.config == {"hub.events.OrderHeld": "FULL_TRANSITIVE"}
    assert [r for r in registry.requests if r[0] == "PUT"] == [
        ("PUT", "/apis/ccompat/v7/config/hub.events.OrderHeld")
    ]


def test_record_strategy_resolver_needs_no_topic(fake: tuple[FakeRegistry, str]) -> None:
    _, url = fake
    register_contracts(SchemaRegistryClient(url))
    codec = Codec(resolver=RegistryResolver(SchemaRegistryClient(url), strategy="record"))
    event = sample("InvoiceIssued")
    assert codec.decode(codec.encode(event)) == event


@pytest.mark.parametrize(
    ("auth", "header"),
    [
        (RegistryAuth("hub", SecretStr("s3cret")), "Basic aHViOnMzY3JldA=="),
        (RegistryAuth(token=SecretStr("tok-123")), "Bearer tok-123"),
    ],
)
def test_a_registry_that_requires_auth_accepts_the_clients_credentials(
    fake: tuple[FakeRegistry, str], auth: RegistryAuth, header: str
) -> None:
    registry, url = fake
    registry.require = header
    with pytest.raises(ExternalServiceError, match="refused the credentials") as caught:
        SchemaRegistryClient(url).register("s-value", SCHEMA)
    assert caught.value.status == 401
    assert not caught.value.retriable
    assert SchemaRegistryClient(url, auth=auth).register("s-value", SCHEMA) == 1
    assert registry.seen_authorization == [None, header]


def test_registry_auth_comes_from_settings_and_stays_secret() -> None:
    basic = registry_auth(
        load_settings(schema_registry_username="hub", schema_registry_password="pw-1")
    )
    assert basic is not None
    assert basic.header() == "Basic aHViOnB3LTE="
    assert "pw-1" not in repr(basic)
    bearer = registry_auth(load_settings(schema_registry_token="tok"))
    assert bearer is not None
    assert bearer.header() == "Bearer tok"
    assert registry_auth(load_settings()) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"schema_registry_username": "hub"}, "go together"),
        ({"schema_registry_password": "pw"}, "go together"),
        (
            {"schema_registry_username": "u", "schema_registry_password": "p",
             "schema_registry_token": "t"},
            "not both",
        ),
    ],
)  # fmt: skip
def test_half_configured_registry_auth_is_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(**overrides)


def test_build_codec_looks_every_id_up_at_start(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    register_contracts(SchemaRegistryClient(url))
    registry.requests.clear()
    codec = build_codec(load_settings(schema_registry_url=url))
    lookups = [r for r in registry.requests if r[0] == "POST"]
    assert len(lookups) == len(default_catalog().contracts)
    event = sample("OrderRequested")
    assert codec.decode(codec.encode(event)) == event
    assert len([r for r in registry.requests if r[0] == "POST"]) == len(lookups)  # cached


def test_build_codec_with_an_unreachable_registry_fails_clearly() -> None:
    settings = load_settings(schema_registry_url="http://127.0.0.1:9/apis/ccompat/v7")
    with pytest.raises(ConfigError, match=r"unreachable .*unset HUB_SCHEMA_REGISTRY_URL"):
        build_codec(settings)


def test_build_codec_with_an_empty_registry_says_to_register(
    fake: tuple[FakeRegistry, str],
) -> None:
    _, url = fake
    with pytest.raises(SchemaError, match="run `hub schemas register`"):
        build_codec(load_settings(schema_registry_url=url))


def test_the_registry_wide_level_can_be_set(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    SchemaRegistryClient(url).set_default_compatibility()
    assert registry.config == {"": "FULL_TRANSITIVE"}
    assert registry.requests == [("PUT", "/apis/ccompat/v7/config")]
