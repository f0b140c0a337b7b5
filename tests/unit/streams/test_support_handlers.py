"""The support agents' handlers over plain dicts or their journal, and a fake Microsoft: no
broker needed. The crash tests replay a message on every prefix of its writes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.orders import ReferenceView
from hub.domain.reference import Brand, Customer, ResellerProfile
from hub.domain.support.escalation import ServiceRequestPayload
from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from hub.schemas.events.support import (
    IncidentDetected,
    SlaBreached,
    SlaWarning,
    TicketEscalated,
    TicketOpened,
    TicketResolved,
    TicketRouted,
    TicketUpdated,
)
from hub.streams.support.config import SupportConfig
from hub.streams.support.escalation import Escalations
from hub.streams.support.intake import Intake, IntakeState
from hub.streams.support.microsoft import Observed
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support import crash_cut

CATALOG = TopicCatalog("p.")
SUPPORT = CATALOG.name(Topic.SUPPORT_EVENTS)
BRAND = Brand(display_name="Woodgrove", signature="Woodgrove team", reply_to="help@wg.example")
T0 = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # a Wednesday, Berlin on shift


def _reseller(reseller_id: str, mode: SupportMode) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=reseller_id,
        partner_id="1234567",
        name=reseller_id,
        country="DE",
        currency="EUR",
        languages=("de",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=mode,
        credit_limit_minor=0,
        payment_terms_days=30,
        brand=BRAND,
    )


def _customer(customer_id: str, reseller_id: str, language: str = "de") -> Customer:
    return Customer(
        customer_id=customer_id,
        reseller_id=reseller_id,
        name=customer_id,
        country="DE",
        language=language,
        currency="EUR",
    )


VIEW = ReferenceView(
    resellers={
        "own": _reseller("own", SupportMode.RESELLER_OWN),
        "wl": _reseller("wl", SupportMode.DISTRIBUTOR_WHITE_LABEL),
    },
    customers={"c-own": _customer("c-own", "own"), "c-wl": _customer("c-wl", "wl")},
    catalogue={},
    prices={},
)


def opened(
    reseller_id: str = "own",
    customer_id: str = "c-own",
    *,
    at: datetime = T0,
    language: str = "de",
    category: TicketCategory = TicketCategory.QUESTIONS,
    severity: Severity = Severity.MINIMAL,
    region: str | None = "eu-west",
    ticket_id: str | None = None,
) -> TicketOpened:
    return TicketOpened(
        event_id=uuid.uuid4(),
        event_time=at,
        correlation_id="c-1",
        reseller_id=reseller_id,
        ticket_id=ticket_id or f"t-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        title="Down",
        description="Mailboxes unreachable",
        category=category,
        severity=severity,
        language=language,
        service="exchange",
        region=region,
    )


def intake(config: SupportConfig | None = None) -> Intake:
    return Intake(CATALOG, config or SupportConfig(), lambda: VIEW, IntakeState())


@dataclass
class FakeMicrosoft:
    created: dict[str, Observed] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)

    async def create(
        self, payload: ServiceRequestPayload, *, idempotency_key: str, correlation_id: str
    ) -> Observed:
        # Like the simulator: the same idempotency key gives the same request.
        if idempotency_key not in self.created:
            sr_id = f"sr-{len(self.created) + 1}"
            self.created[idempotency_key] = Observed(sr_id=sr_id, status="open", notes=())
        return self.created[idempotency_key]

    async def get(self, sr_id: str, *, correlation_id: str) -> Observed:
        raise NotImplementedError

    async def close(self, sr_id: str, *, note: str, correlation_id: str) -> None:
        self.closed.append(sr_id)


def escalations(threshold: int = 5) -> tuple[Escalations, FakeMicrosoft]:
    fake = FakeMicrosoft()
    config = SupportConfig(incident_threshold=threshold)
    return Escalations(CATALOG, config, lambda: VIEW, {}, {}, fake), fake


def events_of(emits: list[Emit], kind: type[Event], topic: str | None = None) -> list[Any]:
    return [e.event for e in emits if isinstance(e.event, kind) and topic in (None, e.topic)]


# -- intake ---------------------------------------------------------------------------------


async def test_reseller_own_ticket_goes_to_its_partner_topic_and_ops_only() -> None:
    emits = await intake().handle(opened(), 0)

    assert {e.topic for e in emits} == {
        CATALOG.partner("own", PartnerTopic.SUPPORT),
        CATALOG.name(Topic.SUPPORT_EVENTS),
    }


async def test_desk_ticket_carries_the_resellers_brand_on_the_desk_queue() -> None:
    emits = await intake().handle(opened("wl", "c-wl"), 0)

    routed = events_of(emits, TicketRouted, "p.desk.emea.de")
    assert routed
    assert routed[0].brand == BRAND


async def test_unknown_reseller_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="unknown reseller"):
        await intake().handle(opened("nobody", "c-own"), 0)


async def test_customer_of_another_reseller_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="not a customer of"):
        await intake().handle(opened("wl", "c-own"), 0)


async def test_redelivered_ticket_yields_the_same_routed_event_and_keeps_its_timer() -> None:
    handler = intake()
    ticket = opened()
    first = await handler.handle(ticket, 0)
    stored = dict(handler.tickets)

    again = await handler.handle(ticket, 0)

    assert [e.event for e in again] == [e.event for e in first]
    assert handler.tickets == stored


async def test_escalatable_ticket_is_forwarded_by_service_and_region() -> None:
    emits = await intake().handle(opened(category=TicketCategory.BUG), 0)

    forwarded = [e for e in emits if e.topic == CATALOG.name(Topic.SUPPORT_CORRELATION)]
    assert {e.key for e in forwarded} == {"exchange|eu-west"}
    assert {type(e.event) for e in forwarded} == {TicketRouted, TicketOpened}


def update(ticket: TicketOpened, at: datetime, author: str = "reseller") -> TicketUpdated:
    return TicketUpdated(
        event_id=uuid.uuid4(),
        event_time=at,
        correlation_id="c-1",
        reseller_id=ticket.reseller_id,
        ticket_id=ticket.ticket_id,
        author=author,  # type: ignore[arg-type]
        status="open",
    )


def resolution(ticket: TicketOpened, at: datetime) -> TicketResolved:
    return TicketResolved(
        event_id=uuid.uuid4(),
        event_time=at,
        correlation_id="c-1",
        reseller_id=ticket.reseller_id,
        ticket_id=ticket.ticket_id,
        resolution="fixed",
        resolved_by="reseller",
    )


@settings(max_examples=30, deadline=None)
@given(ticks=st.lists(st.integers(min_value=0, max_value=3 * 3600), min_size=1, max_size=12))
async def test_breach_and_warning_fire_at_most_once_whatever_the_ticks(ticks: list[int]) -> None:
    handler = intake()
    await handler.handle(opened(severity=Severity.CRITICAL), 0)
    emits: list[Emit] = []
    for offset in [*sorted(ticks), 3 * 3600]:
        emits += handler.tick(0, T0 + timedelta(seconds=offset))

    assert [b.target for b in events_of(emits, SlaBreached, SUPPORT)] == ["initial_response"]
    assert len(events_of(emits, SlaWarning, SUPPORT)) <= 1


async def test_tick_leaves_other_partitions_timers_alone() -> None:
    handler = intake()
    await handler.handle(opened(severity=Severity.CRITICAL), 1)

    assert handler.tick(0, T0 + timedelta(days=9)) == []
    assert handler.tick(1, T0 + timedelta(days=9))


async def test_response_stops_the_first_response_clock() -> None:
    handler = intake()
    ticket = opened(severity=Severity.CRITICAL)
    await handler.handle(ticket, 0)
    await handler.handle(update(ticket, T0 + timedelta(minutes=5)), 0)

    emits = handler.tick(0, T0 + timedelta(hours=3))

    assert not events_of(emits, SlaBreached)


async def test_a_resolved_ticket_leaves_no_ticket_timer_or_open_count_behind() -> None:
    handler = intake()
    ticket = opened(severity=Severity.CRITICAL)
    await handler.handle(ticket, 0)
    assert handler.open_by_severity([0])["critical"] == 1

    await handler.handle(resolution(ticket, T0 + timedelta(minutes=5)), 0)

    assert handler.state.tickets == {}
    assert handler.state.due == {}
    assert handler.open_by_severity([0])["critical"] == 0


class CountingStore(MemoryStore):
    """A store that counts the entries its scans hand out: what a tick reads."""

    def __init__(self) -> None:
        super().__init__()
        self.scanned = 0

    def scan(self, prefix: str, after: str | None = None) -> Iterator[tuple[str, Any]]:
        for item in super().scan(prefix, after):
            self.scanned += 1
            yield item


async def test_a_tick_reads_only_the_timers_that_are_due() -> None:
    store = CountingStore()
    journal = Journal(store, "support-intake")
    handler = Intake(CATALOG, SupportConfig(), lambda: VIEW, IntakeState.of(journal))
    # Forty tickets due tomorrow, one due within the hour.
    for i in range(40):
        later = opened(severity=Severity.MINIMAL, at=T0 + timedelta(days=1, minutes=i))
        await journal.run(0, f"later-{i}", lambda t=later: handler.handle(t, 0))
    soon = opened(severity=Severity.CRITICAL)
    await journal.run(0, "soon", lambda: handler.handle(soon, 0))
    store.scanned = 0

    emits = await journal.run(0, "tick", lambda: _tick(handler, T0 + timedelta(hours=3)))

    assert [e.ticket_id for e in events_of(emits, SlaBreached, SUPPORT)] == [soon.ticket_id]
    # The due entry, the next one that stops the scan, and the one that replaces the first.
    assert store.scanned <= 3


async def _tick(handler: Intake, now: datetime) -> list[Emit]:
    return handler.tick(0, now)


async def test_a_burst_of_deadlines_is_worked_off_a_page_per_tick() -> None:
    handler = Intake(CATALOG, SupportConfig(), lambda: VIEW, IntakeState(), tick_page=2)
    tickets = [opened(severity=Severity.CRITICAL) for _ in range(5)]
    for ticket in tickets:
        await handler.handle(ticket, 0)
    now = T0 + timedelta(hours=3)

    per_tick = [len(events_of(handler.tick(0, now), SlaBreached, SUPPORT)) for _ in range(4)]

    assert per_tick == [2, 2, 1, 0]


async def test_a_due_entry_that_is_not_its_tickets_next_check_is_dropped_unfired() -> None:
    handler = intake()
    ticket = opened(severity=Severity.CRITICAL)
    await handler.handle(ticket, 0)
    (real,) = handler.state.due
    handler.state.due[f"0|2025-03-12T10:30:00.000000|{ticket.ticket_id}"] = 1
    handler.state.due["0|2025-03-12T10:31:00.000000|t-gone"] = 1

    emits = handler.tick(0, T0 + timedelta(hours=1))

    assert emits == []
    assert list(handler.state.due) == [real]


async def test_open_counts_follow_opening_and_closing_per_severity_and_partition() -> None:
    handler = intake()
    critical = opened(severity=Severity.CRITICAL)
    for ticket, partition in ((critical, 0), (opened(), 0), (opened(), 1)):
        await handler.handle(ticket, partition)
    closed = update(critical, T0 + timedelta(minutes=1)).model_copy(update={"status": "closed"})

    await handler.handle(closed, 0)

    assert handler.open_by_severity([0]) == {"critical": 0, "moderate": 0, "minimal": 1}
    assert handler.open_by_severity([0, 1])["minimal"] == 2


# -- a crash between an intake message's writes ----------------------------------------------

IntakeMessage = Callable[[Intake], Awaitable[Sequence[Emit]]]


def journaled_intake(store: MemoryStore) -> tuple[Journal, Intake]:
    """Wired as the worker wires the intake agent (hub/streams/support/__init__.py)."""
    journal = Journal(store, "support-intake")
    return journal, Intake(CATALOG, SupportConfig(), lambda: VIEW, IntakeState.of(journal))


def ticket_message(event: TicketOpened | TicketUpdated | TicketResolved) -> IntakeMessage:
    return lambda handler: handler.handle(event, 0)


def tick_message(now: datetime) -> IntakeMessage:
    return lambda handler: _tick(handler, now)


async def run_all(journal: Journal, handler: Intake, messages: list[IntakeMessage]) -> list[Emit]:
    sent: list[Emit] = []
    for i, message in enumerate(messages):
        sent += await journal.run(0, f"after-{i}", lambda m=message: m(handler))
    return sent


async def intake_at_every_cut(
    before: list[IntakeMessage], cut: IntakeMessage, after: list[IntakeMessage]
) -> tuple[list[Emit], list[Emit]]:
    """Run ``before``, then ``cut`` and replay it on every prefix of its writes (ticks are
    journaled under their position, as ``_drive`` does); each replay must give the uncut run's
    outputs and state, and then ``after`` the uncut run's outputs. Returns what ``cut`` and
    ``after`` sent."""
    whole = crash_cut.RecordingStore()
    journal, handler = journaled_intake(whole)
    for i, message in enumerate(before):
        await journal.run(0, f"m{i}", lambda m=message: m(handler))
    start = len(whole.log)
    expected = list(await journal.run(0, "cut", lambda: cut(handler)))
    end, snapshot = len(whole.log), dict(whole.data)
    assert end - start > 2, "the message writes next to nothing: nothing to cut short"
    later = await run_all(journal, handler, after)
    for at in range(start, end):
        store = crash_cut.landed(whole.log[:at])
        journal, handler = journaled_intake(store)
        replayed = await journal.run(0, "cut", lambda h=handler: cut(h))
        assert list(replayed) == expected, f"cut after {at - start} writes"
        assert store.data == snapshot, f"cut after {at - start} writes"
        assert await run_all(journal, handler, after) == later, f"cut after {at - start} writes"
    return expected, later


async def test_a_breach_cut_short_by_a_crash_fires_exactly_once() -> None:
    """Before the journal a tick kept the events it fired with the flags it set (``fired``), in
    the write order one broker keeps; now the tick's writes and events are one journal entry."""
    tickets = [opened(severity=Severity.CRITICAL) for _ in range(2)]
    sent, later = await intake_at_every_cut(
        [ticket_message(t) for t in tickets],
        tick_message(T0 + timedelta(hours=3)),
        [tick_message(T0 + timedelta(hours=3)), tick_message(T0 + timedelta(hours=30))],
    )

    breaches = events_of(sent, SlaBreached, SUPPORT)
    assert sorted(b.ticket_id for b in breaches) == sorted(t.ticket_id for t in tickets)
    assert {b.target for b in breaches} == {"initial_response"}
    # Later ticks bring only the resolution clock's breach, once per ticket.
    assert {(b.ticket_id, b.target) for b in events_of(later, SlaBreached, SUPPORT)} == {
        (t.ticket_id, "resolution") for t in tickets
    }
    assert len(events_of(later, SlaBreached, SUPPORT)) == len(tickets)


