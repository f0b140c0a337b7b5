"""Events and outputs kept verbatim in tables, so a redelivery or replay re-sends exactly them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events import ALL_EVENTS

_EVENT_TYPES: dict[str, type[Event]] = {model.__name__: model for model in ALL_EVENTS}


def event_type(name: str) -> type[Event]:
    model = _EVENT_TYPES.get(name)
    if model is None:
        raise SchemaError(f"stored event of unknown type {name!r}")
    return model


class StoredEvent(BaseModel):
    """An emitted event kept verbatim, so a redelivery re-sends exactly the same event."""

    model_config = ConfigDict(frozen=True)

    type: str
    doc: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> StoredEvent:
        return cls(type=type(event).__name__, doc=event.model_dump(mode="json"))

    def event(self) -> Event:
        return event_type(self.type).model_validate(self.doc)


def event_body(event: Event) -> dict[str, Any]:
    """An event as the JSON document ``store_emit`` keeps."""
    return event.model_dump(mode="json")


def store_emit(emit: Emit, body: dict[str, Any] | None = None) -> list[Any]:
    """An output as a JSON document: ``[topic, key, event type, event]``; ``body``: the event's
    ``event_body`` when it is made already (one event sent to several topics)."""
    event = event_body(emit.event) if body is None else body
    return [emit.topic, emit.key, type(emit.event).__name__, event]


def restore_emit(doc: list[Any]) -> Emit:
    topic, key, name, body = doc
    return Emit(topic, key, event_type(name).model_validate(body))
