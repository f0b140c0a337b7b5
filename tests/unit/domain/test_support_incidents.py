"""Incident correlation: one incident, one escalation, every ticket linked, and nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.enums import Severity, TicketCategory
from hub.domain.support.incidents import (
    CorrelationConfig,
    CorrelationState,
    IncidentDetected,
    IncidentEscalationRequested,
    IncidentFact,
    IncidentResolved,
    TicketLinkedToIncident,
    TicketResolvedByIncident,
    correlate,
    find_incident,
    incident_id_for,
    open_incident_for,
    resolve_incident,
)
from hub.domain.support.ticket import Channel, Ticket

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
CONFIG = CorrelationConfig()  # 10 minutes, 5 tickets


def ticket(n: int, at: datetime, **kw: Any) -> Ticket:
    fields: dict[str, Any] = {
        "ticket_id": f"T-{n}",
        # Spread over resellers and customers: correlation must not care.
        "reseller_id": f"reseller-{n % 3}",
        "customer_id": f"cust-{n}",
        "product": "Exchange Online",
        "category": TicketCategory.SERVICE_NOT_ACCESSIBLE,
        "severity": Severity.MODERATE,
        "description": "Cannot reach mailbox",
        "channel": Channel.EMAIL,
        "opened_at": at,
        "service": "exchange",
        "region": "westeurope",
    }
    fields.update(kw)
    return Ticket(**fields)


def feed(
    tickets: list[Ticket], state: CorrelationState | None = None
) -> tuple[CorrelationState, list[IncidentFact]]:
    state = state or CorrelationState()
    out: list[IncidentFact] = []
    for t in tickets:
        state, facts = correlate(state, t, CONFIG)
        out.extend(facts)
    return state, out


F = TypeVar("F", bound=IncidentFact)


def kinds(facts: list[IncidentFact], kind: type[F]) -> list[F]:
    return [f for f in facts if isinstance(f, kind)]


def test_twenty_tickets_in_ten_minutes_make_one_incident_and_one_escalation() -> None:
    tickets = [ticket(n, T0 + timedelta(seconds=30 * n)) for n in range(20)]
    state, facts = feed(tickets)
    detected = kinds(facts, IncidentDetected)
    escalations = kinds(facts, IncidentEscalationRequested)
    links = kinds(facts, TicketLinkedToIncident)
    assert len(detected) == 1
    assert len(escalations) == 1
    incident_id = detected[0].incident_id
    assert escalations[0].incident_id == incident_id
    assert sorted(link.ticket_id for link in links) == sorted(t.ticket_id for t in tickets)
    assert {link.incident_id for link in links} == {incident_id}
    incident = find_incident(state, incident_id)
    assert incident is not None
    assert len(incident.ticket_ids) == 20


def test_the_fifth_ticket_detects_and_links_the_first_five() -> None:
    _, facts = feed([ticket(n, T0 + timedelta(minutes=n)) for n in range(4)])
    assert facts == []
    _, facts = feed([ticket(n, T0 + timedelta(minutes=n)) for n in range(5)])
    detected = kinds(facts, IncidentDetected)
    assert len(detected) == 1
    assert detected[0].ticket_ids == ("T-0", "T-1", "T-2", "T-3", "T-4")
    assert detected[0].window_start == T0
    assert detected[0].incident_id == incident_id_for("exchange", "westeurope", T0)


def test_incident_id_is_deterministic_across_replays() -> None:
    tickets = [ticket(n, T0 + timedelta(minutes=n)) for n in range(6)]
    _, first = feed(tickets)
    _, second = feed(tickets)
    assert first == second


def test_tickets_spread_wider_than_the_window_never_make_an_incident() -> None:
    # Four early tickets expire before the fifth arrives 10 minutes and a second later.
    early = [ticket(n, T0 + timedelta(seconds=n)) for n in range(4)]
    late = ticket(9, T0 + timedelta(seconds=3) + timedelta(minutes=10, seconds=1))
    _, facts = feed([*early, late])
    assert facts == []


def test_five_tickets_exactly_spanning_the_window_do_make_an_incident() -> None:
    tickets = [ticket(n, T0 + timedelta(seconds=150 * n)) for n in range(5)]  # 0 .. 10 min
    _, facts = feed(tickets)
    assert len(kinds(facts, IncidentDetected)) == 1


def test_a_ticket_from_another_region_is_not_joined() -> None:
    state, _ = feed([ticket(n, T0 + timedelta(minutes=n)) for n in range(5)])
    other = ticket(50, T0 + timedelta(minutes=6), region="eastus")
    state, facts = correlate(state, other, CONFIG)
    assert facts == []
    incident = open_incident_for(state, "exchange", "westeurope")
    assert incident is not None
    assert "T-50" not in incident.ticket_ids
    assert open_incident_for(state, "exchange", "eastus") is None


def test_a_ticket_opened_over_a_window_before_the_incident_is_not_joined() -> None:
    state, _ = feed([ticket(n, T0 + timedelta(minutes=n)) for n in range(5)])
    stale = ticket(60, T0 - CONFIG.window - timedelta(seconds=1))
    state, facts = correlate(state, stale, CONFIG)
    assert facts == []


def test_a_ticket_read_after_later_ones_from_another_reseller_still_joins() -> None:
    """Each reseller's tickets are read from its own partition at its own pace: the incident may
    be detected from one reseller's tickets before an earlier ticket of another is read."""
    state, facts = feed([ticket(n, T0 + timedelta(minutes=1 + n)) for n in range(5)])
    assert kinds(facts, IncidentDetected)[0].window_start == T0 + timedelta(minutes=1)
    earlier = ticket(60, T0)
    state, facts = correlate(state, earlier, CONFIG)
    assert [type(f) for f in facts] == [TicketLinkedToIncident]


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(range(12))))
def test_every_ticket_of_one_window_is_linked_in_any_arrival_order(order: list[int]) -> None:
    tickets = [ticket(n, T0 + timedelta(seconds=45 * n)) for n in range(12)]  # 8.25 minutes
    _, facts = feed([tickets[i] for i in order])
    assert len(kinds(facts, IncidentDetected)) == 1
    detected = kinds(facts, IncidentDetected)[0]
    # the window ends at its latest ticket, whichever was read last (a claim needs end > start)
    assert detected.detected_at == max(
        t.opened_at for t in tickets if t.ticket_id in detected.ticket_ids
    )
    assert detected.detected_at > detected.window_start
    linked = {f.ticket_id for f in kinds(facts, TicketLinkedToIncident)}
    assert linked | set(detected.ticket_ids) == {t.ticket_id for t in tickets}


