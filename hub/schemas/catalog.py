"""The registry of contracts: event name -> model, parsed Avro schema (parsed once), version."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from hub.errors import SchemaError
from hub.schemas import avro_files
from hub.schemas.envelope import Event
from hub.schemas.events import ALL_EVENTS


@dataclass(frozen=True)
class SchemaVersion:
    """One ``.avsc`` file: the raw schema, its parsed form and its CRC-64-AVRO fingerprint."""

    event: str
    version: int
    raw: Mapping[str, Any]
    parsed: Any = field(repr=False)
    canonical: str = field(repr=False)
    fingerprint: bytes  # 8 bytes, little-endian, as single-object encoding writes it

    @property
    def full_name(self) -> str:
        return f"{avro_files.NAMESPACE}.{self.event}"

    @property
    def text(self) -> str:
        """The schema as JSON text, as it is registered in a schema registry."""
        return json.dumps(self.raw, separators=(",", ":"), ensure_ascii=False)


def schema_version(event: str, version: int, raw: Mapping[str, Any]) -> SchemaVersion:
    """Parse ``raw`` once and compute its canonical form and fingerprint."""
    parsed = parse_schema(dict(raw))
    canonical = to_parsing_canonical_form(parsed)
    # fastavro gives the 64-bit Rabin value as hex of its little-endian bytes.
    digest = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    return SchemaVersion(event, version, raw, parsed, canonical, digest)


@dataclass(frozen=True)
class Contract:
    """An event: its model, its current schema and every earlier version kept in the repo."""

    name: str
    model: type[Event]
    versions: Mapping[int, SchemaVersion]

    @property
    def current(self) -> SchemaVersion:
        return self.versions[max(self.versions)]

    @property
    def version(self) -> int:
        return self.current.version

    @property
    def schema(self) -> Any:
        return self.current.parsed


class Catalog:
    """Every contract, looked up by name, model class, fingerprint or Avro full name."""

    def __init__(
        self, avro_dir: Path = avro_files.AVRO_DIR, events: Iterable[type[Event]] = ALL_EVENTS
    ) -> None:
        files = avro_files.versions(avro_dir)
        contracts: dict[str, Contract] = {}
        for model in events:
            contracts[model.__name__] = _contract(model, files)
        self._by_name = MappingProxyType(contracts)
        self._by_model = {c.model: c for c in contracts.values()}
        self._by_fingerprint = {
            v.fingerprint: (c, v) for c in contracts.values() for v in c.versions.values()
        }

    @property
    def contracts(self) -> Mapping[str, Contract]:
        return self._by_name

    def contract(self, name: str) -> Contract:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(f"no contract named {name!r}") from None

    def for_model(self, model: type[object]) -> Contract:
        try:
            return self._by_model[model]  # type: ignore[index]
        except KeyError:
            raise SchemaError(f"{model.__name__} is not an event contract of the hub") from None

    def for_fingerprint(self, digest: bytes) -> tuple[Contract, SchemaVersion]:
        try:
            return self._by_fingerprint[digest]
        except KeyError:
            raise SchemaError(
                f"unknown schema fingerprint {digest.hex()}: the writer used a schema this hub "
                "does not know (newer contract, or not a hub event)"
            ) from None

    def for_full_name(self, full_name: str) -> Contract:
        prefix = avro_files.NAMESPACE + "."
        name = full_name.removeprefix(prefix)
        if name == full_name or name not in self._by_name:
            raise SchemaError(f"record {full_name!r} is not an event contract of the hub")
        return self._by_name[name]


def _contract(model: type[Event], files: Mapping[str, Mapping[int, Path]]) -> Contract:
    name = model.__name__
    found = files.get(avro_files.snake(name))
    if not found:
        raise SchemaError(f"{name}: no {avro_files.file_name(name, 1)} in the schema directory")
    versions = {}
    for number, path in found.items():
        raw = avro_files.load(path)
        if raw.get("name") != name or raw.get("namespace") != avro_files.NAMESPACE:
            raise SchemaError(f"{path.name}: record must be {avro_files.NAMESPACE}.{name}")
        versions[number] = schema_version(name, number, raw)
    latest = max(versions)
    declared = model.model_fields["schema_version"].default
    if declared != latest:
        raise SchemaError(
            f"{name} declares schema_version {declared} but the newest file is v{latest}"
        )
    return Contract(name, model, MappingProxyType(versions))


@functools.cache
def default_catalog() -> Catalog:
    """The catalogue of the shipped ``.avsc`` files, built once per process."""
    return Catalog()
