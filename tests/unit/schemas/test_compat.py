"""`hub schemas check` logic: a new schema must read data written with the previous one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.schemas.avro_files import AVRO_DIR
from hub.schemas.compat import check, check_repo

FIXTURES = Path(__file__).parent / "fixtures"


def test_shipped_schemas_are_compatible_with_their_previous_versions() -> None:
    assert check_repo(AVRO_DIR) == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("removed_field_without_default", "customer_id: field removed although it has no default"),
        ("added_field_without_default", "po_number: field added without a default"),
        ("changed_type", "quantity: type changed from int to string"),
        ("renamed_enum_symbol", "term: enum hub.events.Term lost symbol(s) P1Y"),
        (
            "renamed_record",
            "record renamed from hub.events.OrderRequested to hub.events.OrderPlaced",
        ),
    ],
)
def test_incompatible_fixture_is_reported(case: str, expected: str) -> None:
    problems = check_repo(FIXTURES / case)
    assert len(problems) == 1
    assert problems[0].startswith("order_requested v2 reading v1")
    assert expected in problems[0]


def test_added_field_with_default_promotion_and_new_enum_symbol_are_compatible() -> None:
    assert check_repo(FIXTURES / "compatible_added_field_with_default") == []


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "E", "namespace": "hub.events", "fields": list(fields)}


@pytest.mark.parametrize(
    ("old", "new"),
    [("int", "long"), ("int", "double"), ("long", "float"), ("float", "double"),
     ("string", "bytes"), ("bytes", "string")],
)  # fmt: skip
def test_legal_avro_promotions_pass(old: str, new: str) -> None:
    assert check(_record({"name": "x", "type": new}), _record({"name": "x", "type": old})) == []


@pytest.mark.parametrize(("old", "new"), [("long", "int"), ("double", "float"), ("string", "long")])
def test_narrowing_is_refused(old: str, new: str) -> None:
    problems = check(_record({"name": "x", "type": new}), _record({"name": "x", "type": old}))
    assert problems == [
        f"hub.events.E.x: type changed from {old} to {new}, which is not a legal Avro promotion"
    ]


def test_making_a_field_optional_is_compatible_but_making_it_required_is_not() -> None:
    required = _record({"name": "x", "type": "string"})
    optional = _record({"name": "x", "type": ["null", "string"], "default": None})
    assert check(optional, required) == []
    assert "x: type changed from null to string" in check(required, optional)[0]


def test_enum_default_allows_a_removed_symbol() -> None:
    old = _record({"name": "k", "type": {"type": "enum", "name": "K", "symbols": ["a", "b"]}})
    new = _record(
        {"name": "k", "type": {"type": "enum", "name": "K", "symbols": ["a"], "default": "a"}}
    )
    assert check(new, old) == []


def test_renamed_field_with_alias_is_compatible() -> None:
    old = _record({"name": "qty", "type": "long"})
    new = _record({"name": "quantity", "type": "long", "aliases": ["qty"]})
    assert check(new, old) == []


def test_changed_logical_type_is_refused() -> None:
    micros = {"type": "long", "logicalType": "timestamp-micros"}
    millis = {"type": "long", "logicalType": "timestamp-millis"}
    problems = check(_record({"name": "t", "type": millis}), _record({"name": "t", "type": micros}))
    assert "logical type changed" in problems[0]


def test_nested_record_changes_are_found_with_their_path() -> None:
    def order(quantity_type: str) -> dict[str, Any]:
        line = {"type": "record", "name": "Line", "fields": [{"name": "q", "type": quantity_type}]}
        return _record({"name": "lines", "type": {"type": "array", "items": line}})

    assert check(order("string"), order("long")) == [
        "hub.events.E.lines[].q: type changed from long to string, "
        "which is not a legal Avro promotion"
    ]


def test_version_gap_and_unparsable_schema_are_reported(tmp_path: Path) -> None:
    (tmp_path / "thing.v1.avsc").write_text(json.dumps(_record()), encoding="utf-8")
    (tmp_path / "thing.v3.avsc").write_text(
        json.dumps(_record({"name": "x", "type": "nosuchtype"})), encoding="utf-8"
    )
    problems = check_repo(tmp_path)
    assert problems[0] == "thing: versions [1, 3] are not consecutive from v1"
    assert problems[1].startswith("thing v3 reading v1: schema does not parse")
