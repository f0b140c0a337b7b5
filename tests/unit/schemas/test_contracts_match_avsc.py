"""Every event model and its published .avsc say the same thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hub.errors import SchemaError
from hub.schemas import avro_files
from hub.schemas.catalog import Catalog, default_catalog
from hub.schemas.derive import avro_schema, drift, write_missing
from hub.schemas.envelope import Event
from hub.schemas.events import ALL_EVENTS
from tests.support.samples import EVENT_NAMES

ENVELOPE = ["event_id", "event_time", "correlation_id", "causation_id", "reseller_id"]


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.__name__)
def test_model_equals_its_newest_avsc(model: type[Event]) -> None:
    contract = default_catalog().for_model(model)
    published = json.loads(contract.current.text)
    assert avro_schema(model) == published, (
        f"{model.__name__} drifted from {avro_files.file_name(model.__name__, contract.version)}: "
        "bump schema_version and write a new .avsc instead of editing the published one"
    )


def test_every_avsc_file_belongs_to_a_model() -> None:
    stems = set(avro_files.versions(avro_files.AVRO_DIR))
    assert stems == {avro_files.snake(m.__name__) for m in ALL_EVENTS}


def test_every_event_starts_with_the_envelope_fields() -> None:
    for model in ALL_EVENTS:
        names = list(model.model_fields)
        assert names[:5] == ENVELOPE, model.__name__
        assert "schema_version" in names


def test_event_names_are_unique_and_past_tense_records_in_hub_events() -> None:
    assert len(EVENT_NAMES) == len(set(EVENT_NAMES)) == len(ALL_EVENTS)
    for contract in default_catalog().contracts.values():
        assert contract.current.full_name == f"hub.events.{contract.name}"


def test_domain_enums_become_avro_enums_with_partner_center_spellings() -> None:
    schema = avro_schema(default_catalog().contract("ChargeRated").model)
    charge_type = next(f for f in schema["fields"] if f["name"] == "charge_type")["type"]
    assert charge_type["type"] == "enum"
    assert "cycleCharge" in charge_type["symbols"]
    assert "customerCredit" in charge_type["symbols"]


def test_event_time_is_timestamp_micros_and_money_is_long() -> None:
    schema = avro_schema(default_catalog().contract("OrderHeld").model)
    types = {f["name"]: f["type"] for f in schema["fields"]}
    assert types["event_time"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert types["exposure_minor"] == "long"
    assert types["currency"] == "string"


def test_a_float_field_is_refused() -> None:
    class Priced(BaseModel):
        price: float

    with pytest.raises(TypeError, match=r"Priced\.price"):
        avro_schema(Priced)


def test_model_declaring_a_newer_version_than_its_files_is_refused(tmp_path: Path) -> None:
    class PaymentReceived(Event):
        schema_version: int = 2

    (tmp_path / "payment_received.v1.avsc").write_text(
        json.dumps(avro_schema(PaymentReceived)), encoding="utf-8"
    )
    with pytest.raises(SchemaError, match="declares schema_version 2 but the newest file is v1"):
        Catalog(tmp_path, [PaymentReceived])


def test_write_missing_never_overwrites_a_published_version(tmp_path: Path) -> None:
    model = ALL_EVENTS[0]
    path = tmp_path / avro_files.file_name(model.__name__, 1)
    path.write_text("{}", encoding="utf-8")
    assert write_missing(tmp_path, [model]) == []
    assert path.read_text(encoding="utf-8") == "{}"


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_optional_fields_are_null_unions_with_null_default() -> None:
    schema = avro_schema(default_catalog().contract("OrderRequested").model)
    causation = _field(schema, "causation_id")
    assert causation["type"][0] == "null"
    assert causation["default"] is None


def test_drift_reports_nothing_for_the_shipped_contracts() -> None:
    contracts = default_catalog().contracts.values()
    assert drift((c.model, c.current.text) for c in contracts) == []


def test_drift_reports_a_model_changed_without_a_new_version() -> None:
    class PaymentReceived(Event):
        note: str = ""

    published = default_catalog().contract("PaymentReceived").current.text
    assert drift([(PaymentReceived, published)]) == [
        "PaymentReceived: model and newest .avsc differ; publish a new version with "
        "write_missing instead of editing the published file"
    ]
