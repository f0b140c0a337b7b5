"""A ticket whose escalation is held for GDAP: the intake agent's SLA events say why it waits,
other tickets' say nothing, and the escalation agent tells intake when the hold ends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.domain.enums import Severity, TicketCategory
from hub.domain.support.ticket import Ticket
from hub.runtime.emit import Emit
from hub.runtime.state import MemoryStore
from hub.schemas.events.relationships import GdapApprovalNeeded
from hub.schemas.events.support import (
    SlaBreached,
    SlaWarning,
    TicketEscalated,
    TicketOpened,
    TicketUpdated,
)
from hub.streams.support import escalation as escalation_module
from hub.streams.support.intake import Intake
from hub.streams.support.records import EscalationRecord
from hub.topics import Topic
from tests.unit.streams.test_support_handlers import (
    CATALOG,
    SUPPORT,
    T0,
    escalations,
    events_of,
    intake,
    journaled_intake,
    opened,
)

COMMANDS = CATALOG.name(Topic.SUPPORT_TICKET_COMMANDS)
CORRELATION = CATALOG.name(Topic.SUPPORT_CORRELATION)
# A critical ticket's first response is due in 2 h; the warning comes at 80 % of it.
WARNED = timedelta(minutes=100)
BREACHED = timedelta(hours=2, minutes=30)
ROLE = "f023fd81-a637-4b56-95fd-791ac0226033"  # Service Support Administrator


def task(ticket: TicketOpened, at: datetime = T0) -> GdapApprovalNeeded:
    return GdapApprovalNeeded(
        event_id=uuid.uuid4(),
        event_time=at,
        correlation_id=ticket.correlation_id,
        reseller_id=ticket.reseller_id,
        customer_id=ticket.customer_id,
        ticket_id=ticket.ticket_id,
        correlation_key="exchange|eu-west",
        missing_role=ROLE,
        message="no active GDAP relationship grants a support role",
    )


def escalated(ticket: TicketOpened) -> TicketEscalated:
    return TicketEscalated(
        event_id=uuid.uuid4(),
        event_time=T0,
        correlation_id=ticket.correlation_id,
        reseller_id=ticket.reseller_id,
        ticket_id=ticket.ticket_id,
        severity=ticket.severity,
        reason="severity_critical",
        service_request_id="sr-1",
    )


def _sla(emits: list[Emit]) -> list[Any]:
    return [*events_of(emits, SlaWarning, SUPPORT), *events_of(emits, SlaBreached, SUPPORT)]


async def test_sla_events_of_a_ticket_held_for_gdap_say_why_it_waits() -> None:
    handler = intake()
    held = opened(severity=Severity.CRITICAL)
    normal = opened(severity=Severity.CRITICAL)
    await handler.handle(held, 0)
    await handler.handle(normal, 0)
    assert await handler.handle(task(held), 0) == []

    emits = handler.tick(0, T0 + WARNED)
    emits += handler.tick(0, T0 + BREACHED)

    held_sla = [e for e in _sla(emits) if e.ticket_id == held.ticket_id]
    assert {type(e) for e in held_sla} == {SlaWarning, SlaBreached}
    for event in held_sla:
        assert event.waiting_for == "gdap_support_role"
        assert "c-own" in (event.waiting_reason or "")  # the customer's name in reference data
        assert "Service Support Administrator" in (event.waiting_reason or "")
    # The ticket's own queue hears the same reason as ops.
    on_queue = [e.event for e in emits if e.topic != SUPPORT and e.key == held.ticket_id]
    assert {e.waiting_for for e in on_queue} == {"gdap_support_role"}
    normal_sla = [e for e in _sla(emits) if e.ticket_id == normal.ticket_id]
    assert {type(e) for e in normal_sla} == {SlaWarning, SlaBreached}
    assert all(e.waiting_for is None and e.waiting_reason is None for e in normal_sla)


async def test_once_filed_the_ticket_no_longer_waits() -> None:
    handler = intake()
    ticket = opened(severity=Severity.CRITICAL)
    await handler.handle(ticket, 0)
    await handler.handle(task(ticket), 0)

    warned = handler.tick(0, T0 + WARNED)
    await handler.handle(escalated(ticket), 0)
    breached = handler.tick(0, T0 + BREACHED)

    assert [w.waiting_for for w in events_of(warned, SlaWarning, SUPPORT)] == ["gdap_support_role"]
    (breach,) = events_of(breached, SlaBreached, SUPPORT)
    assert (breach.waiting_for, breach.waiting_reason) == (None, None)


async def test_a_hold_for_a_ticket_already_closed_and_gone_is_ignored() -> None:
    handler = intake()
    ticket = opened()

    assert await handler.handle(task(ticket), 0) == []
    assert await handler.handle(escalated(ticket), 0) == []
    assert handler.tickets == {}


async def test_the_wait_is_kept_in_the_intake_journal_and_survives_a_restart() -> None:
    store = MemoryStore()
    journal, first = journaled_intake(store)
    ticket = opened(severity=Severity.CRITICAL)
    await journal.run(0, "opened", lambda: first.handle(ticket, 0))
    await journal.run(0, "held", lambda: first.handle(task(ticket), 0))

    journal, restarted = journaled_intake(store)
    emits = await journal.run(0, "tick", lambda: _tick(restarted, T0 + WARNED))

    assert [w.waiting_for for w in events_of(emits, SlaWarning, SUPPORT)] == ["gdap_support_role"]


async def _tick(handler: Intake, now: datetime) -> list[Emit]:
    return handler.tick(0, now)


async def test_escalation_tells_intake_the_hold_and_its_end_in_the_tickets_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grants: list[bool] = [False]

    def hold(catalog: Any, record: EscalationRecord, ticket: Ticket) -> list[Emit] | None:
        if grants[-1]:
            return None
        gate = GdapApprovalNeeded(
            event_id=uuid.uuid4(),
            event_time=T0,
            correlation_id=record.correlation_id,
            reseller_id=ticket.reseller_id,
            customer_id=ticket.customer_id,
            ticket_id=ticket.ticket_id,
            correlation_key=record.correlation_key,
            missing_role=ROLE,
            message="no support role",
        )
        return [Emit(catalog.name(Topic.SUPPORT_TICKET_COMMANDS), ticket.reseller_id, gate)]

    monkeypatch.setattr(escalation_module, "gdap_hold", hold)
    handler, fake = escalations()
    ticket = opened(category=TicketCategory.BUG, severity=Severity.CRITICAL)
    routed = await intake().handle(ticket, 0)
    held: list[Emit] = []
    for emit in routed:
        if emit.topic == CORRELATION:
            held += await handler.handle(emit.event, 0)
    assert not fake.created
    assert [(e.topic, e.key) for e in held] == [(COMMANDS, "own")]

    grants.append(True)
    release = TicketUpdated(
        event_id=uuid.uuid4(),
        event_time=T0,
        correlation_id="c-1",
        reseller_id="own",
        ticket_id=ticket.ticket_id,
        author="distributor",
        status="escalated",
    )
    filed = await handler.handle(release, 0)

    assert len(fake.created) == 1
    told = [e for e in filed if e.topic == COMMANDS]
    assert [(e.key, type(e.event)) for e in told] == [("own", TicketEscalated)]


async def test_a_ticket_never_held_sends_intake_nothing_when_filed() -> None:
    handler, fake = escalations()
    ticket = opened(category=TicketCategory.BUG, severity=Severity.CRITICAL)
    routed = await intake().handle(ticket, 0)
    filed: list[Emit] = []
    for emit in routed:
        if emit.topic == CORRELATION:
            filed += await handler.handle(emit.event, 0)

    assert len(fake.created) == 1
    assert not [e for e in filed if e.topic == COMMANDS]