async def test_a_warning_cut_short_by_a_crash_fires_once_and_the_breach_follows() -> None:
    ticket = opened(severity=Severity.CRITICAL)  # first response due in 2 h, warned at 96 min
    sent, later = await intake_at_every_cut(
        [ticket_message(ticket)],
        tick_message(T0 + timedelta(minutes=100)),
        [tick_message(T0 + timedelta(minutes=110)), tick_message(T0 + timedelta(hours=2))],
    )

    assert [w.target for w in events_of(sent, SlaWarning, SUPPORT)] == ["initial_response"]
    assert not events_of(later, SlaWarning)
    assert [b.target for b in events_of(later, SlaBreached, SUPPORT)] == ["initial_response"]


async def test_a_resolution_cut_short_by_a_crash_still_stops_the_timer() -> None:
    ticket = opened(severity=Severity.CRITICAL)
    _, later = await intake_at_every_cut(
        [ticket_message(ticket)],
        ticket_message(resolution(ticket, T0 + timedelta(minutes=5))),
        [tick_message(T0 + timedelta(hours=3)), tick_message(T0 + timedelta(days=9))],
    )

    assert later == []


async def test_a_ticket_opened_in_a_message_cut_short_gets_its_timer_and_count() -> None:
    ticket = opened(severity=Severity.CRITICAL)
    sent, later = await intake_at_every_cut(
        [], ticket_message(ticket), [tick_message(T0 + timedelta(hours=3))]
    )

    assert events_of(sent, TicketRouted)
    assert [b.ticket_id for b in events_of(later, SlaBreached, SUPPORT)] == [ticket.ticket_id]


