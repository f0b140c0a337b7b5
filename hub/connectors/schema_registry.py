"""A small client for a Confluent-compatible schema registry (Apicurio's ``/apis/ccompat/v7``).

Synchronous stdlib HTTP: schemas are registered by ``hub schemas register`` and ids are looked up
once per contract, then cached. ``RegistryResolver`` plugs the client into the codec.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hub.errors import ConfigError, ExternalServiceError, SchemaError
from hub.schemas.catalog import Catalog, Contract, default_catalog

SERVICE = "schema-registry"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SubjectStrategy = Literal["topic", "topic_record"]


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    schema_id: int
    version: int
    schema: str


class SchemaRegistryClient:
    """Register, look up and fetch Avro schemas; ``base_url`` ends at the ccompat root."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(f"schema registry url {base_url!r} must be http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
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
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": _CONTENT_TYPE, "Accept": _CONTENT_TYPE},
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
    return ExternalServiceError(
        SERVICE,
        f"{method} {path}: {message}",
        status=exc.code,
        code=code,
        retriable=exc.code == 429 or exc.code >= 500,
    )


def subject_name(topic: str, contract: Contract, strategy: SubjectStrategy = "topic") -> str:
    """``<topic>-value`` (Confluent's TopicNameStrategy) or ``<topic>-<record full name>``."""
    if strategy == "topic":
        return f"{topic}-value"
    return f"{topic}-{contract.current.full_name}"


def register_all(
    client: SchemaRegistryClient,
    subjects: Mapping[str, Iterable[str]],
    *,
    catalog: Catalog | None = None,
    strategy: SubjectStrategy = "topic",
) -> dict[str, int]:
    """Register every version (oldest first) of each topic's events; subject -> current id.

    With the ``topic`` strategy a topic may carry one event type only: a subject holds one
    record's history, and a second record would fail the registry's compatibility check.
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
            for number in sorted(contract.versions):
                schema_id = client.register(subject, contract.versions[number].text)
            registered[subject] = schema_id
    return registered


class RegistryResolver:
    """The codec's ``SchemaResolver`` backed by a registry; ids are cached by the client."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        topics: Mapping[str, str],
        strategy: SubjectStrategy = "topic",
    ) -> None:
        """``topics`` maps an event name to the topic it is written to."""
        self.client = client
        self.topics = topics
        self.strategy: SubjectStrategy = strategy

    def id_for(self, contract: Contract) -> int:
        topic = self.topics.get(contract.name)
        if topic is None:
            raise SchemaError(f"{contract.name} has no topic, so no registry subject")
        subject = subject_name(topic, contract, self.strategy)
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
