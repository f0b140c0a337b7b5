"""Support events: tickets, white-label routing, escalation to Microsoft, SLA timers, incidents."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from hub.domain.enums import Severity, SupportMode, TicketCategory
from hub.domain.reference import Brand
from hub.schemas.envelope import Event
from hub.schemas.types import Identifier, NonNegative, ResellerId, Text, UtcDatetime

_LANGUAGE = r"^[a-z]{2}(-[A-Z]{2})?$"

Desk = Literal["reseller", "distributor"]
Author = Literal["customer", "reseller", "distributor", "microsoft"]
TicketStatus = Literal["open", "attention_needed", "waiting_on_customer", "escalated", "closed"]
SlaTarget = Literal["initial_response", "resolution"]


class TicketOpened(Event):
    """A reseller's customer opened a ticket."""

    reseller_id: ResellerId
    ticket_id: Identifier
    customer_id: Identifier
    title: Text
    description: Text
    category: TicketCategory
    severity: Severity
    language: str = Field(pattern=_LANGUAGE)
    service: Identifier = Field(description="affected Microsoft service, e.g. 'exchange'")
    region: str | None = None


class TicketRouted(Event):
    """The ticket went to a queue: the reseller's own, or the distributor's desk in its brand."""

    reseller_id: ResellerId
    ticket_id: Identifier
    desk: Desk
    support_mode: SupportMode
    queue: Identifier
    team: Identifier = Field(description="the team on duty for that hour")
    language: str = Field(pattern=_LANGUAGE)
    brand: Brand | None = Field(default=None, description="set when the distributor answers")
    respond_by: UtcDatetime

    @model_validator(mode="after")
    def _brand_on_distributor_desk(self) -> Self:
        if self.desk == "distributor" and self.brand is None:
            raise ValueError(
                "a ticket routed to the distributor's desk carries the reseller's brand"
            )
        return self


class TicketEscalated(Event):
    """The ticket was escalated to Microsoft as a service request (possibly via an incident)."""

    reseller_id: ResellerId
    ticket_id: Identifier
    severity: Severity
    reason: Text
    service_request_id: str | None = Field(default=None, description="Microsoft's request id")
    incident_id: str | None = None
    support_topic_id: str | None = None


class TicketUpdated(Event):
    """Someone added a note or changed the status or severity."""

    reseller_id: ResellerId
    ticket_id: Identifier
    author: Author
    status: TicketStatus
    note: str = ""
    severity: Severity | None = None


class TicketResolved(Event):
    """The ticket is closed with a resolution."""

    reseller_id: ResellerId
    ticket_id: Identifier
    resolution: Text
    resolved_by: Author
    first_response_at: UtcDatetime | None = None


class SlaWarning(Event):
    """An SLA target is close: ``remaining_seconds`` left before ``due_at``. v2 adds why the
    ticket waits (``waiting_for``, ``waiting_reason``) while something outside the desk holds it."""

    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")

    reseller_id: ResellerId
    ticket_id: Identifier
    severity: Severity
    target: SlaTarget
    due_at: UtcDatetime
    remaining_seconds: NonNegative
    waiting_for: str | None = Field(
        default=None, description="why the ticket waits, e.g. 'gdap_support_role'; null if not"
    )
    waiting_reason: str | None = Field(
        default=None, description="one line naming what must happen for the ticket to move on"
    )


class SlaBreached(Event):
    """An SLA target passed without the response or resolution it asks for. v2 adds why the
    ticket waits (``waiting_for``, ``waiting_reason``) while something outside the desk holds it."""

    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")

    reseller_id: ResellerId
    ticket_id: Identifier
    severity: Severity
    target: SlaTarget
    due_at: UtcDatetime
    overdue_seconds: NonNegative
    waiting_for: str | None = Field(
        default=None, description="why the ticket waits, e.g. 'gdap_support_role'; null if not"
    )
    waiting_reason: str | None = Field(
        default=None, description="one line naming what must happen for the ticket to move on"
    )


class IncidentDetected(Event):
    """Many tickets about one service and region in a short window: one incident."""

    incident_id: Identifier
    service: Identifier
    region: str | None = None
    severity: Severity
    window_start: UtcDatetime
    window_end: UtcDatetime
    ticket_ids: tuple[str, ...] = Field(min_length=1)
    reseller_ids: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.window_end < self.window_start:
            raise ValueError("window_end must not be before window_start")
        return self


class IncidentResolutionRequested(Event):
    """Ops ask the hub to resolve an incident and every ticket linked to it."""

    incident_id: Identifier
    service: Identifier = Field(description="the incident's service: where its state lives")
    region: str | None = None
    requested_by: Identifier
    note: Text = "Resolved by the distributor's desk"


EVENTS: tuple[type[Event], ...] = (
    TicketOpened,
    TicketRouted,
    TicketEscalated,
    TicketUpdated,
    TicketResolved,
    SlaWarning,
    SlaBreached,
    IncidentDetected,
    IncidentResolutionRequested,
)
