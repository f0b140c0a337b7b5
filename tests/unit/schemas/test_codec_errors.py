"""Bad bytes and bad events end in a SchemaError that says what is wrong, never another crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from registry_fakes import MemoryResolver

from hub.errors import SchemaError
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events import orders
from tests.support.samples import LINE, sample


def _order_bytes() -> bytes:
    return Codec().encode(sample("OrderRequested"))


def test_empty_message_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="empty message"):
        Codec().decode(b"")


def test_wrong_magic_byte_names_the_byte_and_both_framings() -> None:
    with pytest.raises(SchemaError, match=r"unknown magic byte 0x7b: expected 0x00 .* 0xC3 0x01"):
        Codec().decode(b'{"order_id": "PO-1"}')


def test_truncated_single_object_header_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="truncated message: 5 bytes"):
        Codec().decode(_order_bytes()[:5])


def test_truncated_confluent_header_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="truncated message: 3 bytes"):
        Codec(resolver=MemoryResolver()).decode(b"\x00\x00\x01")


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_body_is_a_schema_error(cut: int) -> None:
    with pytest.raises(SchemaError, match="OrderRequested: Avro body does not parse"):
        Codec().decode(_order_bytes()[:-cut])


def test_trailing_bytes_are_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="2 trailing bytes"):
        Codec().decode(_order_bytes() + b"\x00\x00")


def test_unknown_fingerprint_is_a_schema_error() -> None:
    data = b"\xc3\x01" + b"\x00" * 8 + _order_bytes()[10:]
    with pytest.raises(SchemaError, match="unknown schema fingerprint 0000000000000000"):
        Codec().decode(data)


def test_unknown_schema_id_is_a_schema_error() -> None:
    data = b"\x00" + (4242).to_bytes(4, "big") + _order_bytes()[10:]
    with pytest.raises(SchemaError, match="unknown schema id 4242"):
        Codec(resolver=MemoryResolver()).decode(data)


def test_confluent_message_without_a_registry_says_how_to_configure_one() -> None:
    data = Codec(resolver=MemoryResolver()).encode(sample("OrderRequested"))
    with pytest.raises(SchemaError, match="no schema registry is configured"):
        Codec().decode(data)


def test_registry_schema_that_is_not_a_hub_event_is_a_schema_error() -> None:
    resolver = MemoryResolver()
    foreign = resolver.add('{"type": "record", "name": "acme.Thing", "fields": []}')
    with pytest.raises(SchemaError, match=r"'acme\.Thing' is not an event contract"):
        Codec(resolver=resolver).decode(b"\x00" + foreign.to_bytes(4, "big"))


def test_registry_text_that_is_not_avro_is_a_schema_error() -> None:
    resolver = MemoryResolver()
    broken = resolver.add("this is not json")
    with pytest.raises(SchemaError, match=f"schema id {broken} is not a usable Avro schema"):
        Codec(resolver=resolver).decode(b"\x00" + broken.to_bytes(4, "big") + b"\x00")


def test_decoded_event_that_breaks_its_contract_names_field_value_and_rule() -> None:
    bad_line = orders.OrderLine.model_construct(**{**LINE.model_dump(), "quantity": -3})
    event = sample("OrderRequested").model_copy(update={"lines": (bad_line,)})
    data = Codec().encode(event)
    with pytest.raises(SchemaError) as caught:
        Codec().decode(data)
    message = str(caught.value)
    assert "OrderRequested is invalid" in message
    assert "lines[0].quantity=-3" in message
    assert "greater than or equal to 1" in message


def test_decoded_event_with_an_unknown_currency_is_a_schema_error() -> None:
    event = sample("PaymentReceived").model_copy(update={"currency": "EURO"})
    with pytest.raises(SchemaError, match=r"currency='EURO': unknown ISO 4217 currency"):
        Codec().decode(Codec().encode(event))


def test_encoding_a_wrong_type_is_a_schema_error() -> None:
    event = sample("PaymentReceived").model_copy(update={"amount_minor": "12.50"})
    with pytest.raises(SchemaError, match="PaymentReceived cannot be encoded"):
        Codec().encode(event)


def test_encoding_a_model_that_is_not_a_contract_is_a_schema_error() -> None:
    class Chitchat(BaseModel):
        text: str

    with pytest.raises(SchemaError, match="Chitchat is not an event contract"):
        Codec().encode(Chitchat(text="hi"))


def test_decode_as_the_wrong_event_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="expected OrderHeld, got OrderRequested"):
        Codec().decode_as(_order_bytes(), orders.OrderHeld)


@given(body=st.binary(max_size=300))
def test_any_body_after_a_valid_header_decodes_or_is_a_schema_error(body: bytes) -> None:
    data = _order_bytes()[:10] + body
    try:
        event = Codec().decode(data)
    except SchemaError:
        return
    assert isinstance(event, Event)


@given(data=st.binary(max_size=64))
def test_any_bytes_decode_or_are_a_schema_error(data: bytes) -> None:
    resolver = MemoryResolver()
    resolver.id_for(Codec().catalog.contract("OrderRequested"))
    with contextlib.suppress(SchemaError):
        Codec(resolver=resolver).decode(data)
