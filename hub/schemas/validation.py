"""Turns pydantic's errors into messages a reseller's developer can act on: field, value, rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hub.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


class ContractViolation(ValidationFailed):
    """One or more fields of an event break its contract; ``problems`` lists each of them."""

    def __init__(self, contract: str, problems: list[tuple[str, object, str]]) -> None:
        field, value, rule = problems[0]
        super().__init__(field, value, rule)
        self.contract = contract
        self.problems = problems
        lines = "; ".join(f"{path}={val!r}: {why}" for path, val, why in problems)
        # Replace the single-field message of ValidationFailed with all the problems.
        self.args = (f"{contract} is invalid: {lines}",)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(event)"


def violation(contract: str, exc: ValidationError) -> ContractViolation:
    """A ``ContractViolation`` naming each failing field path, its value and the broken rule."""
    problems: list[tuple[str, object, str]] = []
    for err in exc.errors(include_url=False):
        rule = err["msg"].removeprefix("Value error, ")
        problems.append((_path(tuple(err["loc"])), err.get("input"), f"{rule} ({err['type']})"))
    return ContractViolation(contract, problems)


def validate(model: type[M], data: Mapping[str, Any]) -> M:
    """Build ``model`` from ``data`` or raise ``ContractViolation`` (a ``ValidationFailed``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise violation(model.__name__, exc) from exc
