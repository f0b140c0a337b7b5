"""The envelope every event carries, and deterministic event ids for derived events."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hub.schemas.types import Identifier, ResellerId, UtcDatetime

# Fixed forever: changing it would give every replayed derived event a new id.
EVENT_ID_NAMESPACE = UUID("6f1d3c2a-8b4e-5f60-9a7b-3c2d1e0f4a5b")


def new_event_id() -> UUID:
    """A fresh id for an event that starts a chain (a reseller's request, a Microsoft file)."""
    return uuid.uuid4()


def derived_event_id(cause_event_id: UUID | str, kind: str, *parts: object) -> UUID:
    """The id of the event ``kind`` derived from ``cause_event_id``: same inputs, same id.

    ``parts`` tell apart several events of one kind from one cause (order line index, customer).
    JSON keeps the join unambiguous: ("a|b",) and ("a", "b") give different ids.
    """
    name = json.dumps([str(cause_event_id), kind, *(str(part) for part in parts)])
    return uuid.uuid5(EVENT_ID_NAMESPACE, name)


class Event(BaseModel):
    """Base of every event: the envelope fields, flattened so partners' tools see plain columns.

    ``reseller_id`` is optional here and required on events that belong to one reseller.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="unique per event; uuid5 of the cause when derived")
    event_time: UtcDatetime = Field(description="when the fact happened, UTC")
    correlation_id: Identifier = Field(description="shared by every event of one business flow")
    causation_id: UUID | None = Field(
        default=None, description="event_id of the event that caused this one"
    )
    reseller_id: ResellerId | None = Field(default=None, description="the reseller it belongs to")
    schema_version: int = Field(default=1, ge=1, description="version of this event's contract")


def caused_by(cause: Event, kind: str, *parts: object) -> dict[str, Any]:
    """Envelope fields of an event derived from ``cause`` (pass ``event_time`` yourself)."""
    return {
        "event_id": derived_event_id(cause.event_id, kind, *parts),
        "correlation_id": cause.correlation_id,
        "causation_id": cause.event_id,
        "reseller_id": cause.reseller_id,
    }
