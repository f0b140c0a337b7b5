"""JSON as Partner Center writes it: decimals as JSON numbers, read back as ``Decimal``.

The standard library would turn ``Decimal`` into float (losing cents) or refuse it, so
numbers are written from their exact text and parsed with ``parse_float=Decimal``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel


def dumps(value: object) -> str:
    """Serialise models, dicts, lists and scalars; ``Decimal`` becomes an exact JSON number."""
    return "".join(_encode(value))


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def _encode(value: object) -> list[str]:
    out: list[str] = []
    _write(value, out)
    return out


def _write(value: object, out: list[str]) -> None:
    if isinstance(value, BaseModel):
        _write(value.model_dump(by_alias=True), out)
    elif value is None or isinstance(value, bool):
        out.append(json.dumps(value))
    elif isinstance(value, Enum):
        _write(value.value, out)
    elif isinstance(value, int | str):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise TypeError("float reached the Partner Center wire; use Decimal")
    elif isinstance(value, datetime):
        out.append(json.dumps(_iso(value)))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime reached the Partner Center wire")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
