"""orders.fulfilment's one route table: a parked message is retried as the live route of the
topic it came from would handle it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from hub.runtime.dead_letter import SourceMessage
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.streams import orders


async def _decide(event: Event) -> Sequence[Emit]:
    return []


async def _failed(event: Event, error: Exception, attempts: int) -> Sequence[Emit]:
    return []


async def _change(event: Event) -> Sequence[Emit]:
    return []


async def _command(event: Event) -> Sequence[Emit]:
    return []


def _parked(topic: str) -> SourceMessage:
    return SourceMessage(topic, 0, 1, b"contoso", b"", [])


def test_a_parked_message_goes_to_the_route_of_its_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    admitted: list[tuple[str, Any]] = []

    def admission(original: SourceMessage, gate: Any, handler: Any) -> tuple[Any, Any]:
        admitted.append((original.topic, gate))
        return handler, None

    monkeypatch.setattr(orders.ingress, "admission", admission)
    pipeline: Any = object()
    gate: Any = object()
    table: dict[str, orders.FulfilmentRoute] = {}
    route = orders.parked_route(table, "commands")
    table.update(
        {
            "decisions": orders.FulfilmentRoute(pipeline, _decide, _failed),
            "changes": orders.FulfilmentRoute(pipeline, _change, gate=gate),
            "commands": orders.FulfilmentRoute(pipeline, _command),
        }
    )  # filled after the route was made, as the pipelines that take it need
    assert route(_parked("decisions")) == (_decide, _failed)
    assert route(_parked("changes")) == (_change, None)
    assert admitted == [("changes", gate)]  # through the topic's ingress gate again
    assert route(_parked("commands")) == (_command, None)
    assert route(_parked("elsewhere")) == (_command, None)
