"""What is wrong with a reference data file, one line per problem, for the person who fixes it.

A line names the file, the line (or CSV row) where known, the record by its index and id, the
key and what was expected; an unknown key comes with the closest known one ("unknown key
markup_bsp; did you mean markup_bps?").
"""

from __future__ import annotations

import difflib
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from hub.errors import ValidationFailed

# How alike a typo and a known key must be (difflib's ratio) for "did you mean": 0.6 offered
# "brand" for "zebra".
_CLOSE = 0.75

# A place in a document: section, record index, then keys and indexes inside the record.
DocPath = tuple[str | int, ...]


class ReferenceFileInvalid(ValidationFailed):
    """A reference data file breaks rules; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(source, len(self.problems), "problems")
        if len(self.problems) == 1:
            text = self.problems[0]
        else:
            text = f"{source} has {len(self.problems)} problems:\n" + "\n".join(self.problems)
        self.args = (text,)

    def __str__(self) -> str:
        return str(self.args[0])


def yaml_lines(text: str) -> dict[DocPath, int]:
    """The 1-based line of every mapping key's value and sequence item in a YAML document."""
    lines: dict[DocPath, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: DocPath) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    child = (*path, str(key.value))
                    walk(value, child)
                    lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return lines


class Locator:
    """Turns a path in a document into "file:section[i] (id) line N"."""

    def __init__(self, source: str, lines: Mapping[DocPath, int], unit: str = "line") -> None:
        self.source = source
        self.lines = lines
        self.unit = unit

    def line(self, path: DocPath) -> int | None:
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None

    def where(self, record: DocPath, record_id: str | None, at: DocPath | None = None) -> str:
        line = self.line(record if at is None else at)
        where = f"{self.source}:{_record_name(record)}"
        if record_id:
            where += f" ({record_id})"
        return where if line is None else f"{where} {self.unit} {line}"


def _record_name(path: DocPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def record_problems(
    model: type[BaseModel],
    data: Mapping[str, Any],
    exc: ValidationError,
    locator: Locator,
    record: DocPath,
    record_id: str | None,
) -> list[str]:
    """One line per error of ``exc`` (``model`` validating ``data`` at ``record``)."""
    errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    # A misspelt required key is one problem, not two: the suggestion line says it is missing.
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    suggested: dict[DocPath, str] = {}
    for error in unknown:
        parent, key = tuple(error["loc"][:-1]), str(error["loc"][-1])
        # A key the record already has is an unlikely meaning of the typo.
        given = _keys_at(data, parent)
        known = [k for k in _known_keys(model, parent) if k not in given]
        match = difflib.get_close_matches(key, known, n=1, cutoff=_CLOSE)
        if match:
            suggested[(*parent, match[0])] = key
    lines: list[tuple[int, str]] = []
    for error in errors:
        loc = tuple(error["loc"])
        at = (*record, *loc)
        where = locator.where(record, record_id, at)
        if error["type"] == "extra_forbidden":
            text = _unknown(model, loc, suggested, missing)
        elif error["type"] == "missing":
            if loc in suggested:
                continue
            text = f"key {_dotted(loc)} is missing ({_expected(model, loc)})"
        else:
            text = _invalid(error)
        lines.append((locator.line(at) or 0, f"{where}: {text}"))
    return [text for _, text in sorted(lines, key=lambda item: item[0])]


def _unknown(
    model: type[BaseModel],
    loc: DocPath,
    suggested: Mapping[DocPath, str],
    missing: set[DocPath],
) -> str:
    parent, key = loc[:-1], str(loc[-1])
    text = f"unknown key {_dotted(loc)}"
    for target, typo in suggested.items():
        if typo == key and target[:-1] == parent:
            text += f"; did you mean {_dotted(target)}?"
            if target in missing:
                text += " (a required key, missing)"
            return text
    known = _known_keys(model, parent)
    return text + (f"; known keys: {', '.join(known)}" if known else "")


def _invalid(error: ErrorDetails) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    loc = _dotted(tuple(error["loc"]))
    value = error.get("input")
    if not loc:
        return message
    if isinstance(value, Mapping | list):
        return f"{loc}: {message}"
    return f"{loc}={value!r}: {message}"


def _dotted(loc: DocPath) -> str:
    return _record_name(loc)


def unknown_key_line(where: str, key: str, known: Sequence[str]) -> str:
    """A problem line for a key a hand-made structure (a price list's wrapper) does not know."""
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=_CLOSE)
    hint = f"did you mean {match[0]}?" if match else f"known keys: {', '.join(known)}"
    return f"{where}: unknown key {key}; {hint}"


# --- what the models expect ------------------------------------------------------------------


def _field(model: type[BaseModel], loc: DocPath) -> FieldInfo | None:
    """The field ``loc`` leads to, through nested models and list items."""
    current: Any = model
    found: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        inner = _model_of(current)
        if inner is None or part not in inner.model_fields:
            return None
        found = inner.model_fields[part]
        current = found.annotation
    return found


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None


def _known_keys(model: type[BaseModel], parent: DocPath) -> list[str]:
    if not parent:
        return list(model.model_fields)
    field = _field(model, parent)
    inner = None if field is None else _model_of(field.annotation)
    return [] if inner is None else list(inner.model_fields)


def _keys_at(data: Any, path: DocPath) -> set[str]:
    for part in path:
        if isinstance(data, Mapping) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return set()
    return {str(k) for k in data} if isinstance(data, Mapping) else set()


def _expected(model: type[BaseModel], loc: DocPath) -> str:
    field = _field(model, loc)
    if field is None:
        return "required"
    text = "expected " + _kind(field.annotation)
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            text += f" >= {rule.ge}"
        elif isinstance(rule, annotated_types.Le):
            text += f" <= {rule.le}"
        elif isinstance(rule, annotated_types.MinLen) and rule.min_length > 1:
            text += f" of at least {rule.min_length}"
        elif getattr(rule, "pattern", None):
            text += f" matching {rule.pattern}"
    if field.description:
        text += f": {field.description}"
    return text


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [_kind(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(kinds)
    if origin in (tuple, list):
        return "a list"
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "true or false"
        if issubclass(annotation, int):
            return "a whole number"
        if issubclass(annotation, date):
            return "a date (YYYY-MM-DD)"
        if issubclass(annotation, enum.Enum):
            return "one of " + ", ".join(str(m.value) for m in annotation)
        if issubclass(annotation, BaseModel):
            return "a mapping of " + ", ".join(annotation.model_fields)
        if issubclass(annotation, str):
            return "text"
    return "a value"
