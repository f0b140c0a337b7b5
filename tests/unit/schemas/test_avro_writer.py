"""The compiled Avro writer writes fastavro's bytes, byte for byte, for every contract: for each
contract's sample event and for datums drawn from each schema (every field, union branch, enum
symbol, array length and logical type the contracts use)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.schemas.avro_writer import compile_writer, encode_long
from hub.schemas.catalog import Contract, default_catalog
from hub.schemas.codec import Codec
from tests.support.samples import sample

CATALOG = default_catalog()
CONTRACTS = sorted(CATALOG.contracts.values(), key=lambda c: c.name)


def _fastavro(schema: Any, datum: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, schema, datum)
    return out.getvalue()


def _datums(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of ``schema`` (fastavro's parsed form), as a model's dump holds them."""
    if isinstance(schema, list):
        return st.one_of(*(_datums(branch, named) for branch in schema))
    if isinstance(schema, str):
        if schema in named:
            return st.deferred(lambda: _datums(named[schema], named))
        return _primitive(schema)
    logical = schema.get("logicalType")
    if logical == "timestamp-micros":
        return st.datetimes(
            min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
        )
    if logical == "date":
        return st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1))
    if logical == "uuid":
        return st.uuids()
    kind = schema["type"]
    if kind == "record":
        named[schema["name"]] = schema
        return st.fixed_dictionaries(
            {field["name"]: _datums(field["type"], named) for field in schema["fields"]}
        )
    if kind == "enum":
        named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(_datums(schema["items"], named), max_size=4)
    return _primitive(kind)


def _primitive(kind: str) -> st.SearchStrategy[Any]:
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "string": st.text(max_size=20),
    }[kind]


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test_every_contracts_sample_is_written_as_fastavro_writes_it(contract: Contract) -> None:
    writer = compile_writer(contract.schema)
    assert writer is not None, f"{contract.name} is left to fastavro"
    datum = sample(contract.name).model_dump(warnings=False)
    assert writer(datum) == _fastavro(contract.schema, datum)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_datum_of_every_contract_is_written_as_fastavro_writes_it(
    contract: Contract, data: st.DataObject
) -> None:
    writer = compile_writer(contract.schema)
    assert writer is not None
    datum = data.draw(_datums(contract.current.raw, {}))
    assert writer(datum) == _fastavro(contract.schema, datum)


@given(st.integers(-(2**63), 2**63 - 1))
def test_a_long_is_fastavros_zigzag_varint(n: int) -> None:
    assert encode_long(n) == _fastavro(
        {"type": "record", "name": "L", "fields": [{"name": "n", "type": "long"}]}, {"n": n}
    )


def test_what_it_does_not_compile_is_left_to_fastavro() -> None:
    for schema in (
        {
            "type": "record",
            "name": "M",
            "fields": [{"name": "m", "type": {"type": "map", "values": "long"}}],
        },
        {"type": "record", "name": "F", "fields": [{"name": "f", "type": "double"}]},
        {"type": "record", "name": "U", "fields": [{"name": "u", "type": ["string", "long"]}]},
    ):
        assert compile_writer(parse_schema(schema)) is None


def test_the_codec_encodes_with_it_and_decodes_what_it_wrote() -> None:
    codec = Codec()
    event = sample("ChargeRated")
    contract = CATALOG.for_model(type(event))
    assert codec.writer_for(contract) is not None  # compiled, not fastavro's
    data = codec.encode(event)
    assert data.endswith(_fastavro(contract.schema, event.model_dump(warnings=False)))
    assert codec.decode(data) == event
