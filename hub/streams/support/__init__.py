"""The support flow's agents: intake and routing, SLA timers, escalation and incidents.

Design. Two agents own all state, each over topics co-partitioned with its tables:
- ``support.intake`` reads ``reseller.tickets`` and ``hub.support.ticket-commands`` (both keyed
  by reseller id): routes tickets, holds the SLA timer of each ticket (``support-intake-state``).
- ``support.escalation`` reads ``hub.support.correlation`` (keyed by service and region):
  correlates incidents, opens Microsoft service requests, relays Microsoft's changes
  (``support-escalation-state``).
Each agent writes its one table only through its journal (hub/runtime/journal.py), events and
internal commands alike. Faust timers run outside any event, where a table write has no
partition, so timers never write: the SLA timer sends a tick command to each partition of the
ticket-commands topic this worker owns, and the Microsoft poller sends what it observed to the
correlation topic under the request's key. The agents then evaluate and write the flags in the
same journaled message as the facts they emit, so a restarted worker resumes from the
changelog: a pending breach still fires, a tick cut short by a crash re-sends what it fired,
and a fired one never fires again. Event ids are derived, so a redelivery repeats the same ids
at most.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust

from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.domain.enums import Severity
from hub.errors import HubError
from hub.runtime.dead_letter import SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal, deliver
from hub.runtime.pipeline import Pipeline, event_headers
from hub.schemas.envelope import Event
from hub.schemas.events.support import IncidentResolutionRequested
from hub.streams import ingress
from hub.streams.context import Context
from hub.streams.lifecycle import close_at_shutdown
from hub.streams.support import metrics
from hub.streams.support.config import SupportConfig
from hub.streams.support.escalation import Escalations
from hub.streams.support.intake import Intake, IntakeState, TickCommands
from hub.streams.support.microsoft import PartnerCenterServiceRequests
from hub.streams.support.records import escalation_key
from hub.streams.support.topics import (
    command_kind,
    decode_command,
    encode_command,
    ticket_correlation_key,
)
from hub.topics import Topic

log = logging.getLogger(__name__)


async def _send(ctx: Context, emits: Sequence[Emit]) -> None:
    encoded = [(e, ctx.codec.encode(e.event)) for e in emits]
    for emit, value in encoded:
        await ctx.send(emit.topic, emit.key.encode(), value, event_headers(emit.event))


def _multi_topic(app: faust.App, *names: str) -> Any:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


async def _drive(
    stream: Any,
    ctx: Context,
    pipeline: Pipeline,
    handler: Any,
    on_command: Any,
    journal: Journal | None = None,
    idle: Callable[[str, dict[str, Any], int], bool] | None = None,
) -> None:
    """Events go through the pipeline; internal commands through ``on_command``, and a command
    that fails is dead-lettered like any message. With a ``journal`` (the pipeline's), each
    command's writes and outputs are kept first too, under its position (hub/runtime/journal.py).
    A command ``idle`` says has nothing to do is skipped: no journal entry for an idle tick.
    """
    async for source in pipeline.messages(stream):
        kind = command_kind(source.headers)
        position = f"@{source.topic}:{source.partition}:{source.offset}"

        def kept(
            run: Callable[[], Awaitable[Sequence[Emit]]],
            at: SourceMessage = source,
            position: str = position,
        ) -> Awaitable[Sequence[Emit]]:
            if journal is None:
                return run()
            return journal.run(at.partition, position, run)

        def skipped(
            kind: str, doc: dict[str, Any], at: SourceMessage = source, position: str = position
        ) -> bool:
            if idle is None:
                return False
            if journal is not None:
                # The last entry completed first, so ``idle`` reads every write made; and a
                # command handled before (a redelivery) is never idle: what it sent goes again.
                journal.recover(at.partition)
                if journal.kept(at.partition, position) is not None:
                    return False
            return idle(kind, doc, at.partition)

        if kind is None:

            async def handle(event: Event, partition: int = source.partition) -> Sequence[Emit]:
                result: Sequence[Emit] = await handler(event, partition)
                return result

            await pipeline.process(source, handle)
        else:
            try:
                doc = decode_command(source.value)
                if skipped(kind, doc):
                    continue
                command = partial(on_command, kind, doc, source.partition)
                emits = await kept(command)
                await deliver(journal, partial(_send, ctx, emits))
            except Exception as exc:  # noqa: BLE001 - a failed command is dead-lettered, never lost
                await deliver(journal, partial(pipeline.dead_letters.send, source, exc))


def register(app: faust.App, ctx: Context) -> None:
    """Registers the support agents and timers on ``app``."""
    config = SupportConfig()
    catalog = ctx.topics
    # Tickets, their due timers and open counts: one table, written through the intake journal.
    intake_journal = ctx.journal("support-intake")
    # The escalation agent's handlers write tickets, incidents and correlation state across
    # external calls: its one state table is written through its journal (hub/runtime/journal.py).
    journal = ctx.journal("support-escalation")
    records, correlations = journal.view("records"), journal.view("correlations")
    intake = Intake(catalog, config, ctx.reference.view, IntakeState.of(intake_journal))
    microsoft = PartnerCenterServiceRequests(PartnerCenterConfig.from_settings(ctx.settings))
    close_at_shutdown(app, microsoft.stop)
    escalations = Escalations(catalog, config, ctx.reference.view, records, correlations, microsoft)
    commands_topic = catalog.name(Topic.SUPPORT_TICKET_COMMANDS)
    correlation_topic = catalog.name(Topic.SUPPORT_CORRELATION)

    ticks = TickCommands(intake)

    @app.agent(
        _multi_topic(app, catalog.name(Topic.TICKETS), commands_topic),
        name="support.intake",
        concurrency=1,
    )
    async def intake_agent(stream: Any) -> None:
        # Tickets pass the ingress gate (hub/streams/ingress/__init__.py); the commands topic is
        # the hub's.
        pipeline = ingress.gated(
            ctx, Topic.TICKETS, ctx.pipeline("support.intake", journal=intake_journal)
        )
        await _drive(stream, ctx, pipeline, intake.handle, ticks, intake_journal, ticks.idle)

    async def escalation_command(kind: str, doc: dict[str, Any], partition: int) -> list[Emit]:
        return await escalations.command({**doc, "kind": kind}, partition, datetime.now(UTC))

    @app.agent(ctx.source(Topic.SUPPORT_CORRELATION), name="support.escalation", concurrency=1)
    async def escalation_agent(stream: Any) -> None:
        # Not batched: its handlers open and update service requests with Microsoft.
        pipeline = ctx.pipeline("support.escalation", journal=journal, batched=False)
        await _drive(stream, ctx, pipeline, escalations.handle, escalation_command, journal)

    async def resolve_incident(event: Event) -> Sequence[Emit]:
        # The incident's state lives with its service and region: route the command there.
        if not isinstance(event, IncidentResolutionRequested):
            return []
        return [Emit(correlation_topic, ticket_correlation_key(event.service, event.region), event)]

    ctx.on_ops_command(IncidentResolutionRequested, resolve_incident)

    @app.timer(interval=config.sla_tick_s)  # type: ignore[untyped-decorator]
    async def sla_ticks() -> None:
        value, headers = encode_command("sla_tick", {"now": datetime.now(UTC).isoformat()})
        owned = [
            tp.partition for tp in app.assignor.assigned_actives() if tp.topic == commands_topic
        ]
        for partition in owned:
            await ctx.raw_topic(commands_topic).send(
                key=None, value=value, partition=partition, headers=headers
            )
        counts = intake.open_by_severity(owned)
        for severity in Severity:
            metrics.OPEN_TICKETS.labels(severity=severity.value).set(counts.get(severity.value, 0))

    @app.timer(interval=config.poll_s)  # type: ignore[untyped-decorator]
    async def poll_microsoft() -> None:
        for record in escalations.open_requests():
            try:
                observed = await microsoft.get(
                    record.sr_id or "", correlation_id=record.correlation_id
                )
            except HubError as exc:
                log.warning("service request %s not polled: %s", record.sr_id, exc)
                continue
            if observed.status == record.sr_status and len(observed.notes) == record.note_count:
                continue
            value, headers = encode_command(
                "sr_observed",
                {
                    "ref": escalation_key(record.kind, record.ref),
                    "sr_id": observed.sr_id,
                    "status": observed.status,
                    "notes": list(observed.notes),
                },
            )
            await ctx.send(correlation_topic, record.correlation_key.encode(), value, headers)
