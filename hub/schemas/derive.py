"""Derives the Avro schema a pydantic event model stands for; writes and checks the ``.avsc``.

The ``.avsc`` files are what partners read; a test keeps them equal to what this derives.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from hub.schemas.avro_files import NAMESPACE, file_name

_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def avro_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The Avro record schema for ``model`` (nested models and enums defined once, inline)."""
    schema = _Deriver().record(model)
    assert isinstance(schema, dict)
    return schema


def _doc(obj: type) -> str | None:
    raw = obj.__dict__.get("__doc__")
    return inspect.cleandoc(raw) if isinstance(raw, str) else None


class _Deriver:
    def __init__(self) -> None:
        self.defined: set[str] = set()

    def record(self, model: type[BaseModel]) -> dict[str, Any] | str:
        name = model.__name__
        if name in self.defined:
            return name
        self.defined.add(name)
        schema: dict[str, Any] = {"type": "record", "name": name, "namespace": NAMESPACE}
        doc = _doc(model)
        if doc:
            schema["doc"] = doc
        schema["fields"] = [
            self.field(name, fname, info) for fname, info in model.model_fields.items()
        ]
        return schema

    def field(self, owner: str, name: str, info: FieldInfo) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": name,
            "type": self.type_of(info.annotation, f"{owner}.{name}"),
        }
        if info.description:
            out["doc"] = info.description
        if not info.is_required():
            has_default, default = _default(info)
            if has_default:
                out["default"] = default
        return out

    def type_of(self, ann: Any, where: str) -> Any:
        origin = get_origin(ann)
        if origin is Annotated:
            return self.type_of(get_args(ann)[0], where)
        if origin in (Union, types.UnionType):
            present = [a for a in get_args(ann) if a is not type(None)]
            if len(present) != 1 or len(get_args(ann)) != 2:
                raise TypeError(f"{where}: only `X | None` unions map to Avro here, got {ann}")
            return ["null", self.type_of(present[0], where)]
        if origin is Literal:
            if not all(isinstance(a, str) for a in get_args(ann)):
                raise TypeError(f"{where}: only string literals map to Avro, got {ann}")
            return "string"
        if origin in (tuple, list):
            args = get_args(ann)
            if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
                raise TypeError(f"{where}: use tuple[X, ...] for an Avro array, got {ann}")
            return {"type": "array", "items": self.type_of(args[0], f"{where}[]")}
        return self.plain(ann, where)

    def plain(self, ann: Any, where: str) -> Any:
        simple: dict[Any, Any] = {
            bool: "boolean",
            int: "long",
            str: "string",
            UUID: {"type": "string", "logicalType": "uuid"},
            datetime: {"type": "long", "logicalType": "timestamp-micros"},
            date: {"type": "int", "logicalType": "date"},
        }
        if ann in simple:
            return simple[ann]
        if isinstance(ann, type) and issubclass(ann, enum.Enum):
            return self.enum(ann, where)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return self.record(ann)
        raise TypeError(
            f"{where}: no Avro mapping for {ann!r} (floats are refused: money is exact)"
        )

    def enum(self, cls: type[enum.Enum], where: str) -> dict[str, Any] | str:
        if cls.__name__ in self.defined:
            return cls.__name__
        symbols = [str(member.value) for member in cls]
        bad = [s for s in symbols if not _SYMBOL.match(s)]
        if bad:
            raise TypeError(f"{where}: {bad} are not Avro enum symbols; use a Literal string")
        self.defined.add(cls.__name__)
        return {"type": "enum", "name": cls.__name__, "namespace": NAMESPACE, "symbols": symbols}


def _default(info: FieldInfo) -> tuple[bool, Any]:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        if value in ((), []):
            return True, []
        return False, None
    value = info.default
    if isinstance(value, enum.Enum):
        return True, value.value
    if value is None or isinstance(value, bool | int | str):
        return True, value
    if value in ((), []):
        return True, []
    return False, None


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_missing(avro_dir: Path, models: Iterable[type[BaseModel]]) -> list[Path]:
    """Write each model's current ``.avsc`` if absent: a published version never changes."""
    written = []
    for model in models:
        version = model.model_fields["schema_version"].default
        path = avro_dir / file_name(model.__name__, int(version))
        if not path.exists():
            path.write_text(render(avro_schema(model)), encoding="utf-8")
            written.append(path)
    return written


def drift(contracts: Iterable[tuple[type[BaseModel], str]]) -> list[str]:
    """Models whose derived schema differs from their newest ``.avsc`` (``hub schemas check``)."""
    problems = []
    for model, published in contracts:
        if avro_schema(model) != json.loads(published):
            problems.append(
                f"{model.__name__}: model and newest .avsc differ; publish a new version with "
                "write_missing instead of editing the published file"
            )
    return problems