# -- escalation and incidents ---------------------------------------------------------------


async def _feed(handler: Escalations, ticket: TicketOpened) -> list[Emit]:
    routed = await intake().handle(ticket, 0)
    emits: list[Emit] = []
    for emit in routed:
        if emit.topic == CATALOG.name(Topic.SUPPORT_CORRELATION):
            emits += await handler.handle(emit.event, 0)
    return emits


async def test_critical_escalatable_ticket_opens_one_request_even_when_redelivered() -> None:
    handler, fake = escalations()
    ticket = opened(category=TicketCategory.BUG, severity=Severity.CRITICAL)

    first = await _feed(handler, ticket)
    await handler.handle(ticket, 0)

    assert len(fake.created) == 1
    assert events_of(first, TicketEscalated)[0].service_request_id == "sr-1"


async def test_moderate_ticket_waits_for_the_partner_tier_then_escalates_once() -> None:
    handler, fake = escalations()
    ticket = opened(category=TicketCategory.BUG, severity=Severity.MODERATE)
    await _feed(handler, ticket)
    assert not fake.created
    gives_up = TicketUpdated(
        event_id=uuid.uuid4(),
        event_time=T0,
        correlation_id="c-1",
        reseller_id="own",
        ticket_id=ticket.ticket_id,
        author="reseller",
        status="escalated",
    )

    await handler.handle(gives_up, 0)
    await handler.handle(gives_up, 0)

    assert len(fake.created) == 1


