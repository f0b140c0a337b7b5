"""Encodes events to Avro bytes and back, framed for a schema registry or without one.

Without a resolver: Avro single-object encoding (0xC3 0x01 + CRC-64-AVRO fingerprint). With one:
Confluent's wire format (0x00 + 4-byte schema id), which partners' stock deserializers read.
Decoding accepts both. Every failure is a ``SchemaError``; registry outages stay retriable.
"""

from __future__ import annotations

import io
import json
from typing import Any, Protocol, TypeVar

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form
from pydantic import BaseModel, ValidationError

from hub.errors import HubError, SchemaError
from hub.schemas.avro_writer import Writer, compile_writer
from hub.schemas.catalog import Catalog, Contract, SchemaVersion, default_catalog
from hub.schemas.envelope import Event
from hub.schemas.framing import confluent_header, read_header, single_object_header
from hub.schemas.validation import violation

M = TypeVar("M", bound=BaseModel)


class SchemaResolver(Protocol):
    """The port to a schema registry (``hub.connectors.schema_registry.RegistryResolver``)."""

    def id_for(self, contract: Contract) -> int:
        """The registry id of ``contract``'s current schema; ``SchemaError`` if not registered."""
        ...

    def schema_for(self, schema_id: int) -> str:
        """The schema text the registry holds under ``schema_id``; ``SchemaError`` if unknown."""
        ...


class _Writer:
    """A writer schema seen on the wire, and how to read it into the current contract."""

    def __init__(self, contract: Contract, version: SchemaVersion | None, parsed: Any) -> None:
        self.contract = contract
        self.writer = parsed
        # Same schema as the model's: read without resolution (the fast path).
        same = version is not None and version is contract.current
        self.reader = None if same else contract.schema
        self.version = version.version if version else None


class Codec:
    """Event <-> bytes for every contract of ``catalog``. Safe to share; caches grow per schema."""

    def __init__(self, catalog: Catalog | None = None, resolver: SchemaResolver | None = None):
        self.catalog = catalog or default_catalog()
        self.resolver = resolver
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, _Writer] = {}
        self._by_fingerprint: dict[bytes, _Writer] = {}
        self._writers: dict[str, Writer | None] = {}

    def encode(self, event: BaseModel) -> bytes:
        contract = self.catalog.for_model(type(event))
        header = self._header(contract)
        writer = self.writer_for(contract)
        try:
            datum = event.model_dump(warnings=False)
            if writer is not None:
                return header + writer(datum)
            out = io.BytesIO()
            out.write(header)
            schemaless_writer(out, contract.schema, datum)
        except Exception as exc:  # ValueError/TypeError/AttributeError... on a bad datum
            raise SchemaError(f"{contract.name} cannot be encoded: {exc}") from exc
        return out.getvalue()

    def writer_for(self, contract: Contract) -> Writer | None:
        """The writer compiled for ``contract``'s current schema (``hub.schemas.avro_writer``),
        or None where fastavro writes it; compiled once per contract."""
        try:
            return self._writers[contract.name]
        except KeyError:
            writer = self._writers[contract.name] = compile_writer(contract.schema)
            return writer

    def decode(self, data: bytes) -> Event:
        header = read_header(data)
        if header.fingerprint is not None:
            writer = self._writer_for_fingerprint(header.fingerprint)
        else:
            assert header.schema_id is not None
            writer = self._writer_for_id(header.schema_id)
        record = self._read(writer, data, header.body_offset)
        contract = writer.contract
        try:
            return contract.model.model_validate(record)
        except ValidationError as exc:
            problem = violation(contract.name, exc)
            raise SchemaError(f"{problem} (decoded from the wire)") from problem

    def decode_as(self, data: bytes, model: type[M]) -> M:
        event = self.decode(data)
        if not isinstance(event, model):
            raise SchemaError(f"expected {model.__name__}, got {type(event).__name__}")
        return event

    def _header(self, contract: Contract) -> bytes:
        if self.resolver is None:
            return single_object_header(contract.current.fingerprint)
        schema_id = self._ids.get(contract.name)
        if schema_id is None:
            schema_id = self.resolver.id_for(contract)
            self._ids[contract.name] = schema_id
        return confluent_header(schema_id)

    def _writer_for_fingerprint(self, digest: bytes) -> _Writer:
        writer = self._by_fingerprint.get(digest)
        if writer is None:
            contract, version = self.catalog.for_fingerprint(digest)
            writer = _Writer(contract, version, version.parsed)
            self._by_fingerprint[digest] = writer
        return writer

    def _writer_for_id(self, schema_id: int) -> _Writer:
        writer = self._by_id.get(schema_id)
        if writer is not None:
            return writer
        if self.resolver is None:
            raise SchemaError(
                f"message is in Confluent wire format (schema id {schema_id}) but no schema "
                "registry is configured (HUB_SCHEMA_REGISTRY_URL)"
            )
        text = self.resolver.schema_for(schema_id)
        writer = self._writer_from_text(schema_id, text)
        self._by_id[schema_id] = writer
        return writer

    def _writer_from_text(self, schema_id: int, text: str) -> _Writer:
        try:
            raw = json.loads(text)
            parsed = parse_schema(raw)
            canonical = to_parsing_canonical_form(parsed)
        except Exception as exc:  # a registry can hold any text; none of it may crash us
            raise SchemaError(f"schema id {schema_id} is not a usable Avro schema: {exc}") from exc
        full_name = raw.get("name", "") if isinstance(raw, dict) else ""
        if isinstance(raw, dict) and "." not in full_name and raw.get("namespace"):
            full_name = f"{raw['namespace']}.{full_name}"
        contract = self.catalog.for_full_name(str(full_name))
        # A schema we ship is used as parsed at start-up; anything else is resolved against ours.
        known = next((v for v in contract.versions.values() if v.canonical == canonical), None)
        return _Writer(contract, known, known.parsed if known else parsed)

    @staticmethod
    def _read(writer: _Writer, data: bytes, offset: int) -> dict[str, Any]:
        body = io.BytesIO(data)
        body.seek(offset)
        name = writer.contract.name
        try:
            record = schemaless_reader(body, writer.writer, writer.reader)
        except HubError:
            raise
        except Exception as exc:  # EOFError, UnicodeDecodeError, IndexError... from bad bytes
            raise SchemaError(
                f"{name}: Avro body does not parse ({type(exc).__name__}: {exc})"
            ) from exc
        if body.tell() != len(data):
            raise SchemaError(f"{name}: {len(data) - body.tell()} trailing bytes after the event")
        if not isinstance(record, dict):
            raise SchemaError(f"{name}: Avro body is not a record")
        return record
