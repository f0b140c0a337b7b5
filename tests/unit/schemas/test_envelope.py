"""Envelope rules: deterministic derived ids, UTC event times, causation carried forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ValidationFailed
from hub.schemas.envelope import caused_by, derived_event_id
from hub.schemas.events.orders import OrderAccepted, OrderRequested
from hub.schemas.validation import validate
from tests.support.samples import sample


@given(st.uuids(), st.text(min_size=1), st.lists(st.integers() | st.text()))
def test_derived_event_id_is_the_same_on_replay(
    cause: UUID, kind: str, parts: list[object]
) -> None:
    assert derived_event_id(cause, kind, *parts) == derived_event_id(str(cause), kind, *parts)


def test_derived_event_id_differs_by_kind_and_part() -> None:
    cause = uuid4()
    ids = {
        derived_event_id(cause, "accepted"),
        derived_event_id(cause, "held"),
        derived_event_id(cause, "accepted", 0),
        derived_event_id(cause, "accepted", 1),
        derived_event_id(uuid4(), "accepted"),
    }
    assert len(ids) == 5


def test_derived_event_id_join_is_unambiguous() -> None:
    cause = uuid4()
    assert derived_event_id(cause, "a", "b|c") != derived_event_id(cause, "a", "b", "c")
    assert derived_event_id(cause, "a|b") != derived_event_id(cause, "a", "b")


def test_caused_by_links_the_derived_event_to_its_cause() -> None:
    request = sample("OrderRequested")
    assert isinstance(request, OrderRequested)
    accepted = OrderAccepted(
        **caused_by(request, "accepted"),
        event_time=request.event_time,
        order_id=request.order_id,
        customer_id=request.customer_id,
        lines=request.lines,
        commitment_minor=1,
        currency="EUR",
    )
    assert accepted.causation_id == request.event_id
    assert accepted.correlation_id == request.correlation_id
    assert accepted.reseller_id == request.reseller_id
    assert accepted.event_id == derived_event_id(request.event_id, "accepted")


def test_event_time_in_another_zone_is_normalised_to_utc() -> None:
    data = sample("OrderRequested").model_dump()
    data["event_time"] = datetime(2025, 3, 14, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    event = validate(OrderRequested, data)
    assert event.event_time == datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    assert event.event_time.tzinfo is UTC


def test_naive_event_time_is_rejected() -> None:
    data = sample("OrderRequested").model_dump()
    data["event_time"] = datetime(2025, 3, 14, 11, 0)
    with pytest.raises(ValidationFailed, match=r"event_time=.*must be timezone-aware"):
        validate(OrderRequested, data)


def test_reseller_id_is_required_on_reseller_events() -> None:
    data = sample("OrderRequested").model_dump()
    data["reseller_id"] = None
    with pytest.raises(ValidationFailed, match="reseller_id=None"):
        validate(OrderRequested, data)
