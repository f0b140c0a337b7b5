"""Escalation to Microsoft and incident correlation, where tickets of one service and region meet.

Runs inside the agent of ``hub.support.correlation`` (keyed by service and region), so the
correlation state and the escalation records of every ticket of that key share one partition.
A Microsoft service request is opened at most once per ticket or incident: the record is
written with its idempotency key before the call, and a retry sends the same key.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from hub.domain.orders import ReferenceView
from hub.domain.support.escalation import (
    build_incident_service_request,
    build_service_request,
    decide_escalation,
)
from hub.domain.support.incidents import (
    CorrelationState,
    IncidentEscalationRequested,
    TicketLinkedToIncident,
    TicketResolvedByIncident,
    correlate,
    find_incident,
    resolve_incident,
)
from hub.domain.support.incidents import IncidentDetected as IncidentFact
from hub.domain.support.ticket import Ticket
from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, derived_event_id
from hub.schemas.events.support import (
    IncidentDetected,
    IncidentResolutionRequested,
    TicketEscalated,
    TicketOpened,
    TicketResolved,
    TicketRouted,
    TicketStatus,
    TicketUpdated,
)
from hub.streams.relationships.escalation_gate import gdap_hold
from hub.streams.support import metrics
from hub.streams.support.config import SupportConfig
from hub.streams.support.microsoft import Observed, ServiceRequests
from hub.streams.support.records import (
    CorrelationRecord,
    EscalationRecord,
    escalation_key,
    to_domain_ticket,
)
from hub.streams.support.topics import ticket_correlation_key
from hub.topics import Topic, TopicCatalog

_STATUS: dict[str, TicketStatus] = {
    "open": "escalated",
    "attention_needed": "attention_needed",
    "closed": "closed",
}


class Escalations:
    """Handlers of the escalation agent; the two tables are dicts in unit tests."""

    def __init__(
        self,
        catalog: TopicCatalog,
        config: SupportConfig,
        reference: Callable[[], ReferenceView],
        records: MutableMapping[str, Any],
        correlations: MutableMapping[str, Any],
        microsoft: ServiceRequests,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.correlation = config.correlation()
        self.mapping = config.topic_mapping()
        self._reference = reference
        self.records = records
        self.correlations = correlations
        self.microsoft = microsoft
        self._events = catalog.name(Topic.SUPPORT_EVENTS)

    # -- table helpers ---------------------------------------------------------------------

    def _get(self, key: str) -> EscalationRecord | None:
        doc = self.records.get(key)
        return None if doc is None else EscalationRecord.model_validate(doc)

    def _put(self, record: EscalationRecord) -> EscalationRecord:
        self.records[escalation_key(record.kind, record.ref)] = record.model_dump(mode="json")
        return record

    def _ticket(self, ticket_id: str) -> EscalationRecord:
        record = self._get(escalation_key("ticket", ticket_id))
        if record is None:
            raise ValidationFailed("ticket_id", ticket_id, "not known to the escalation agent")
        return record

    def _to_ticket(self, record: EscalationRecord, emit: Event) -> list[Emit]:
        """An event about one ticket: to its queue (reseller's or desk's) and to ops."""
        emits = [Emit(self._events, record.ref, emit)]
        if record.destination is not None:
            emits.insert(0, Emit(record.destination, record.ref, emit))
        return emits

    def _envelope(self, record: EscalationRecord, kind: str, at: datetime, *parts: object) -> Any:
        return {
            "event_id": derived_event_id(record.cause_event_id, kind, *parts),
            "event_time": at,
            "correlation_id": record.correlation_id,
            "causation_id": record.cause_event_id,
            "reseller_id": record.reseller_id,
        }

    # -- events ----------------------------------------------------------------------------

    async def handle(self, event: Event, partition: int) -> Sequence[Emit]:
        if isinstance(event, TicketRouted):
            return self._routed(event, partition)
        if isinstance(event, TicketOpened):
            return await self._opened(event, partition)
        if isinstance(event, TicketUpdated) and event.status == "escalated":
            return await self._partner_gives_up(event)
        if isinstance(event, IncidentResolutionRequested):
            return await self.resolve(event.incident_id, partition, event.event_time, by="ops")
        raise ValidationFailed("event", type(event).__name__, "not an escalation agent event")

    def _routed(self, event: TicketRouted, partition: int) -> list[Emit]:
        # The routed event says where later updates of the ticket go.
        # Both kinds of queue are topic names under the catalogue prefix.
        destination = f"{self.catalog.prefix}{event.queue}"
        known = self._get(escalation_key("ticket", event.ticket_id))
        if known is None:
            self._put(
                EscalationRecord(
                    ref=event.ticket_id,
                    kind="ticket",
                    correlation_key="",
                    partition=partition,
                    cause_event_id=event.causation_id or event.event_id,
                    correlation_id=event.correlation_id,
                    reseller_id=event.reseller_id,
                    destination=destination,
                )
            )
        return []

    async def _opened(self, event: TicketOpened, partition: int) -> list[Emit]:
        key = ticket_correlation_key(event.service, event.region)
        known = self._get(escalation_key("ticket", event.ticket_id))
        record = EscalationRecord(
            ref=event.ticket_id,
            kind="ticket",
            correlation_key=key,
            partition=partition,
            cause_event_id=event.event_id,
            correlation_id=event.correlation_id,
            reseller_id=event.reseller_id,
            destination=None if known is None else known.destination,
            opened=event.model_dump(mode="json"),
            incident_id=None if known is None else known.incident_id,
            idempotency_key=None if known is None else known.idempotency_key,
            sr_id=None if known is None else known.sr_id,
            sr_status=None if known is None else known.sr_status,
            note_count=0 if known is None else known.note_count,
        )
        self._put(record)
        ticket = to_domain_ticket(event)
        doc = self.correlations.get(key)
        state = CorrelationState() if doc is None else CorrelationRecord.model_validate(doc).state
        new_state, facts = correlate(state, ticket, self.correlation)
        emits = await self._incident_facts(facts, ticket, key, partition, new_state)
        record = self._ticket(event.ticket_id)
        if record.incident_id is None:
            decision = decide_escalation(
                ticket, partner_tier_unresolved=False, already_escalated=record.sr_id is not None
            )
            if decision.escalate:
                emits += await self._escalate_ticket(record, ticket, decision.reason.value)
        self.correlations[key] = CorrelationRecord(partition=partition, state=new_state).model_dump(
            mode="json"
        )
        return emits

    async def _partner_gives_up(self, event: TicketUpdated) -> list[Emit]:
        record = self._ticket(event.ticket_id)
        if record.opened is None or record.incident_id is not None:
            return []
        ticket = to_domain_ticket(TicketOpened.model_validate(record.opened))
        decision = decide_escalation(
            ticket, partner_tier_unresolved=True, already_escalated=record.sr_id is not None
        )
        if not decision.escalate:
            return []
        return await self._escalate_ticket(record, ticket, decision.reason.value)

    async def _escalate_ticket(
        self, record: EscalationRecord, ticket: Ticket, reason: str
    ) -> list[Emit]:
        view = self._reference()
        reseller = view.resellers.get(ticket.reseller_id)
        customer = view.customers.get(ticket.customer_id)
        if reseller is None or customer is None:
            raise ValidationFailed("reseller_id", ticket.reseller_id, "reference data is gone")
        held = gdap_hold(self.catalog, record, ticket)  # no GDAP support role: a task instead
        if held is not None:
            self._put(record.model_copy(update={"gdap_held": True}))
            return held
        payload = build_service_request(ticket, reseller, customer, self.mapping)
        record = self._put(
            record.model_copy(update={"idempotency_key": f"hub-sr-ticket-{ticket.ticket_id}"})
        )
        observed = await self.microsoft.create(
            payload,
            idempotency_key=record.idempotency_key or "",
            correlation_id=record.correlation_id,
        )
        record = self._put(self._observe(record, observed))
        metrics.ESCALATIONS.labels(scope="ticket", severity=ticket.severity.value).inc()
        at = ticket.opened_at
        escalated = TicketEscalated(
            **self._envelope(record, "support.escalated", at),
            ticket_id=ticket.ticket_id,
            severity=ticket.severity,
            reason=reason,
            service_request_id=observed.sr_id,
            support_topic_id=payload.support_topic_id,
        )
        updated = TicketUpdated(
            **self._envelope(record, "support.escalated.update", at),
            ticket_id=ticket.ticket_id,
            author="distributor",
            status="escalated",
            note=f"Escalated to Microsoft as service request {observed.sr_id}",
        )
        emits = [Emit(self._events, ticket.ticket_id, escalated), *self._to_ticket(record, updated)]
        if record.gdap_held:
            # The intake agent keeps the SLA timer and the wait it reports: tell it, in the
            # ticket's own partition, that the ticket no longer waits for GDAP.
            commands = self.catalog.name(Topic.SUPPORT_TICKET_COMMANDS)
            emits.append(Emit(commands, ticket.reseller_id, escalated))
        return emits

    @staticmethod
    def _observe(record: EscalationRecord, observed: Observed) -> EscalationRecord:
        return record.model_copy(
            update={
                "sr_id": observed.sr_id,
                "sr_status": observed.status,
                "note_count": len(observed.notes),
            }
        )

    # -- incidents -------------------------------------------------------------------------

    async def _incident_facts(
        self,
        facts: Sequence[object],
        ticket: Ticket,
        key: str,
        partition: int,
        state: CorrelationState,
    ) -> list[Emit]:
        at = ticket.opened_at
        emits: list[Emit] = []
        incident: EscalationRecord | None = None
        for fact in facts:
            if isinstance(fact, IncidentFact):
                incident = self._put(
                    EscalationRecord(
                        ref=fact.incident_id,
                        kind="incident",
                        correlation_key=key,
                        partition=partition,
                        cause_event_id=derived_event_id(fact.incident_id, "support.incident"),
                        correlation_id=f"incident-{fact.incident_id}",
                        ticket_ids=fact.ticket_ids,
                    )
                )
                resellers = sorted(
                    {self._ticket(t).reseller_id or "" for t in fact.ticket_ids} - {""}
                )
                detected = IncidentDetected(
                    **self._envelope(incident, "support.incident.detected", at),
                    incident_id=fact.incident_id,
                    service=fact.service,
                    region=fact.region,
                    severity=fact.severity,
                    window_start=fact.window_start,
                    window_end=fact.detected_at,
                    ticket_ids=fact.ticket_ids,
                    reseller_ids=tuple(resellers),
                )
                emits.append(Emit(self.catalog.name(Topic.INCIDENTS), fact.incident_id, detected))
                metrics.INCIDENTS_DETECTED.labels(severity=fact.severity.value).inc()
            elif isinstance(fact, IncidentEscalationRequested):
                incident = await self._escalate_incident(fact, ticket, state)
            elif isinstance(fact, TicketLinkedToIncident):
                incident = incident or self._get(escalation_key("incident", fact.incident_id))
                emits += self._link(fact, incident, at)
        return emits

    async def _escalate_incident(
        self, fact: IncidentEscalationRequested, ticket: Ticket, state: CorrelationState
    ) -> EscalationRecord:
        record = self._get(escalation_key("incident", fact.incident_id))
        if record is None:
            raise ValidationFailed("incident_id", fact.incident_id, "escalated before detected")
        if record.sr_id is not None:
            return record
        customer = self._reference().customers.get(ticket.customer_id)
        country = customer.country if customer is not None else "US"
        incident = find_incident(state, fact.incident_id)
        if incident is None:
            raise ValidationFailed("incident_id", fact.incident_id, "not in the correlation state")
        payload = build_incident_service_request(
            incident,
            self.mapping,
            product_name=fact.service,
            country_code=country,
        )
        record = self._put(
            record.model_copy(update={"idempotency_key": f"hub-sr-incident-{fact.incident_id}"})
        )
        observed = await self.microsoft.create(
            payload,
            idempotency_key=record.idempotency_key or "",
            correlation_id=record.correlation_id,
        )
        metrics.ESCALATIONS.labels(scope="incident", severity=fact.severity.value).inc()
        return self._put(self._observe(record, observed))

    def _link(
        self, fact: TicketLinkedToIncident, incident: EscalationRecord | None, at: datetime
    ) -> list[Emit]:
        record = self._put(
            self._ticket(fact.ticket_id).model_copy(update={"incident_id": fact.incident_id})
        )
        if incident is not None and fact.ticket_id not in incident.ticket_ids:
            self._put(
                incident.model_copy(update={"ticket_ids": (*incident.ticket_ids, fact.ticket_id)})
            )
        sr_id = None if incident is None else incident.sr_id
        opened = TicketOpened.model_validate(record.opened) if record.opened else None
        severity = opened.severity if opened is not None else None
        link = "support.incident.link"
        updated = TicketUpdated(
            **self._envelope(record, link, at, fact.incident_id),
            ticket_id=fact.ticket_id,
            author="distributor",
            status="escalated",
            note=f"Linked to incident {fact.incident_id}",
        )
        emits = self._to_ticket(record, updated)
        if severity is not None:
            escalated = TicketEscalated(
                **self._envelope(record, link + ".escalated", at, fact.incident_id),
                ticket_id=fact.ticket_id,
                severity=severity,
                reason="incident_escalates",
                service_request_id=sr_id,
                incident_id=fact.incident_id,
            )
            emits.append(Emit(self._events, fact.ticket_id, escalated))
        return emits

    # -- commands --------------------------------------------------------------------------

    async def command(self, doc: dict[str, Any], partition: int, now: datetime) -> list[Emit]:
        kind = doc.get("kind")
        if kind == "sr_observed":
            observed = Observed(
                sr_id=str(doc["sr_id"]),
                status=str(doc["status"]),
                notes=tuple(str(n) for n in doc["notes"]),
            )
            return await self.observed(str(doc["ref"]), observed, now)
        raise ValidationFailed("kind", kind, "not a support escalation command")

    async def observed(self, ref: str, observed: Observed, now: datetime) -> list[Emit]:
        """Microsoft changed a request: tell the tickets, once per change."""
        record = self._get(ref)
        if record is None or record.sr_id != observed.sr_id:
            return []
        if record.sr_status == observed.status and record.note_count == len(observed.notes):
            return []
        fresh = observed.notes[record.note_count :]
        note = "\n".join(fresh) if fresh else f"Microsoft status: {observed.status}"
        record = self._put(self._observe(record, observed))
        if record.kind == "incident":
            if observed.status == "closed":
                return await self.resolve(record.ref, record.partition, now, by="microsoft")
            return [
                e
                for ticket_id in record.ticket_ids
                for e in self._microsoft_update(self._ticket(ticket_id), observed, note, now)
            ]
        return self._microsoft_update(record, observed, note, now)

    def _microsoft_update(
        self, record: EscalationRecord, observed: Observed, note: str, now: datetime
    ) -> list[Emit]:
        parts = (observed.sr_id, observed.status, len(observed.notes))
        updated = TicketUpdated(
            **self._envelope(record, "support.microsoft.update", now, *parts),
            ticket_id=record.ref,
            author="microsoft",
            status=_STATUS.get(observed.status, "escalated"),
            note=note,
        )
        emits = self._to_ticket(record, updated)
        if observed.status == "closed" and record.kind == "ticket":
            emits += self._resolved(record, note, "microsoft", now, observed.sr_id)
        return emits

    def _resolved(
        self, record: EscalationRecord, resolution: str, by: str, now: datetime, ref: str
    ) -> list[Emit]:
        resolved = TicketResolved(
            **self._envelope(record, "support.resolved", now, ref),
            ticket_id=record.ref,
            resolution=resolution[:4000] or "resolved",
            resolved_by="microsoft" if by == "microsoft" else "distributor",
        )
        # The intake agent owns the SLA timer: tell it in the ticket's own partition.
        commands = self.catalog.name(Topic.SUPPORT_TICKET_COMMANDS)
        return [
            *self._to_ticket(record, resolved),
            Emit(commands, record.reseller_id or "", resolved),
        ]

    async def resolve(self, incident_id: str, partition: int, now: datetime, by: str) -> list[Emit]:
        """Resolve an open incident held in ``partition`` and every ticket linked to it."""
        for key, doc in list(self.correlations.items()):
            held = CorrelationRecord.model_validate(doc)
            if held.partition != partition or find_incident(held.state, incident_id) is None:
                continue
            new_state, facts = resolve_incident(held.state, incident_id, now)
            incident = self._get(escalation_key("incident", incident_id))
            if by != "microsoft" and incident is not None and incident.sr_id is not None:
                await self.microsoft.close(
                    incident.sr_id,
                    note="Resolved by the distributor's desk",
                    correlation_id=incident.correlation_id,
                )
            emits: list[Emit] = []
            for fact in facts:
                if isinstance(fact, TicketResolvedByIncident):
                    ticket = self._ticket(fact.ticket_id)
                    text = f"Resolved with incident {incident_id}"
                    emits += self._resolved(ticket, text, by, now, incident_id)
            if incident is not None:
                self._put(incident.model_copy(update={"sr_status": "closed"}))
            self.correlations[key] = CorrelationRecord(
                partition=partition, state=new_state
            ).model_dump(mode="json")
            return emits
        return []

    def open_requests(self) -> list[EscalationRecord]:
        """Requests Microsoft may still change (the poller asks about these)."""
        found = [EscalationRecord.model_validate(doc) for doc in list(self.records.values())]
        return [r for r in found if r.sr_id is not None and r.sr_status != "closed"]
