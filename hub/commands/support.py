"""`hub support ...` commands: the queue view (rebuilt from topics) and incident resolution."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from hub.commands import Subcommands, add_output_flag, emit, say
from hub.connectors.kafka_auth import auth_from_settings
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.streams.support.queues import QueueReport


async def _queues(settings: Settings) -> QueueReport:
    from hub.connectors.kafka_io import read_all
    from hub.schemas.codec import Codec
    from hub.streams.support.queues import queue_report
    from hub.topics import Topic

    catalog = settings.catalog
    codec = Codec()
    events = []
    for topic in (Topic.TICKETS, Topic.SUPPORT_EVENTS):
        for record in await read_all(
            settings.kafka_bootstrap_servers, catalog.name(topic), auth=auth_from_settings(settings)
        ):
            try:
                events.append(codec.decode(record.value or b""))
            except Exception:  # noqa: BLE001, S112 - a bad record is the pipeline's to dead-letter
                continue
    return queue_report(events)


def _show_queues(args: argparse.Namespace, settings: Settings) -> int:
    report = asyncio.run(_queues(settings))
    doc = {
        "open": [
            {"queue": q, "language": lang, "severity": s, "open": n}
            for (q, lang, s), n in sorted(report.open.items())
        ],
        "breaches": [
            {"queue": q, "severity": s, "breaches": n}
            for (q, s), n in sorted(report.breaches.items())
        ],
    }
    emit(args, doc, report.to_markdown)
    return 0


async def _send_resolve(settings: Settings, incident_id: str, requested_by: str) -> None:
    """Publish the contract `IncidentResolutionRequested`, routed by the incident's service."""
    from datetime import UTC, datetime

    from hub.app import build_codec
    from hub.connectors.kafka_io import Outgoing, publish, read_all
    from hub.errors import ValidationFailed
    from hub.schemas.envelope import new_event_id
    from hub.schemas.events.support import IncidentDetected, IncidentResolutionRequested
    from hub.topics import Topic

    catalog = settings.catalog
    codec = build_codec(settings)
    incident = None
    for record in await read_all(
        settings.kafka_bootstrap_servers,
        catalog.name(Topic.INCIDENTS),
        auth=auth_from_settings(settings),
    ):
        event = codec.decode(record.value) if record.value else None
        if isinstance(event, IncidentDetected) and event.incident_id == incident_id:
            incident = event
    if incident is None:
        raise ValidationFailed("incident_id", incident_id, "no such incident was detected")
    command = IncidentResolutionRequested(
        event_id=new_event_id(),
        event_time=datetime.now(UTC),
        correlation_id=incident.correlation_id,
        causation_id=incident.event_id,
        incident_id=incident_id,
        service=incident.service,
        region=incident.region,
        requested_by=requested_by,
    )
    topic = catalog.name(Topic.OPS_COMMANDS)
    await publish(
        settings.kafka_bootstrap_servers,
        codec,
        [Outgoing(topic, incident_id, command)],
        auth=auth_from_settings(settings),
    )


def _resolve_incident(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_send_resolve(settings, args.incident_id, args.requested_by))
    say(f"asked the hub to resolve incident {args.incident_id} and its linked tickets")
    return 0


def add_commands(commands: Subcommands) -> None:
    """``hub support queues`` and ``hub support resolve-incident <id>``."""
    support = commands.add_parser("support", help="support desk: queues and incidents")
    actions = support.add_subparsers(dest="support_command", required=True, metavar="ACTION")
    queues = actions.add_parser(
        "queues", help="open tickets per queue, language and severity, and SLA breaches"
    )
    add_output_flag(queues)
    queues.set_defaults(handler=_show_queues)
    resolve = actions.add_parser(
        "resolve-incident", help="resolve an incident and every ticket linked to it"
    )
    resolve.add_argument("incident_id")
    resolve.add_argument("--requested-by", default="ops", help="who resolves (audit trail)")
    resolve.set_defaults(handler=_resolve_incident)
