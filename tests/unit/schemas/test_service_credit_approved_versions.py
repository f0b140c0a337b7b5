"""ServiceCreditApproved v2 (fx_rates) reads what v1 writers sent, and v1 readers read v2."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from hub.errors import ValidationFailed
from hub.schemas.catalog import default_catalog
from hub.schemas.codec import Codec
from hub.schemas.compat import check
from hub.schemas.events.credits import ServiceCreditApproved
from hub.schemas.framing import single_object_header
from hub.schemas.validation import validate

V1_RECORD: dict[str, Any] = {
    "event_id": "6f1c1f35-5b0d-4a4e-9c55-2f1f0c3b8a11",
    "event_time": datetime(2025, 3, 20, tzinfo=UTC),
    "correlation_id": "credit-EX1",
    "causation_id": None,
    "reseller_id": None,
    "schema_version": 1,
    "credit_id": "EX1:exchange",
    "incident_id": "EX1",
    "service": "exchange",
    "region": None,
    "window_start": datetime(2025, 3, 3, 8, tzinfo=UTC),
    "window_end": datetime(2025, 3, 3, 14, tzinfo=UTC),
    "amount_minor": 10_000,
    "percentage_tier": None,
    "currency": "EUR",
    "customer_amounts": [],
}


def test_contract_is_at_v2_and_v2_reads_v1() -> None:
    contract = default_catalog().contract("ServiceCreditApproved")
    assert contract.version == 2
    assert check(contract.versions[2].raw, contract.versions[1].raw) == []


def test_a_v1_encoded_approval_still_decodes_with_no_fx_rates() -> None:
    v1 = default_catalog().contract("ServiceCreditApproved").versions[1]
    body = io.BytesIO()
    schemaless_writer(body, v1.parsed, V1_RECORD)
    event = Codec().decode(single_object_header(v1.fingerprint) + body.getvalue())
    assert isinstance(event, ServiceCreditApproved)
    assert (event.credit_id, event.amount_minor, event.fx_rates) == ("EX1:exchange", 10_000, ())
    assert event.schema_version == 1


def approval_with_rates(*rates: dict[str, Any]) -> ServiceCreditApproved:
    return validate(ServiceCreditApproved, {**V1_RECORD, "schema_version": 2, "fx_rates": rates})


def test_v2_approval_round_trips_its_rates_and_a_v1_reader_skips_them() -> None:
    event = approval_with_rates({"currency": "GBP", "rate": "0.85", "rate_date": date(2025, 3, 1)})
    codec = Codec()
    data = codec.encode(event)
    assert codec.decode(data) == event
    contract = default_catalog().contract("ServiceCreditApproved")
    body = io.BytesIO(data[10:])  # single-object header: 2 marker bytes + 8 fingerprint bytes
    old = schemaless_reader(body, contract.versions[2].parsed, contract.versions[1].parsed)
    assert "fx_rates" not in old
    assert old["amount_minor"] == 10_000


@pytest.mark.parametrize(
    "rates",
    [
        ({"currency": "GBP", "rate": "0", "rate_date": date(2025, 3, 1)},),
        ({"currency": "GBP", "rate": "-1", "rate_date": date(2025, 3, 1)},),
        ({"currency": "EUR", "rate": "1", "rate_date": date(2025, 3, 1)},),
        (
            {"currency": "GBP", "rate": "0.85", "rate_date": date(2025, 3, 1)},
            {"currency": "GBP", "rate": "0.86", "rate_date": date(2025, 3, 1)},
        ),
    ],
    ids=["zero", "negative", "own-currency", "twice"],
)
def test_a_rate_that_cannot_convert_is_refused(rates: tuple[dict[str, Any], ...]) -> None:
    with pytest.raises(ValidationFailed):
        approval_with_rates(*rates)
