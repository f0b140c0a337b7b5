"""`hub schemas check` logic: every version reads every other version's data, both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.schemas.avro_files import AVRO_DIR
from hub.schemas.compat import check, check_full, check_repo

FIXTURES = Path(__file__).parent / "fixtures"
NEW_READS_OLD = "order_requested v2 and v1, new reading old data"
OLD_READS_NEW = "order_requested v2 and v1, old reading new data"


def test_shipped_schemas_are_fully_transitively_compatible() -> None:
    assert check_repo(AVRO_DIR) == []


def test_an_added_enum_symbol_is_refused_because_old_readers_cannot_decode_it() -> None:
    assert check_repo(FIXTURES / "added_enum_symbol") == [
        f"{OLD_READS_NEW}: missing enum symbols at term.symbols: {{'P5Y'}}"
    ]


def test_int_widened_to_long_is_refused_because_old_readers_read_an_int() -> None:
    assert check_repo(FIXTURES / "widened_int_to_long") == [
        f"{OLD_READS_NEW}: type mismatch at quantity: "
        "reader type: int not compatible with writer type: long"
    ]


def test_a_field_added_with_a_default_passes() -> None:
    assert check_repo(FIXTURES / "compatible_added_field_with_default") == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("removed_field_without_default",
         [f"{OLD_READS_NEW}: reader field missing default value at customer_id: customer_id"]),
        ("added_field_without_default",
         [f"{NEW_READS_OLD}: reader field missing default value at po_number: po_number"]),
        ("changed_type",
         [f"{NEW_READS_OLD}: type mismatch at quantity: "
          "reader type: string not compatible with writer type: int",
          f"{OLD_READS_NEW}: type mismatch at quantity: "
          "reader type: int not compatible with writer type: string"]),
        ("renamed_enum_symbol",
         [f"{NEW_READS_OLD}: missing enum symbols at term.symbols: {{'P1Y'}}",
          f"{OLD_READS_NEW}: missing enum symbols at term.symbols: {{'P12M'}}"]),
        ("renamed_record",
         [f"{NEW_READS_OLD}: name mismatch at name: expected: hub.events.OrderRequested",
          f"{OLD_READS_NEW}: name mismatch at name: expected: hub.events.OrderPlaced"]),
    ],
)  # fmt: skip
def test_incompatible_fixture_is_reported_in_each_direction_it_breaks(
    case: str, expected: list[str]
) -> None:
    assert check_repo(FIXTURES / case) == expected


def test_every_pair_of_versions_is_checked_not_only_neighbours() -> None:
    # v2 gives customer_id a default, v3 drops it: each step is fine, but a reader on v1
    # (no default) cannot read v3 data.
    assert check_repo(FIXTURES / "removed_after_default_added") == [
        "order_requested v3 and v1, old reading new data: reader field missing default value "
        "at customer_id: customer_id"
    ]


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "E", "namespace": "hub.events", "fields": list(fields)}


@pytest.mark.parametrize(
    ("old", "new"),
    [("int", "long"), ("int", "double"), ("long", "float"), ("float", "double"),
     ("string", "bytes"), ("bytes", "string")],
)  # fmt: skip
def test_avro_promotions_read_old_data_but_are_refused_both_ways(old: str, new: str) -> None:
    new_schema, old_schema = (
        _record({"name": "x", "type": new}),
        _record({"name": "x", "type": old}),
    )
    assert check(new_schema, old_schema) == []
    problems = check_full(new_schema, old_schema)
    both_readable = {old, new} == {"string", "bytes"}
    assert problems == ([] if both_readable else [
        f"hub.events.E, old reading new data: type mismatch at x: "
        f"reader type: {old} not compatible with writer type: {new}"
    ])  # fmt: skip


def test_narrowing_is_refused_for_the_new_reader() -> None:
    problems = check(_record({"name": "x", "type": "int"}), _record({"name": "x", "type": "long"}))
    assert problems == [
        "hub.events.E: type mismatch at x: reader type: int not compatible with writer type: long"
    ]


def test_making_a_field_optional_breaks_old_readers() -> None:
    required = _record({"name": "x", "type": "string"})
    optional = _record({"name": "x", "type": ["null", "string"], "default": None})
    assert check(optional, required) == []
    assert check_full(optional, required) == [
        "hub.events.E, old reading new data: type mismatch: "
        "reader type: string not compatible with writer type: null"
    ]


def test_enum_default_lets_a_symbol_come_and_go_both_ways() -> None:
    def kind(*symbols: str) -> dict[str, Any]:
        enum = {"type": "enum", "name": "K", "symbols": list(symbols), "default": "a"}
        return _record({"name": "k", "type": enum})

    assert check_full(kind("a", "b"), kind("a")) == []
    assert check_full(kind("a"), kind("a", "b")) == []


def test_renamed_field_with_alias_reads_old_data() -> None:
    old = _record({"name": "qty", "type": "long"})
    new = _record({"name": "quantity", "type": "long", "aliases": ["qty"]})
    assert check(new, old) == []


def test_changed_logical_type_is_refused_once() -> None:
    micros = {"type": "long", "logicalType": "timestamp-micros"}
    millis = {"type": "long", "logicalType": "timestamp-millis"}
    new, old = _record({"name": "t", "type": millis}), _record({"name": "t", "type": micros})
    assert check_full(new, old) == [
        "hub.events.E.t: logical type changed from timestamp-micros to timestamp-millis"
    ]


def test_nested_record_changes_are_found_with_their_path() -> None:
    def order(quantity_type: str) -> dict[str, Any]:
        line = {"type": "record", "name": "Line", "fields": [{"name": "q", "type": quantity_type}]}
        return _record({"name": "lines", "type": {"type": "array", "items": line}})

    assert check(order("string"), order("long")) == [
        "hub.events.E: type mismatch at lines.items.q: "
        "reader type: string not compatible with writer type: long"
    ]


def test_version_gap_and_unparsable_schema_are_reported(tmp_path: Path) -> None:
    (tmp_path / "thing.v1.avsc").write_text(json.dumps(_record()), encoding="utf-8")
    (tmp_path / "thing.v3.avsc").write_text(
        json.dumps(_record({"name": "x", "type": "nosuchtype"})), encoding="utf-8"
    )
    problems = check_repo(tmp_path)
    assert problems[0] == "thing: versions [1, 3] are not consecutive from v1"
    assert problems[1].startswith("thing v3 and v1: schema does not parse")