def test_a_later_ticket_joins_the_open_incident_without_a_new_escalation() -> None:
    state, _ = feed([ticket(n, T0 + timedelta(minutes=n)) for n in range(5)])
    later = ticket(70, T0 + timedelta(hours=3), severity=Severity.CRITICAL)
    state, facts = correlate(state, later, CONFIG)
    assert [type(f) for f in facts] == [TicketLinkedToIncident]
    incident = open_incident_for(state, "exchange", "westeurope")
    assert incident is not None
    assert incident.ticket_ids[-1] == "T-70"
    assert incident.severity is Severity.CRITICAL


def test_partner_categories_and_tickets_without_service_or_region_are_not_counted() -> None:
    partner = [ticket(n, T0, category=TicketCategory.BILLING_AND_SUBSCRIPTION) for n in range(10)]
    no_region = [ticket(n + 10, T0, region=None) for n in range(10)]
    state, facts = feed([*partner, *no_region])
    assert facts == []
    assert state.buckets == {}


def test_redelivered_tickets_do_not_count_twice() -> None:
    tickets = [ticket(n, T0 + timedelta(minutes=n)) for n in range(4)]
    _, facts = feed([*tickets, *tickets])
    assert facts == []


def test_redelivered_ticket_after_detection_is_not_linked_again() -> None:
    tickets = [ticket(n, T0 + timedelta(minutes=n)) for n in range(5)]
    state, _ = feed(tickets)
    _, facts = correlate(state, tickets[2], CONFIG)
    assert facts == []