async def test_tickets_above_threshold_are_one_incident_with_one_request() -> None:
    handler, fake = escalations(threshold=3)
    owners = [("own", "c-own"), ("wl", "c-wl")]
    emits: list[Emit] = []
    tickets = [
        opened(
            *owners[i % 2],
            at=T0 + timedelta(minutes=i),
            category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
            severity=Severity.MODERATE,
        )
        for i in range(6)
    ]
    for ticket in tickets:
        emits += await _feed(handler, ticket)

    detected = events_of(emits, IncidentDetected)
    assert len(detected) == 1
    assert set(detected[0].reseller_ids) == {"own", "wl"}
    assert len(fake.created) == 1
    linked = events_of(emits, TicketEscalated)
    assert {e.ticket_id for e in linked} == {t.ticket_id for t in tickets}
    assert {e.incident_id for e in linked} == {detected[0].incident_id}


async def test_microsoft_change_is_relayed_once_and_closing_resolves_the_ticket() -> None:
    handler, _ = escalations()
    ticket = opened(category=TicketCategory.BUG, severity=Severity.CRITICAL)
    await _feed(handler, ticket)
    ref = f"ticket:{ticket.ticket_id}"
    note = Observed(sr_id="sr-1", status="attention_needed", notes=("send logs",))

    first = await handler.observed(ref, note, T0)
    again = await handler.observed(ref, note, T0)
    closed = await handler.observed(
        ref, Observed(sr_id="sr-1", status="closed", notes=("send logs", "fixed")), T0
    )

    assert [u.note for u in events_of(first, TicketUpdated)] == ["send logs"] * 2
    assert again == []
    resolved = [e for e in closed if isinstance(e.event, TicketResolved)]
    assert CATALOG.name(Topic.SUPPORT_TICKET_COMMANDS) in {e.topic for e in resolved}
    assert {e.key for e in resolved if e.topic.endswith("ticket-commands")} == {"own"}


