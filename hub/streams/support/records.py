"""What the support agents keep in their tables, and the contract-to-domain ticket mapping.

Records are pydantic models stored as JSON documents; each remembers the partition it was
written from, because a faust table entry lives in the partition of the message that wrote it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from hub.domain.enums import Severity
from hub.domain.support.incidents import CorrelationState
from hub.domain.support.sla import SlaTimer
from hub.domain.support.ticket import Channel, Ticket
from hub.domain.support.waiting import WaitReason
from hub.schemas.events.support import TicketOpened


def to_domain_ticket(event: TicketOpened) -> Ticket:
    """The contract names the affected service, which stands in for the domain's product."""
    return Ticket(
        ticket_id=event.ticket_id,
        reseller_id=event.reseller_id,
        customer_id=event.customer_id,
        product=event.service,
        category=event.category,
        severity=event.severity,
        language=event.language,
        description=f"{event.title}\n{event.description}",
        channel=Channel.API,
        opened_at=event.event_time,
        service=event.service,
        region=event.region,
    )


class TicketRecord(BaseModel):
    """A ticket as the intake agent knows it: where it went and its SLA timer."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    reseller_id: str
    partition: int
    destination: str
    queue: str
    language: str
    severity: Severity
    status: Literal["open", "closed"] = "open"
    correlation_key: str | None = None
    cause_event_id: UUID
    correlation_id: str
    timer: SlaTimer
    routed: dict[str, object]
    # Set while something outside the desk holds the ticket (an escalation waiting for a GDAP
    # role): its SLA warnings and breaches say so.
    waiting: WaitReason | None = None


class EscalationRecord(BaseModel):
    """A ticket or an incident as the escalation agent knows it, with its Microsoft request."""

    model_config = ConfigDict(frozen=True)

    ref: str
    kind: Literal["ticket", "incident"]
    correlation_key: str
    partition: int
    cause_event_id: UUID
    correlation_id: str
    reseller_id: str | None = None
    destination: str | None = None
    opened: dict[str, object] | None = None
    incident_id: str | None = None
    ticket_ids: tuple[str, ...] = ()
    idempotency_key: str | None = None
    sr_id: str | None = None
    sr_status: str | None = None
    note_count: int = 0
    # The escalation was held for GDAP: filing it tells the intake agent the wait is over.
    gdap_held: bool = False


class CorrelationRecord(BaseModel):
    """The correlation state of one service and region."""

    model_config = ConfigDict(frozen=True)

    partition: int
    state: CorrelationState


def due_key(partition: int, at: datetime, ticket_id: str) -> str:
    """A ticket's next SLA check, keyed so a prefix scan of ``<partition>|`` reads timers in
    deadline order: the instant is UTC, fixed width, so keys sort as time does."""
    return f"{partition}|{due_stamp(at)}|{ticket_id}"


def due_stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def open_key(partition: int, severity: Severity) -> str:
    """Open tickets of one severity in one partition: one small counter each, written with the
    ticket's own changes, so the gauge reads a few values instead of every ticket."""
    return f"{partition}|{severity.value}"


def escalation_key(kind: Literal["ticket", "incident"], ref: str) -> str:
    return f"{kind}:{ref}"
