"""The GDAP check escalation makes before filing a service request at Microsoft.

``gdap_hold`` answers None (file it) or what to send instead: a task to the reseller
(``GdapApprovalNeeded`` on its status topic and to the relationships flow, which releases the
ticket once the role is granted), a note on the ticket's queue saying why it waits while its
SLA clock keeps running, and the same task to the support intake agent, whose SLA warnings and
breaches then carry the reason until the escalation is filed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from hub.domain.relationships.gdap import ROLE_NAMES
from hub.domain.support.ticket import Ticket
from hub.runtime.emit import Emit
from hub.schemas.envelope import derived_event_id
from hub.schemas.events.relationships import GdapApprovalNeeded
from hub.schemas.events.support import TicketUpdated
from hub.streams.relationships.gdap_book import GDAP, GdapBook
from hub.topics import PartnerTopic, Topic, TopicCatalog

if TYPE_CHECKING:  # the support flow imports this module: no import back at run time
    from hub.streams.support.records import EscalationRecord

HELD = Counter(
    "hub_support_escalations_held_total",
    "Escalations to Microsoft held for a missing GDAP relationship or support role",
)


def gdap_hold(
    catalog: TopicCatalog,
    record: EscalationRecord,
    ticket: Ticket,
    now: datetime | None = None,
    book: GdapBook = GDAP,
) -> list[Emit] | None:
    """None when the ticket may be filed at Microsoft now, else what to send instead."""
    now = now or datetime.now(UTC)
    access = book.access(ticket.customer_id, now)
    if access is None or access.allowed:
        return None
    HELD.inc()
    role = access.missing_role or ""
    envelope: dict[str, Any] = {
        "event_time": now,
        "correlation_id": record.correlation_id,
        "causation_id": record.cause_event_id,
        "reseller_id": ticket.reseller_id,
    }
    task = GdapApprovalNeeded(
        **envelope,
        event_id=derived_event_id(record.cause_event_id, "relationships.gdap.task", access.reason),
        customer_id=ticket.customer_id,
        ticket_id=ticket.ticket_id,
        correlation_key=record.correlation_key,
        relationship_id=access.relationship_id,
        missing_role=role,
        message=access.reason,
    )
    note = TicketUpdated(
        **envelope,
        event_id=derived_event_id(record.cause_event_id, "relationships.gdap.note", access.reason),
        ticket_id=ticket.ticket_id,
        author="distributor",
        status="attention_needed",
        note=(
            f"Waiting to escalate to Microsoft: {access.reason}. The reseller was asked to have "
            f"the customer approve {ROLE_NAMES.get(role, role)}; the ticket's SLA clock keeps "
            "running meanwhile."
        ),
    )
    out = [
        Emit(catalog.name(Topic.RELATIONSHIP_REQUESTS), ticket.reseller_id, task),
        Emit(catalog.partner(ticket.reseller_id, PartnerTopic.STATUS), ticket.customer_id, task),
        Emit(catalog.name(Topic.SUPPORT_EVENTS), ticket.ticket_id, note),
        # The intake agent keeps the ticket's SLA timer: its warnings and breaches say why it
        # waits (the commands topic is keyed by reseller, like the ticket's own partition).
        Emit(catalog.name(Topic.SUPPORT_TICKET_COMMANDS), ticket.reseller_id, task),
    ]
    if record.destination is not None:
        out.insert(0, Emit(record.destination, ticket.ticket_id, note))
    return out
