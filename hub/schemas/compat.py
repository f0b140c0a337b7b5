"""Full transitive compatibility of Avro schemas, as a registry set to ``FULL_TRANSITIVE`` sees it.

Every version of an event must read data written with every other version, both ways: a new
schema reading old data (the hub after an upgrade) and an old schema reading new data
(a partner's consumer still compiled against an older contract). So adding an enum symbol or
widening ``int`` to ``long`` is refused (an old reader cannot decode the new values), while a
field added or removed *with a default* passes.

The resolution rules are Apache Avro's own (``avro.compatibility``), the checker Confluent's and
Apicurio's registries port. One stricter rule is added: a changed ``logicalType`` is refused, since
old bytes would be read with a new meaning and Avro's checker looks only at the physical type.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.errors import AvroException
from avro.schema import parse

from hub.schemas import avro_files

_UNPARSABLE = (AvroException, ValueError, KeyError, TypeError)


def check(reader: Any, writer: Any, where: str = "") -> list[str]:
    """Problems that stop ``reader`` from reading data written with ``writer`` (one direction)."""
    where = where or _full_name(reader) or "schema"
    return _resolution(reader, writer, where) + _logical_changes(reader, writer, where)


def check_full(new: Any, old: Any, where: str = "") -> list[str]:
    """Both ways: ``new`` reading ``old`` data, and ``old`` (a partner not yet upgraded) reading
    ``new`` data; a changed logical type is reported once."""
    where = where or _full_name(new) or "schema"
    return (
        _resolution(new, old, f"{where}, new reading old data")
        + _resolution(old, new, f"{where}, old reading new data")
        + _logical_changes(new, old, where)
    )


def _resolution(reader: Any, writer: Any, where: str) -> list[str]:
    """Apache Avro's verdict on ``reader`` reading ``writer``'s data, as one line (or none)."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(parse(json.dumps(reader)), parse(json.dumps(writer)))
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    kinds = ", ".join(sorted({kind.value.replace("_", " ") for kind in result.incompatibilities}))
    messages = "; ".join(sorted(result.messages))
    at = ", ".join(sorted({_field_path(reader, loc) for loc in result.locations} - {""}))
    # A union writer's mismatch carries no location in Avro's result: then none is named.
    return [f"{where}: {kinds}{f' at {at}' if at else ''}: {messages}"]


def _field_path(schema: Any, location: str) -> str:
    """Avro's JSON-pointer-like location (``/fields/2/type/symbols``) as field names
    (``quantity.symbols``), resolved in the reader schema the location points into."""
    parts: list[str] = []
    node = schema
    for step in (s for s in location.split("/") if s and s != "fields"):
        if step.isdigit() and isinstance(node, dict) and "fields" in node:
            field = node["fields"][int(step)]
            parts.append(str(field["name"]))
            node = field
        elif step.isdigit() and isinstance(node, list):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
            if step in ("symbols", "name", "size", "items", "values"):
                parts.append(step)
        else:
            parts.append(step)
    return ".".join(parts)


def check_repo(avro_dir: Path = avro_files.AVRO_DIR) -> list[str]:
    """Check every pair of each event's versions both ways (FULL_TRANSITIVE); list the problems."""
    problems: list[str] = []
    for stem, found in sorted(avro_files.versions(avro_dir).items()):
        numbers = sorted(found)
        expected = list(range(1, len(numbers) + 1))
        if numbers != expected:
            problems.append(f"{stem}: versions {numbers} are not consecutive from v1")
        for older, newer in itertools.combinations(numbers, 2):
            where = f"{stem} v{newer} and v{older}"
            try:
                problems += check_full(
                    avro_files.load(found[newer]), avro_files.load(found[older]), where
                )
            except _UNPARSABLE as exc:  # an unparsable schema is a problem to report, not a crash
                problems.append(f"{where}: schema does not parse: {exc}")
    return problems


def _full_name(schema: Any) -> str:
    if not isinstance(schema, dict) or "name" not in schema:
        return ""
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _logical(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def _logical_changes(new: Any, old: Any, where: str) -> list[str]:
    """Fields whose ``logicalType`` differs between the two schemas (matched by name/alias).

    Named types referenced by name are not followed: a contract defines each one inline once.
    """
    if isinstance(new, list) or isinstance(old, list):
        if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
            return [p for n, o in zip(new, old, strict=True) for p in _logical_changes(n, o, where)]
        return []
    if _logical(new) != _logical(old):
        return [f"{where}: logical type changed from {_logical(old)} to {_logical(new)}"]
    if not (isinstance(new, dict) and isinstance(old, dict)) or new["type"] != old["type"]:
        return []
    kind = new["type"]
    if isinstance(kind, dict | list):  # {"type": {...}}: a wrapped schema
        return _logical_changes(kind, old["type"], where)
    if kind == "array":
        return _logical_changes(new["items"], old["items"], f"{where}[]")
    if kind == "map":
        return _logical_changes(new["values"], old["values"], f"{where}{{}}")
    if kind != "record":
        return []
    old_fields = {f["name"]: f for f in old["fields"]}
    problems: list[str] = []
    for field in new["fields"]:
        names = [field["name"], *field.get("aliases", [])]
        match = next((old_fields[n] for n in names if n in old_fields), None)
        if match is not None:
            problems += _logical_changes(field["type"], match["type"], f"{where}.{field['name']}")
    return problems