def test_service_and_region_match_regardless_of_case_and_spaces() -> None:
    tickets = [
        ticket(n, T0 + timedelta(minutes=n), service=s, region=r)
        for n, (s, r) in enumerate(
            [("exchange", "westeurope"), ("Exchange", "WestEurope"), (" EXCHANGE ", "westeurope")]
            * 2
        )
    ]
    _, facts = feed(tickets)
    assert len(kinds(facts, IncidentDetected)) == 1


def test_resolving_the_incident_resolves_every_linked_ticket_once() -> None:
    state, facts = feed([ticket(n, T0 + timedelta(seconds=20 * n)) for n in range(8)])
    incident_id = kinds(facts, IncidentDetected)[0].incident_id
    at = T0 + timedelta(hours=2)
    state, facts = resolve_incident(state, incident_id, at)
    assert len(kinds(facts, IncidentResolved)) == 1
    resolved = kinds(facts, TicketResolvedByIncident)
    assert sorted(f.ticket_id for f in resolved) == sorted(f"T-{n}" for n in range(8))
    assert all(f.resolved_at == at for f in resolved)
    assert state.buckets == {}
    state, facts = resolve_incident(state, incident_id, at)
    assert facts == []


def test_after_resolution_a_new_burst_is_a_new_incident() -> None:
    state, facts = feed([ticket(n, T0 + timedelta(minutes=n)) for n in range(5)])
    first = kinds(facts, IncidentDetected)[0].incident_id
    state, _ = resolve_incident(state, first, T0 + timedelta(hours=1))
    burst = [ticket(100 + n, T0 + timedelta(hours=2, minutes=n)) for n in range(5)]
    _, facts = feed(burst, state)
    detected = kinds(facts, IncidentDetected)
    assert len(detected) == 1
    assert detected[0].incident_id != first
    assert len(kinds(facts, IncidentEscalationRequested)) == 1


def test_unknown_incident_resolution_changes_nothing() -> None:
    state, _ = feed([ticket(n, T0) for n in range(3)])
    new_state, facts = resolve_incident(state, "nope", T0)
    assert facts == []
    assert new_state == state


def test_state_survives_serialisation_between_tickets() -> None:
    tickets = [ticket(n, T0 + timedelta(seconds=30 * n)) for n in range(12)]
    state = CorrelationState()
    out: list[IncidentFact] = []
    for t in tickets:
        state = CorrelationState.model_validate_json(state.model_dump_json())
        state, facts = correlate(state, t, CONFIG)
        out.extend(facts)
    assert len(kinds(out, IncidentDetected)) == 1
    assert len(kinds(out, TicketLinkedToIncident)) == 12


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=20 * 60), min_size=1, max_size=60),
    regions=st.lists(st.sampled_from(["westeurope", "eastus", "uksouth"]), min_size=60),
)
def test_at_most_one_escalation_per_open_incident_and_every_link_is_unique(
    gaps: list[int], regions: list[str]
) -> None:
    at = T0
    tickets = []
    for n, gap in enumerate(gaps):
        at += timedelta(seconds=gap)
        tickets.append(ticket(n, at, region=regions[n]))
    state, facts = feed(tickets)
    detected = kinds(facts, IncidentDetected)
    escalations = kinds(facts, IncidentEscalationRequested)
    links = kinds(facts, TicketLinkedToIncident)
    # Nothing is resolved, so each region has at most one incident and one escalation.
    assert len(detected) == len(escalations) == len({d.region for d in detected})
    assert len({f.ticket_id for f in links}) == len(links)
    # Pending sightings never reach the threshold: the state stays small.
    assert all(len(b.sightings) < CONFIG.threshold for b in state.buckets.values())
    for d in detected:
        assert d.detected_at - d.window_start <= CONFIG.window
