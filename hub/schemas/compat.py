"""Backward compatibility of Avro schemas: can the new (reader) schema read old (writer) data?

Follows Avro's schema resolution rules, plus two stricter ones: a changed ``logicalType`` is
refused (old bytes would be read with a new meaning), and so is removing a field that has no
default (partners' consumers still on the old schema could not read new data).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import SchemaParseException, UnknownType

from hub.schemas import avro_files

_PROMOTIONS: dict[str, set[str]] = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_UNPARSABLE = (SchemaParseException, UnknownType, ValueError, KeyError, TypeError)
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def check(reader: Any, writer: Any, where: str = "") -> list[str]:
    """Problems that stop ``reader`` (the new schema) from reading data written with ``writer``."""
    new = parse_schema(reader, expand=True)
    old = parse_schema(writer, expand=True)
    return _Checker().compare(new, old, where or _name(new) or "schema")


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema["type"])
    return str(schema)


def _name(schema: Any) -> str:
    return str(schema.get("name", "")) if isinstance(schema, dict) else ""


def _logical(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def _describe(schema: Any) -> str:
    kind = _kind(schema)
    if kind in ("record", "enum", "fixed"):
        return f"{kind} {_name(schema)}"
    if kind == "union":
        return "[" + ", ".join(_describe(s) for s in schema) + "]"
    logical = _logical(schema)
    return f"{kind} ({logical})" if logical else kind


class _Checker:
    def __init__(self) -> None:
        # Guards recursive records: a pair already under comparison is assumed compatible.
        self._seen: set[tuple[str, str]] = set()

    def compare(self, new: Any, old: Any, where: str) -> list[str]:
        new_kind, old_kind = _kind(new), _kind(old)
        if old_kind == "union":
            # Every branch the writer may have used must be readable.
            problems = []
            for branch in old:
                problems += self.compare(new, branch, where)
            return problems
        if new_kind == "union":
            if any(not self.compare(branch, old, where) for branch in new):
                return []
            return [f"{where}: {_describe(old)} is not readable by the union {_describe(new)}"]
        if new_kind != old_kind:
            if new_kind in _PROMOTIONS.get(old_kind, set()):
                return []
            return [
                f"{where}: type changed from {_describe(old)} to {_describe(new)}, "
                "which is not a legal Avro promotion"
            ]
        if new_kind in _PRIMITIVES:
            if _logical(new) != _logical(old):
                return [f"{where}: logical type changed from {_describe(old)} to {_describe(new)}"]
            return []
        return getattr(self, f"_{new_kind}")(new, old, where)  # type: ignore[no-any-return]

    def _same_name(self, new: Any, old: Any, where: str) -> list[str]:
        aliases = set(new.get("aliases", []))
        if _name(new) != _name(old) and _name(old) not in aliases:
            return [
                f"{where}: {_kind(new)} renamed from {_name(old)} to {_name(new)} "
                "(add the old name to 'aliases')"
            ]
        return []

    def _record(self, new: Any, old: Any, where: str) -> list[str]:
        problems = self._same_name(new, old, where)
        if problems:
            return problems
        key = (_name(new), _name(old))
        if key in self._seen:
            return []
        self._seen.add(key)
        old_fields = {f["name"]: f for f in old["fields"]}
        for field in new["fields"]:
            path = f"{where}.{field['name']}"
            names = [field["name"], *field.get("aliases", [])]
            match = next((old_fields[n] for n in names if n in old_fields), None)
            if match is None:
                if "default" not in field:
                    problems.append(
                        f"{path}: field added without a default; data written with the old "
                        "schema has no value for it"
                    )
                continue
            problems += self.compare(field["type"], match["type"], path)
        problems += _removed_without_default(new, old, where)
        self._seen.discard(key)
        return problems

    def _enum(self, new: Any, old: Any, where: str) -> list[str]:
        problems = self._same_name(new, old, where)
        missing = [s for s in old["symbols"] if s not in new["symbols"]]
        if missing and "default" not in new:
            problems.append(
                f"{where}: enum {_name(new)} lost symbol(s) {', '.join(missing)} "
                "(removed or renamed) and has no enum default"
            )
        return problems

    def _fixed(self, new: Any, old: Any, where: str) -> list[str]:
        problems = self._same_name(new, old, where)
        if new["size"] != old["size"]:
            problems.append(f"{where}: fixed size changed from {old['size']} to {new['size']}")
        return problems

    def _array(self, new: Any, old: Any, where: str) -> list[str]:
        return self.compare(new["items"], old["items"], f"{where}[]")

    def _map(self, new: Any, old: Any, where: str) -> list[str]:
        return self.compare(new["values"], old["values"], f"{where}{{}}")


def _removed_without_default(new: Any, old: Any, where: str) -> list[str]:
    # Not a backward rule: partners' consumers still compiled against the old schema need it.
    kept = {name for f in new["fields"] for name in (f["name"], *f.get("aliases", []))}
    return [
        f"{where}.{f['name']}: field removed although it has no default; consumers still on "
        "the old schema cannot read new data (keep it, or give it a default first)"
        for f in old["fields"]
        if f["name"] not in kept and "default" not in f
    ]


def check_repo(avro_dir: Path = avro_files.AVRO_DIR) -> list[str]:
    """Compare each event's every version with the one before it; list every problem found."""
    problems: list[str] = []
    for stem, found in sorted(avro_files.versions(avro_dir).items()):
        numbers = sorted(found)
        expected = list(range(1, len(numbers) + 1))
        if numbers != expected:
            problems.append(f"{stem}: versions {numbers} are not consecutive from v1")
        for older, newer in itertools.pairwise(numbers):
            where = f"{stem} v{newer} reading v{older}"
            try:
                problems += check(
                    avro_files.load(found[newer]), avro_files.load(found[older]), where
                )
            except _UNPARSABLE as exc:  # an unparsable schema is a problem to report, not a crash
                problems.append(f"{where}: schema does not parse: {exc}")
    return problems
