"""Intake of tickets: validate against reference data, route, start SLA timers, evaluate them.

Runs inside the agent of ``reseller.tickets`` plus ``hub.support.ticket-commands`` (both keyed
by reseller id, same partition count), so every write happens in the partition the ticket lives
in. Its state is one table (``support-intake-state``) written only through the flow's journal
(hub/runtime/journal.py), in entries that stay small whatever a reseller's size:

- ``tickets|<ticket>``: where the ticket went, its SLA timer, and why it waits while its
  escalation is held for GDAP (the escalation agent sends the hold and the filing here, to the
  ticket's partition; its SLA warnings and breaches carry the reason meanwhile);
- ``due|<partition>|<deadline>|<ticket>``: the next instant the ticket's timer can fire, so a
  tick reads only what is due (a prefix scan in deadline order, up to now, a page at most);
- ``open|<partition>|<severity>``: open tickets, for the gauge a timer reads outside a message.

``tick`` is driven by tick commands a faust timer sends to each partition: a timer runs outside
any event, where faust cannot tell which partition a write belongs to, so the timer only knocks
and the agent does the work. A tick's writes and the SLA events it fires are one journal entry,
so a replay after a crash re-sends those events rather than firing them again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from hub.domain.enums import Severity, SupportMode
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
from hub.domain.support.waiting import gdap_role_wait
from hub.errors import HubError, ValidationFailed
from hub.metrics import child
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import scan
from hub.schemas.envelope import Event, caused_by, derived_event_id
from hub.schemas.events.relationships import GdapApprovalNeeded
from hub.schemas.events.support import (
    SlaBreached,
    SlaTarget,
    SlaWarning,
    TicketEscalated,
    TicketOpened,
    TicketResolved,
    TicketRouted,
    TicketUpdated,
)
from hub.streams.support import metrics
from hub.streams.support.config import SupportConfig
from hub.streams.support.records import (
    TicketRecord,
    due_key,
    due_stamp,
    open_key,
    to_domain_ticket,
)
from hub.streams.support.topics import desk_queue_topic, desk_queues, ticket_correlation_key
from hub.topics import PartnerTopic, Topic, TopicCatalog

Table = MutableMapping[str, Any]

_TARGET: dict[SlaClock, SlaTarget] = {
    SlaClock.FIRST_RESPONSE: "initial_response",
    SlaClock.RESOLUTION: "resolution",
}
# Tickets one tick evaluates at most: a burst of deadlines (an outage's tickets all breaching)
# is worked off over the next ticks instead of in one message of unbounded size.
TICK_PAGE = 500


@dataclass(frozen=True)
class IntakeState:
    """The intake agent's entries (see the module docstring): views of its journaled table in
    the worker, plain dicts in unit tests that need no crash."""

    tickets: Table = field(default_factory=dict)
    due: Table = field(default_factory=dict)
    open: Table = field(default_factory=dict)

    @classmethod
    def of(cls, journal: Journal) -> IntakeState:
        return cls(journal.view("tickets"), journal.view("due"), journal.view("open"))


class Intake:
    """Handlers of the intake agent over its ``state``."""

    def __init__(
        self,
        catalog: TopicCatalog,
        config: SupportConfig,
        reference: Callable[[], ReferenceView],
        state: IntakeState,
        tick_page: int = TICK_PAGE,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.desk = config.desk()
        self.policy = config.sla_policy()
        self._reference = reference
        self.state = state
        self.tickets = state.tickets
        self.tick_page = tick_page
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
        if isinstance(event, GdapApprovalNeeded):
            return self._held_for_gdap(event)
        if isinstance(event, TicketEscalated):
            return self._escalated(event)
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
        self._save(record, None)
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
        child(
            metrics.TICKETS_ROUTED,
            destination=route.destination.value,
            queue=queue,
            language=language,
            severity=record.severity.value,
        ).inc()
        if route.fallback_reason is not None:
            child(metrics.LANGUAGE_FALLBACKS, reason=route.fallback_reason.value).inc()

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
        self._save(record.model_copy(update={"timer": timer, "status": status}), record)
        return emits

    def _resolved(self, event: TicketResolved) -> list[Emit]:
        record = self._record(event.ticket_id, event.reseller_id)
        timer = record_resolution(record.timer, event.event_time)
        self._save(record.model_copy(update={"timer": timer, "status": "closed"}), record)
        return []

    def _known(self, ticket_id: str | None, reseller_id: str | None) -> TicketRecord | None:
        """The ticket, or None once it is closed and gone (a hold that comes late is moot)."""
        if ticket_id is None or ticket_id not in self.tickets:
            return None
        return self._record(ticket_id, reseller_id)

    def _held_for_gdap(self, task: GdapApprovalNeeded) -> list[Emit]:
        """The escalation agent held the ticket for a GDAP role: its SLA events say so."""
        record = self._known(task.ticket_id, task.reseller_id)
        if record is None:
            return []
        customer = self._reference().customers.get(task.customer_id)
        name = task.customer_id if customer is None else customer.name
        waiting = gdap_role_wait(name, task.missing_role)
        self._save(record.model_copy(update={"waiting": waiting}), record)
        return []

    def _escalated(self, event: TicketEscalated) -> list[Emit]:
        """A held ticket was filed at Microsoft: it no longer waits."""
        record = self._known(event.ticket_id, event.reseller_id)
        if record is None or record.waiting is None:
            return []
        self._save(record.model_copy(update={"waiting": None}), record)
        return []

    def _save(self, record: TicketRecord, before: TicketRecord | None) -> None:
        """``record`` written with its due entry and the open counts it moves; one message's
        writes, so the journal makes them all or none."""
        was_due = None if before is None else next_check_at(before.timer)
        due = next_check_at(record.timer)
        if was_due != due:
            if before is not None and was_due is not None:
                self.state.due.pop(due_key(record.partition, was_due, record.ticket_id), None)
            if due is not None:
                self.state.due[due_key(record.partition, due, record.ticket_id)] = 1
        was_open = before is not None and before.status == "open"
        if record.status == "open" and not was_open:
            self._count_open(record, +1)
        elif record.status != "open" and was_open:
            self._count_open(record, -1)
        if record.status == "closed" and due is None:
            # Nothing can fire any more: keep the table as small as the open workload.
            self.tickets.pop(record.ticket_id, None)
        else:
            self.tickets[record.ticket_id] = record.model_dump(mode="json")

    @staticmethod
    def _due_key(record: TicketRecord) -> str | None:
        due = next_check_at(record.timer)
        return None if due is None else due_key(record.partition, due, record.ticket_id)

    def _count_open(self, record: TicketRecord, delta: int) -> None:
        key = open_key(record.partition, record.severity)
        count = int(self.state.open.get(key, 0)) + delta
        if count > 0:
            self.state.open[key] = count
        else:
            self.state.open.pop(key, None)

    # -- SLA ticks -------------------------------------------------------------------------

    def due(self, partition: int, now: datetime) -> list[tuple[str, str]]:
        """``(due entry, ticket)`` of ``partition`` whose timer may fire at ``now``, earliest
        first, a page at most: a prefix scan that stops at the first deadline after ``now``."""
        stamp = due_stamp(now)
        found: list[tuple[str, str]] = []
        for key, _ in islice(scan(self.state.due, f"{partition}|"), self.tick_page):
            _, at, ticket_id = key.split("|", 2)
            if at > stamp:
                break
            found.append((key, ticket_id))
        return found

    def tick(self, partition: int, now: datetime) -> list[Emit]:
        """Evaluate the timers due in ``partition``; the flags and due entries are written in
        the same journaled message as the facts they stop, whose outputs a replay re-sends."""
        emits: list[Emit] = []
        for key, ticket_id in self.due(partition, now):
            known = self.tickets.get(ticket_id)
            record = None if known is None else TicketRecord.model_validate(known)
            if record is None or key != self._due_key(record):
                # Not the ticket's next check (never written so): drop it, or every tick
                # would read it again.
                self.state.due.pop(key, None)
                continue
            timer, facts = evaluate_sla(record.timer, now)
            self._save(record.model_copy(update={"timer": timer}), record)
            for fact in facts:
                event = self._sla_event(record, fact, now)
                emits.append(Emit(record.destination, ticket_id, event))
                emits.append(Emit(self.catalog.name(Topic.SUPPORT_EVENTS), ticket_id, event))
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
        if record.waiting is not None:
            envelope["waiting_for"] = record.waiting.waiting_for
            envelope["waiting_reason"] = record.waiting.text
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

    def open_by_severity(self, partitions: Iterable[int]) -> Counter[str]:
        """Open tickets per severity over ``partitions``: a few counters read, never the
        tickets (a timer reads this outside any message, every tick)."""
        counts: Counter[str] = Counter()
        for partition in partitions:
            for severity in Severity:
                counts[severity.value] += int(self.state.open.get(open_key(partition, severity), 0))
        return counts


class TickCommands:
    """The intake agent's internal commands (``sla_tick``), for ``support._drive``: a tick is
    journaled under its position like any command; one with nothing due is ``idle`` and skipped
    (unless it was handled before), so an idle partition's ticks write nothing."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def __call__(self, kind: str, doc: dict[str, Any], partition: int) -> list[Emit]:
        if kind != "sla_tick":
            raise HubError(f"unknown intake command {kind!r}")
        return self.intake.tick(partition, datetime.fromisoformat(str(doc["now"])))

    def idle(self, kind: str, doc: dict[str, Any], partition: int) -> bool:
        if kind != "sla_tick":
            return False
        return not self.intake.due(partition, datetime.fromisoformat(str(doc["now"])))
