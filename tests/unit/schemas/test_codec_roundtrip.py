"""Every event survives both framings unchanged; the framings are the standard ones."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field
from registry_fakes import MemoryResolver

from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.domain.money import CURRENCY_EXPONENTS
from hub.schemas.catalog import Catalog, default_catalog
from hub.schemas.codec import Codec
from hub.schemas.derive import avro_schema, write_missing
from hub.schemas.events import billing, orders
from tests.support.samples import EVENT_NAMES, LINE, envelope, sample

AVRO_LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
AWARE = st.datetimes(
    min_value=datetime(1970, 1, 1),  # hypothesis takes naive bounds
    max_value=datetime(9000, 1, 1),
    timezones=st.just(UTC),
)


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_event_round_trips_through_single_object_encoding(name: str) -> None:
    event = sample(name)
    data = Codec().encode(event)
    assert data[:2] == b"\xc3\x01"
    assert Codec().decode(data) == event


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_event_round_trips_through_confluent_wire_format(name: str) -> None:
    resolver = MemoryResolver()
    event = sample(name)
    data = Codec(resolver=resolver).encode(event)
    assert data[0] == 0
    assert int.from_bytes(data[1:5], "big") in resolver.texts
    assert Codec(resolver=resolver).decode(data) == event


def _rabin64(text: str) -> int:
    # CRC-64-AVRO straight from the Avro specification, independent of fastavro.
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in text.encode():
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_single_object_header_carries_the_spec_fingerprint_little_endian() -> None:
    event = sample("OrderRequested")
    contract = default_catalog().for_model(type(event))
    expected = _rabin64(contract.current.canonical).to_bytes(8, "little")
    assert Codec().encode(event)[:10] == b"\xc3\x01" + expected


def test_fingerprint_of_null_matches_the_avro_spec_test_vector() -> None:
    assert _rabin64('"null"') == 7195948357588979594


def test_a_registry_codec_still_reads_single_object_messages() -> None:
    event = sample("TicketOpened")
    assert Codec(resolver=MemoryResolver()).decode(Codec().encode(event)) == event


def test_schema_id_is_looked_up_once_per_contract() -> None:
    resolver = MemoryResolver()
    codec = Codec(resolver=resolver)
    for _ in range(3):
        codec.encode(sample("PaymentReceived"))
    assert resolver.lookups == 1


def test_partner_with_plain_fastavro_reads_a_confluent_framed_event() -> None:
    resolver = MemoryResolver()
    data = Codec(resolver=resolver).encode(sample("InvoiceIssued"))
    schema_id = int.from_bytes(data[1:5], "big")
    # What a stock Confluent deserializer does: id -> schema from the registry -> Avro body.
    writer = parse_schema(json.loads(resolver.texts[schema_id]))
    record = schemaless_reader(io.BytesIO(data[5:]), writer, None)
    assert record["number"] == "WL-2025-0001"
    assert record["total_minor"] == 19_159
    assert record["billing_mode"] == "distributor_white_label"


def test_hub_reads_a_confluent_event_written_without_hub_code() -> None:
    resolver = MemoryResolver()
    contract = default_catalog().contract("PaymentReceived")
    schema_id = resolver.add(contract.current.text)
    record = sample("PaymentReceived").model_dump()
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(json.loads(contract.current.text)), record)
    data = b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue()
    assert Codec(resolver=resolver).decode(data) == sample("PaymentReceived")


class PaymentReceived(billing.PaymentReceived):
    """Version 2 of PaymentReceived, as a later change would add it: one field with a default."""

    schema_version: int = Field(default=2, ge=1)
    channel: str = "unknown"


def test_an_event_written_with_the_previous_version_is_read_into_the_new_model(
    tmp_path: Path,
) -> None:
    (tmp_path / "payment_received.v1.avsc").write_text(
        json.dumps(avro_schema(billing.PaymentReceived)), encoding="utf-8"
    )
    write_missing(tmp_path, [PaymentReceived])
    new_codec = Codec(Catalog(tmp_path, [PaymentReceived]))
    old_bytes = Codec().encode(sample("PaymentReceived"))

    event = new_codec.decode_as(old_bytes, PaymentReceived)

    assert event.channel == "unknown"
    assert event.amount_minor == 19_159
    assert event.schema_version == 1  # what the writer said it wrote


def test_an_old_event_resolves_through_a_registry_schema_id_too(tmp_path: Path) -> None:
    (tmp_path / "payment_received.v1.avsc").write_text(
        json.dumps(avro_schema(billing.PaymentReceived)), encoding="utf-8"
    )
    write_missing(tmp_path, [PaymentReceived])
    resolver = MemoryResolver()
    old_bytes = Codec(resolver=resolver).encode(sample("PaymentReceived"))
    new_codec = Codec(Catalog(tmp_path, [PaymentReceived]), resolver=resolver)
    assert new_codec.decode_as(old_bytes, PaymentReceived).channel == "unknown"


@given(
    quantities=st.lists(st.integers(min_value=1, max_value=2**63 - 1), min_size=1, max_size=5),
    term=st.sampled_from(Term),
    cycle=st.sampled_from(BillingCycle),
    at=AWARE,
    order_id=st.text(min_size=1, max_size=128),
)
def test_any_valid_order_round_trips_in_both_framings(
    quantities: list[int], term: Term, cycle: BillingCycle, at: datetime, order_id: str
) -> None:
    lines = tuple(
        LINE.model_copy(update={"quantity": q, "term": term, "billing_cycle": cycle})
        for q in quantities
    )
    event = orders.OrderRequested(
        **envelope("req"),
        order_id=order_id,
        customer_id="c",
        lines=lines,
        requested_at=at,
    )
    for codec in (Codec(), Codec(resolver=MemoryResolver())):
        assert codec.decode(codec.encode(event)) == event


@given(
    cost=AVRO_LONG,
    price=AVRO_LONG,
    quantity=AVRO_LONG,
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    charge_type=st.sampled_from(ChargeType),
)
def test_any_charge_amount_round_trips_exactly(
    cost: int, price: int, quantity: int, currency: str, charge_type: ChargeType
) -> None:
    event = sample("ChargeRated").model_copy(
        update={
            "cost_minor": cost,
            "price_minor": price,
            "quantity": quantity,
            "currency": currency,
            "charge_type": charge_type,
        }
    )
    decoded = Codec().decode(Codec().encode(event))
    assert decoded == event
    assert isinstance(decoded, billing.ChargeRated)
    assert (decoded.cost_minor, decoded.price_minor) == (cost, price)
