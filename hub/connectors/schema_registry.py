"""A small client for a Confluent-compatible schema registry (Apicurio's ``/apis/ccompat/v7``).

Synchronous stdlib HTTP: schemas are registered by ``hub schemas register`` and ids are looked up
once per contract (all of them when a worker starts), then cached. ``RegistryResolver`` plugs the
client into the codec.

The hub names subjects by record (Confluent's RecordNameStrategy, ``hub.events.InvoiceIssued``):
one subject per contract whichever topic carries it, so ``partner.<id>.*`` topics are covered
however many resellers there are, and the subject's ``FULL_TRANSITIVE`` level guards exactly the
contract's version history. Partners' consumers are unaffected: Confluent's stock deserializer
fetches the writer schema by the id in each message, never by subject.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from hub.errors import ConfigError, ExternalServiceError, SchemaError
from hub.schemas.catalog import Catalog, Contract, default_catalog
from hub.settings import Settings

SERVICE = "schema-registry"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SubjectStrategy = Literal["topic", "topic_record", "record"]
# Every version must read, and be read by, every other: partners upgrade on their own schedule.
COMPATIBILITY = "FULL_TRANSITIVE"


@dataclass(frozen=True)
class RegistryAuth:
    """HTTP basic (``username`` + ``password``) or bearer (``token``) credentials."""

    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    def header(self) -> str:
        """The ``Authorization`` header value."""
        if self.token is not None:
            return f"Bearer {self.token.get_secret_value()}"
        if self.username and self.password is not None:
            pair = f"{self.username}:{self.password.get_secret_value()}".encode()
            return f"Basic {base64.b64encode(pair).decode('ascii')}"
        raise ConfigError("registry auth needs a token, or a username and a password")


def registry_auth(settings: Settings) -> RegistryAuth | None:
    """The registry credentials the settings configure, or None (an open registry)."""
    if settings.schema_registry_token is not None:
        return RegistryAuth(token=settings.schema_registry_token)
    if settings.schema_registry_username:
        return RegistryAuth(settings.schema_registry_username, settings.schema_registry_password)
    return None


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    schema_id: int
    version: int
    schema: str


class SchemaRegistryClient:
    """Register, look up and fetch Avro schemas; ``base_url`` ends at the ccompat root."""

    def __init__(
        self, base_url: str, *, timeout_s: float = 10.0, auth: RegistryAuth | None = None
    ) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(f"schema registry url {base_url!r} must be http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._authorization = auth.header() if auth is not None else None
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, str] = {}

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its id."""
        key = (subject, schema)
        if key not in self._ids:
            body = {"schema": schema, "schemaType": "AVRO"}
            answer = self._call("POST", f"/subjects/{_quote(subject)}/versions", body)
            self._ids[key] = int(answer["id"])
        return self._ids[key]

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of ``schema`` if it is registered under ``subject``, else ``None``."""
        key = (subject, schema)
        if key not in self._ids:
            try:
                answer = self._call("POST", f"/subjects/{_quote(subject)}", {"schema": schema})
            except ExternalServiceError as exc:
                if exc.status == 404:
                    return None
                raise
            self._ids[key] = int(answer["id"])
        return self._ids[key]

    def set_compatibility(self, subject: str, level: str = COMPATIBILITY) -> None:
        """Set ``subject``'s compatibility level (the registry then refuses a breaking version)."""
        self._call("PUT", f"/config/{_quote(subject)}", {"compatibility": level})

    def set_default_compatibility(self, level: str = COMPATIBILITY) -> None:
        """Set the registry-wide level, which subjects without their own level follow."""
        self._call("PUT", "/config", {"compatibility": level})

    def compatibility(self, subject: str) -> str | None:
        """``subject``'s own compatibility level, or None when it has none set."""
        try:
            answer = self._call("GET", f"/config/{_quote(subject)}", None)
        except ExternalServiceError as exc:
            if exc.status == 404:
                return None
            raise
        level = answer.get("compatibilityLevel", answer.get("compatibility"))
        return str(level) if level is not None else None

    def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self._schemas:
            answer = self._call("GET", f"/schemas/ids/{schema_id}", None)
            self._schemas[schema_id] = str(answer["schema"])
        return self._schemas[schema_id]

    def latest(self, subject: str) -> RegisteredSchema:
        answer = self._call("GET", f"/subjects/{_quote(subject)}/versions/latest", None)
        return RegisteredSchema(
            subject=str(answer.get("subject", subject)),
            schema_id=int(answer["id"]),
            version=int(answer["version"]),
            schema=str(answer["schema"]),
        )

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": _CONTENT_TYPE, "Accept": _CONTENT_TYPE}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise _http_error(method, path, exc) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ExternalServiceError(SERVICE, f"{method} {path}: {exc}", retriable=True) from exc
        except ValueError as exc:
            raise ExternalServiceError(SERVICE, f"{method} {path}: answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise ExternalServiceError(SERVICE, f"{method} {path}: unexpected answer {answer!r}")
        return answer


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _http_error(method: str, path: str, exc: urllib.error.HTTPError) -> ExternalServiceError:
    code: str | None = None
    message = exc.reason if isinstance(exc.reason, str) else str(exc.reason)
    try:
        detail = json.loads(exc.read() or b"{}")
        if isinstance(detail, dict):
            code = str(detail["error_code"]) if "error_code" in detail else None
            message = str(detail.get("message", message))
    except ValueError:
        pass
    if exc.code in (401, 403):
        message += (
            " (the registry refused the credentials: check HUB_SCHEMA_REGISTRY_USERNAME and "
            "HUB_SCHEMA_REGISTRY_PASSWORD, or HUB_SCHEMA_REGISTRY_TOKEN)"
        )
    return ExternalServiceError(
        SERVICE,
        f"{method} {path}: {message}",
        status=exc.code,
        code=code,
        retriable=exc.code == 429 or exc.code >= 500,
    )


def subject_name(topic: str, contract: Contract, strategy: SubjectStrategy = "topic") -> str:
    """``<topic>-value`` (Confluent's TopicNameStrategy), ``<topic>-<record full name>``
    (TopicRecordNameStrategy) or the record's full name alone (RecordNameStrategy)."""
    if strategy == "topic":
        return f"{topic}-value"
    if strategy == "record":
        return contract.current.full_name
    return f"{topic}-{contract.current.full_name}"


def register_all(
    client: SchemaRegistryClient,
    subjects: Mapping[str, Iterable[str]],
    *,
    catalog: Catalog | None = None,
    strategy: SubjectStrategy = "topic",
    compatibility: str | None = COMPATIBILITY,
) -> dict[str, int]:
    """Register every version (oldest first) of each topic's events; subject -> current id.

    Each subject's compatibility level is set first (unless ``compatibility`` is None), so the
    registry itself checks every version against the ones before it. With the ``topic``
    strategy a topic may carry one event type only: a subject holds one record's history, and a
    second record would fail the registry's compatibility check.
    """
    catalog = catalog or default_catalog()
    registered: dict[str, int] = {}
    for topic, names in subjects.items():
        contracts = [catalog.contract(name) for name in names]
        if strategy == "topic" and len(contracts) > 1:
            listed = ", ".join(c.name for c in contracts)
            raise ConfigError(
                f"topic {topic!r} carries {listed}: one subject '{topic}-value' holds one record "
                "type; use strategy='topic_record'"
            )
        for contract in contracts:
            subject = subject_name(topic, contract, strategy)
            if subject in registered:  # record strategy: the same subject from another topic
                continue
            if compatibility is not None:
                client.set_compatibility(subject, compatibility)
            for number in sorted(contract.versions):
                schema_id = client.register(subject, contract.versions[number].text)
            registered[subject] = schema_id
    return registered


def register_contracts(
    client: SchemaRegistryClient,
    catalog: Catalog | None = None,
    *,
    compatibility: str = COMPATIBILITY,
) -> dict[str, int]:
    """Register every contract under its record subject (RecordNameStrategy), each subject set
    to ``compatibility`` before its versions go in, oldest first; subject -> current id."""
    catalog = catalog or default_catalog()
    registered: dict[str, int] = {}
    for contract in catalog.contracts.values():
        subject = subject_name("", contract, "record")
        client.set_compatibility(subject, compatibility)
        for number in sorted(contract.versions):
            registered[subject] = client.register(subject, contract.versions[number].text)
    return registered


class RegistryResolver:
    """The codec's ``SchemaResolver`` backed by a registry; ids are cached by the client."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        topics: Mapping[str, str] | None = None,
        strategy: SubjectStrategy = "topic",
    ) -> None:
        """``topics`` maps an event name to the topic it is written to (unused by ``record``)."""
        self.client = client
        self.topics = topics or {}
        self.strategy: SubjectStrategy = strategy

    def preload(self, contracts: Iterable[Contract]) -> None:
        """Look up every contract's id now (a worker's start): an unreachable registry or an
        unregistered contract fails the start, not the first message."""
        for contract in contracts:
            try:
                self.id_for(contract)
            except ExternalServiceError as exc:
                if exc.status is not None:
                    raise
                raise ConfigError(
                    f"the schema registry at {self.client.base_url} is unreachable ({exc}); "
                    "start it, or unset HUB_SCHEMA_REGISTRY_URL"
                ) from exc

    def id_for(self, contract: Contract) -> int:
        topic = self.topics.get(contract.name)
        if topic is None and self.strategy != "record":
            raise SchemaError(f"{contract.name} has no topic, so no registry subject")
        subject = subject_name(topic or "", contract, self.strategy)
        schema_id = self.client.lookup(subject, contract.current.text)
        if schema_id is None:
            raise SchemaError(
                f"{contract.name} v{contract.version} is not registered under {subject!r}: "
                "run `hub schemas register`"
            )
        return schema_id

    def schema_for(self, schema_id: int) -> str:
        try:
            return self.client.schema_by_id(schema_id)
        except ExternalServiceError as exc:
            if exc.status == 404:
                raise SchemaError(f"unknown schema id {schema_id}: not in the registry") from exc
            raise
