"""Support topics beyond the fixed catalogue: desk queues, and the internal command framing.

Desk queue topics are named by ``routing.desk_queue`` under the catalogue prefix. Internal
commands (SLA ticks, Microsoft observations) are small JSON documents
marked by a header, carried on support-internal topics that nobody outside the hub reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hub.domain.support.incidents import correlation_key
from hub.domain.support.rota import DeskConfig
from hub.domain.support.routing import desk_queue
from hub.runtime.dead_letter import Headers
from hub.topics import PARTNER_PARTITIONS, TopicCatalog, TopicSpec

COMMAND_HEADER = "hub.support.command"
_FOUR_WEEKS_MS = 28 * 24 * 60 * 60 * 1000


def desk_queues(desk: DeskConfig) -> tuple[str, ...]:
    """Every queue the desk can route to: one per team and language, and the overflow."""
    names = {desk_queue(team.team_id, lang) for team in desk.teams for lang in team.languages}
    return (*sorted(names), desk.overflow_queue)


def desk_queue_topic(catalog: TopicCatalog, queue: str) -> str:
    return f"{catalog.prefix}{queue}"


def desk_queue_specs(catalog: TopicCatalog, desk: DeskConfig) -> tuple[TopicSpec, ...]:
    """Topic specs of the desk queues, to apply next to the catalogue."""
    return tuple(
        TopicSpec(
            desk_queue_topic(catalog, queue),
            "ticket_id",
            ("TicketRouted", "TicketUpdated", "TicketResolved", "SlaWarning", "SlaBreached"),
            f"white-label desk queue {queue}: tickets in the reseller's brand",
            # Read by a desk's systems, never by a hub flow: not co-partitioned with anything.
            partitions=PARTNER_PARTITIONS,
            retention_ms=_FOUR_WEEKS_MS,
            readers=("hub", "ops", "desk"),
            dead_letter=False,
        )
        for queue in desk_queues(desk)
    )


def ticket_correlation_key(service: str, region: str | None) -> str:
    """Tickets without a region still meet per service; they never form an incident."""
    return correlation_key(service, region or "-")


def encode_command(kind: str, body: Mapping[str, Any]) -> tuple[bytes, Headers]:
    return json.dumps({"kind": kind, **body}).encode(), [(COMMAND_HEADER, kind.encode())]


def command_kind(headers: Headers) -> str | None:
    for key, value in headers:
        if key == COMMAND_HEADER:
            return value.decode()
    return None


def decode_command(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise ValueError("a command has a value")
    doc = json.loads(value)
    if not isinstance(doc, dict):
        raise ValueError("a command is a JSON object")
    return doc
