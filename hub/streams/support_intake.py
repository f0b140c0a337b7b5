"""Intake of tickets: validate against reference data, route, start SLA timers, evaluate them.

Runs inside the agent of ``reseller.tickets`` plus ``hub.support.ticket-commands`` (both keyed
by reseller id, same partition count), so every write to the ticket table happens in the
partition the ticket lives in. ``tick`` is driven by tick commands a faust timer sends to each
partition: a timer runs outside any event, where faust cannot tell which partition a table
write belongs to, so the timer only knocks and the agent does the work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from hub.domain.enums import SupportMode
from hub.domain.orders import ReferenceView
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.support.routing import Destination, Route, route_ticket
from hub.domain.support.sla import (
    SlaBreached as SlaBreachFact,
)
from hub.domain.support.sla import (
    SlaClock,
    SlaFact,
    evaluate_sla,
    next_check_at,
    record_resolution,
    record_response,
    start_sla_timer,
)
from hub.domain.support.triage import is_escalatable
from hub.errors import ValidationFailed
from hub.runtime.pipeline import Emit
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event, caused_by, derived_event_id
from hub.schemas.events.support import (
    SlaBreached,
    SlaTarget,
    SlaWarning,
    TicketOpened,
    TicketResolved,
    TicketRouted,
    TicketUpdated,
)
from hub.streams import support_metrics as metrics
from hub.streams.support_config import SupportConfig
from hub.streams.support_records import TicketRecord, to_domain_ticket
from hub.streams.support_topics import desk_queue_topic, desk_queues, ticket_correlation_key
from hub.topics import PartnerTopic, Topic, TopicCatalog

_TARGET: dict[SlaClock, SlaTarget] = {
    SlaClock.FIRST_RESPONSE: "initial_response",
    SlaClock.RESOLUTION: "resolution",
}


class Intake:
    """Handlers of the intake agent; ``tickets`` is its table (a dict in unit tests)."""

    def __init__(
        self,
        catalog: TopicCatalog,
        config: SupportConfig,
        reference: Callable[[], ReferenceView],
        tickets: MutableMapping[str, Any],
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.desk = config.desk()
        self.policy = config.sla_policy()
        self._reference = reference
        self.tickets = tickets
        self._queues = frozenset(desk_queues(self.desk))
        self._languages = frozenset(lang for team in self.desk.teams for lang in team.languages)

    # -- events ----------------------------------------------------------------------------

    async def handle(self, event: Event, partition: int) -> Sequence[Emit]:
        if isinstance(event, TicketOpened):
            return self._opened(event, partition)
        if isinstance(event, TicketUpdated):
            return self._updated(event)
        if isinstance(event, TicketResolved):
            return self._resolved(event)
        raise ValidationFailed("event", type(event).__name__, "not a support intake event")

    def _lookup(self, event: TicketOpened) -> tuple[ResellerProfile, Customer]:
        view = self._reference()
        reseller = view.resellers.get(event.reseller_id)
        if reseller is None:
            raise ValidationFailed("reseller_id", event.reseller_id, "unknown reseller")
        customer = view.customers.get(event.customer_id)
        if customer is None:
            raise ValidationFailed("customer_id", event.customer_id, "unknown customer")
        if customer.reseller_id != reseller.reseller_id:
            # A reseller sees only its own data: never route another reseller's customer.
            raise ValidationFailed(
                "customer_id", event.customer_id, f"not a customer of {event.reseller_id!r}"
            )
        return reseller, customer

    def destination(self, route: Route) -> str:
        if route.destination is Destination.RESELLER_QUEUE:
            return self.catalog.partner(route.reseller_id, PartnerTopic.SUPPORT)
        return desk_queue_topic(self.catalog, route.queue)

    def _opened(self, event: TicketOpened, partition: int) -> list[Emit]:
        known = self.tickets.get(event.ticket_id)
        if known is not None:
            record = TicketRecord.model_validate(known)
            if record.reseller_id != event.reseller_id:
                raise ValidationFailed("ticket_id", event.ticket_id, "taken by another reseller")
            # A redelivery: the same routed event again (same id), no second timer.
            routed = TicketRouted.model_validate(record.routed)
            return self._route_emits(event, record, routed)
        reseller, customer = self._lookup(event)
        ticket = to_domain_ticket(event)
        route = route_ticket(ticket, reseller, customer, self.desk, event.event_time)
        timer = start_sla_timer(ticket.ticket_id, ticket.severity, ticket.opened_at, self.policy)
        own = reseller.support_mode is SupportMode.RESELLER_OWN
        routed = TicketRouted(
            **caused_by(event, "support.routed"),
            event_time=event.event_time,
            ticket_id=event.ticket_id,
            desk="reseller" if own else "distributor",
            support_mode=reseller.support_mode,
            queue=route.queue,
            team=route.team_id or ("reseller" if own else "overflow"),
            language=route.language,
            brand=None if own else route.brand,
            respond_by=timer.response_due_at,
        )
        record = TicketRecord(
            ticket_id=event.ticket_id,
            reseller_id=event.reseller_id,
            partition=partition,
            destination=self.destination(route),
            queue="reseller" if own else route.queue,
            language=route.language,
            severity=event.severity,
            correlation_key=(
                ticket_correlation_key(event.service, event.region)
                if is_escalatable(event.category)
                else None
            ),
            cause_event_id=event.event_id,
            correlation_id=event.correlation_id,
            timer=timer,
            routed=routed.model_dump(mode="json"),
        )
        emits = self._route_emits(event, record, routed)
        self.tickets[event.ticket_id] = record.model_dump(mode="json")
        self._count_routed(record, route)
        return emits

    def _route_emits(
        self, event: TicketOpened, record: TicketRecord, routed: TicketRouted
    ) -> list[Emit]:
        emits = [
            Emit(record.destination, record.ticket_id, routed),
            Emit(self.catalog.name(Topic.SUPPORT_EVENTS), record.ticket_id, routed),
        ]
        if record.correlation_key is not None:
            # Escalation and incident correlation happen where tickets of one service and
            # region meet: the correlation topic, keyed by service and region.
            corr = self.catalog.name(Topic.SUPPORT_CORRELATION)
            emits.append(Emit(corr, record.correlation_key, routed))
            emits.append(Emit(corr, record.correlation_key, event))
        return emits

    def _count_routed(self, record: TicketRecord, route: Route) -> None:
        queue = record.queue if record.queue in self._queues else "reseller"
        language = route.language if route.language in self._languages else "other"
        metrics.TICKETS_ROUTED.labels(
            destination=route.destination.value,
            queue=queue,
            language=language,
            severity=record.severity.value,
        ).inc()
        if route.fallback_reason is not None:
            metrics.LANGUAGE_FALLBACKS.labels(reason=route.fallback_reason.value).inc()

    def _record(self, ticket_id: str, reseller_id: str | None) -> TicketRecord:
        known = self.tickets.get(ticket_id)
        if known is None:
            raise ValidationFailed("ticket_id", ticket_id, "unknown ticket")
        record = TicketRecord.model_validate(known)
        if record.reseller_id != reseller_id:
            raise ValidationFailed("ticket_id", ticket_id, f"not a ticket of {reseller_id!r}")
        return record

    def _updated(self, event: TicketUpdated) -> list[Emit]:
        record = self._record(event.ticket_id, event.reseller_id)
        timer = record.timer
        if event.author in ("reseller", "distributor"):
            timer = record_response(timer, event.event_time)
        status = record.status
        if event.status == "closed":
            timer = record_resolution(timer, event.event_time)
            status = "closed"
        emits = [Emit(self.catalog.name(Topic.SUPPORT_EVENTS), record.ticket_id, event)]
        if event.status == "escalated" and record.correlation_key is not None:
            # The partner tier gives up: the escalation agent decides whether Microsoft gets it.
            corr = self.catalog.name(Topic.SUPPORT_CORRELATION)
            emits.append(Emit(corr, record.correlation_key, event))
        self._save(record.model_copy(update={"timer": timer, "status": status}))
        return emits

    def _resolved(self, event: TicketResolved) -> list[Emit]:
        record = self._record(event.ticket_id, event.reseller_id)
        timer = record_resolution(record.timer, event.event_time)
        self._save(record.model_copy(update={"timer": timer, "status": "closed"}))
        return []

    def _save(self, record: TicketRecord) -> None:
        if record.status == "closed" and next_check_at(record.timer) is None:
            # Nothing can fire any more: keep the table as small as the open workload.
            self.tickets.pop(record.ticket_id, None)
        else:
            self.tickets[record.ticket_id] = record.model_dump(mode="json")

    # -- SLA ticks -------------------------------------------------------------------------

    def tick(self, partition: int, now: datetime) -> list[Emit]:
        """Evaluate the timers of ``partition``; flags are written with the facts they stop."""
        emits: list[Emit] = []
        for key, doc in list(self.tickets.items()):
            record = TicketRecord.model_validate(doc)
            if record.partition != partition:
                continue
            if record.fired is not None and record.fired[0] == now:
                events = [kept.event() for kept in record.fired[1]]  # this tick, cut short
            else:
                due = next_check_at(record.timer)
                if due is None or due > now:
                    continue
                timer, facts = evaluate_sla(record.timer, now)
                if not facts:
                    continue
                events = [self._sla_event(record, fact, now) for fact in facts]
                fired = (now, tuple(StoredEvent.of(e) for e in events))
                self._save(record.model_copy(update={"timer": timer, "fired": fired}))
            for event in events:
                emits.append(Emit(record.destination, key, event))
                emits.append(Emit(self.catalog.name(Topic.SUPPORT_EVENTS), key, event))
        return emits

    def _sla_event(self, record: TicketRecord, fact: SlaFact, now: datetime) -> Event:
        target = _TARGET[fact.clock]
        kind = "breach" if isinstance(fact, SlaBreachFact) else "warning"
        envelope: dict[str, Any] = {
            "event_id": derived_event_id(record.cause_event_id, f"support.sla.{kind}", target),
            "event_time": now,
            "correlation_id": record.correlation_id,
            "causation_id": record.cause_event_id,
            "reseller_id": record.reseller_id,
        }
        if isinstance(fact, SlaBreachFact):
            metrics.SLA_BREACHES.labels(target=target, severity=fact.severity.value).inc()
            return SlaBreached(
                **envelope,
                ticket_id=record.ticket_id,
                severity=fact.severity,
                target=target,
                due_at=fact.due_at,
                overdue_seconds=max(0, int((now - fact.due_at).total_seconds())),
            )
        metrics.SLA_WARNINGS.labels(target=target, severity=fact.severity.value).inc()
        return SlaWarning(
            **envelope,
            ticket_id=record.ticket_id,
            severity=fact.severity,
            target=target,
            due_at=fact.due_at,
            remaining_seconds=max(0, int((fact.due_at - now).total_seconds())),
        )

    def open_by_severity(self) -> Counter[str]:
        return Counter(
            str(doc["severity"]) for doc in list(self.tickets.values()) if doc["status"] == "open"
        )