async def test_resolving_an_incident_resolves_every_linked_ticket_and_closes_the_request() -> None:
    handler, fake = escalations(threshold=2)
    tickets = [
        opened(
            at=T0 + timedelta(minutes=i), category=TicketCategory.BUG, severity=Severity.MODERATE
        )
        for i in range(3)
    ]
    emits: list[Emit] = []
    for ticket in tickets:
        emits += await _feed(handler, ticket)
    incident_id = events_of(emits, IncidentDetected)[0].incident_id

    resolved = await handler.resolve(incident_id, 0, T0 + timedelta(hours=1), by="distributor")
    twice = await handler.resolve(incident_id, 0, T0 + timedelta(hours=1), by="distributor")

    ops = events_of(resolved, TicketResolved, CATALOG.name(Topic.SUPPORT_EVENTS))
    assert {e.ticket_id for e in ops} == {t.ticket_id for t in tickets}
    assert fake.closed == ["sr-1"]
    assert twice == []


# -- a crash between an escalation message's writes ------------------------------------------

Message = Callable[[Escalations], Awaitable[Sequence[Emit]]]


def journaled(
    store: crash_cut.MemoryStore, fake: FakeMicrosoft, threshold: int
) -> tuple[Journal, Escalations]:
    """Wired as the worker wires the escalation agent (hub/streams/support/__init__.py)."""
    journal = Journal(store, "support-escalation")
    config = SupportConfig(incident_threshold=threshold)
    handler = Escalations(
        CATALOG, config, lambda: VIEW, journal.view("records"), journal.view("correlations"), fake
    )
    return journal, handler


