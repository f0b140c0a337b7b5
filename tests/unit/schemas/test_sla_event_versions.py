"""SlaWarning and SlaBreached v2 (why the ticket waits) read v1 data, and v1 readers read v2."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from hub.schemas.catalog import default_catalog
from hub.schemas.codec import Codec
from hub.schemas.compat import check_full
from hub.schemas.envelope import Event
from hub.schemas.events.support import SlaBreached, SlaWarning
from hub.schemas.framing import single_object_header
from hub.schemas.validation import validate

V1_RECORD: dict[str, Any] = {
    "event_id": "6f1c1f35-5b0d-4a4e-9c55-2f1f0c3b8a12",
    "event_time": datetime(2025, 3, 12, 10, 48, tzinfo=UTC),
    "correlation_id": "c-1",
    "causation_id": None,
    "reseller_id": "own",
    "schema_version": 1,
    "ticket_id": "t-1",
    "severity": "critical",
    "target": "initial_response",
    "due_at": datetime(2025, 3, 12, 11, tzinfo=UTC),
}
SECONDS = {SlaWarning: "remaining_seconds", SlaBreached: "overdue_seconds"}
MODELS = pytest.mark.parametrize("model", [SlaWarning, SlaBreached], ids=lambda m: m.__name__)


def _v1(model: type[Event]) -> dict[str, Any]:
    return {**V1_RECORD, SECONDS[model]: 720}


@MODELS
def test_contract_is_at_v2_and_both_versions_read_each_other(model: type[Event]) -> None:
    contract = default_catalog().contract(model.__name__)
    assert contract.version == 2
    assert check_full(contract.versions[2].raw, contract.versions[1].raw) == []


@MODELS
def test_a_v1_encoded_event_still_decodes_without_a_reason(model: type[Event]) -> None:
    v1 = default_catalog().contract(model.__name__).versions[1]
    body = io.BytesIO()
    schemaless_writer(body, v1.parsed, _v1(model))
    event = Codec().decode(single_object_header(v1.fingerprint) + body.getvalue())
    assert isinstance(event, model)
    assert (event.waiting_for, event.waiting_reason) == (None, None)  # type: ignore[attr-defined]
    assert event.schema_version == 1


@MODELS
def test_a_v2_reason_round_trips_and_a_v1_reader_skips_it(model: type[Event]) -> None:
    event = validate(
        model,
        {
            **_v1(model),
            "schema_version": 2,
            "waiting_for": "gdap_support_role",
            "waiting_reason": "Escalation waits for Contoso to approve a role",
        },
    )
    codec = Codec()
    data = codec.encode(event)
    assert codec.decode(data) == event
    contract = default_catalog().contract(model.__name__)
    body = io.BytesIO(data[10:])  # single-object header: 2 marker bytes + 8 fingerprint bytes
    old = schemaless_reader(body, contract.versions[2].parsed, contract.versions[1].parsed)
    assert "waiting_for" not in old
    assert old["ticket_id"] == "t-1"