async def correlation_messages(*tickets: TicketOpened) -> list[Message]:
    """What intake sends the escalation agent for ``tickets``, as messages it handles."""
    out: list[Message] = []
    for ticket in tickets:
        for emit in await intake().handle(ticket, 0):
            if emit.topic == CATALOG.name(Topic.SUPPORT_CORRELATION):
                out.append(lambda esc, event=emit.event: esc.handle(event, 0))
    return out


async def replay_at_every_cut(messages: list[Message], threshold: int) -> list[Emit]:
    """Run ``messages``, then replay the last after a crash cut its writes at each point."""
    fake = FakeMicrosoft()
    whole = crash_cut.RecordingStore()
    journal, handler = journaled(whole, fake, threshold)
    for offset, message in enumerate(messages[:-1]):
        await journal.run(0, f"m{offset}", lambda m=message: m(handler))
    start = len(whole.log)
    last = f"m{len(messages) - 1}"
    expected = await journal.run(0, last, lambda: messages[-1](handler))
    assert len(whole.log) - start > 2, "the message writes next to nothing: nothing to cut short"
    for cut in range(start, len(whole.log)):
        store = crash_cut.landed(whole.log[:cut])
        journal, handler = journaled(store, fake, threshold)
        replayed = await journal.run(0, last, lambda h=handler: messages[-1](h))
        assert replayed == expected, f"cut after {cut - start} writes"
        assert store.data == whole.data, f"cut after {cut - start}"
    return list(expected)


async def test_an_escalation_cut_short_by_a_crash_is_sent_on_replay() -> None:
    """Without the journal the request's id, written before the events, made the replay see
    the ticket as escalated already: TicketEscalated was never sent."""
    ticket = opened(category=TicketCategory.BUG, severity=Severity.CRITICAL)
    sent = await replay_at_every_cut(await correlation_messages(ticket), threshold=5)
    assert events_of(sent, TicketEscalated)[0].service_request_id == "sr-1"


def outage_tickets() -> list[TicketOpened]:
    """Two tickets of one outage a minute apart: an incident at a threshold of two."""
    return [
        opened(
            at=T0 + timedelta(minutes=i),
            category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
            severity=Severity.MODERATE,
        )
        for i in range(2)
    ]


async def test_an_incident_detected_in_a_message_cut_short_is_sent_on_replay() -> None:
    tickets = outage_tickets()
    sent = await replay_at_every_cut(await correlation_messages(*tickets), threshold=2)
    assert len(events_of(sent, IncidentDetected)) == 1


async def test_an_incident_closed_by_microsoft_in_a_message_cut_short_resolves_on_replay() -> None:
    tickets = outage_tickets()
    messages = await correlation_messages(*tickets)
    probe, _ = escalations(threshold=2)
    emits = [e for m in messages for e in await m(probe)]
    incident_id = events_of(emits, IncidentDetected)[0].incident_id
    closed = Observed(sr_id="sr-1", status="closed", notes=("mitigated",))

    async def microsoft_closes(esc: Escalations) -> Sequence[Emit]:
        return await esc.observed(f"incident:{incident_id}", closed, T0 + timedelta(hours=2))

    sent = await replay_at_every_cut([*messages, microsoft_closes], threshold=2)
    resolved = events_of(sent, TicketResolved, CATALOG.name(Topic.SUPPORT_EVENTS))
    assert {e.ticket_id for e in resolved} == {t.ticket_id for t in tickets}
