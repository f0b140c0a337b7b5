"""Incident correlation: many escalatable tickets about one service and region in a short window
are one incident, escalated to Microsoft once, with every ticket linked to it.

The state is a small pydantic model meant for a changelog-backed table: per service and region
it holds fewer than ``threshold`` recent sightings and at most one open incident.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.domain.enums import Severity
from hub.domain.support.ticket import Ticket
from hub.domain.support.triage import is_escalatable, severity_rank

# Fixed namespace: the same service, region and window start give the same incident id on every
# worker and every replay.
INCIDENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hub:support:incident")


class CorrelationConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    window: timedelta = timedelta(minutes=10)
    threshold: int = Field(default=5, ge=1)


class Sighting(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    opened_at: AwareDatetime
    severity: Severity


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: str
    service: str
    region: str
    window_start: AwareDatetime
    detected_at: AwareDatetime
    severity: Severity
    ticket_ids: tuple[str, ...]


class Bucket(BaseModel):
    """What is known about one service and region."""

    model_config = ConfigDict(frozen=True)

    newest: AwareDatetime | None = None
    sightings: tuple[Sighting, ...] = ()
    open_incident: Incident | None = None


class CorrelationState(BaseModel):
    model_config = ConfigDict(frozen=True)

    buckets: dict[str, Bucket] = Field(default_factory=dict)


class IncidentDetected(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["incident_detected"] = "incident_detected"
    incident_id: str
    service: str
    region: str
    window_start: AwareDatetime
    detected_at: AwareDatetime
    severity: Severity
    ticket_ids: tuple[str, ...]


class IncidentEscalationRequested(BaseModel):
    """Open one Microsoft service request for the whole incident."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["incident_escalation_requested"] = "incident_escalation_requested"
    incident_id: str
    service: str
    region: str
    severity: Severity
    ticket_count: int


class TicketLinkedToIncident(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["ticket_linked_to_incident"] = "ticket_linked_to_incident"
    ticket_id: str
    incident_id: str


class IncidentResolved(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["incident_resolved"] = "incident_resolved"
    incident_id: str
    resolved_at: AwareDatetime
    ticket_ids: tuple[str, ...]


class TicketResolvedByIncident(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["ticket_resolved_by_incident"] = "ticket_resolved_by_incident"
    ticket_id: str
    incident_id: str
    resolved_at: AwareDatetime


IncidentFact = (
    IncidentDetected
    | IncidentEscalationRequested
    | TicketLinkedToIncident
    | IncidentResolved
    | TicketResolvedByIncident
)


def _norm(value: str) -> str:
    return value.strip().lower()


def correlation_key(service: str, region: str) -> str:
    """The key tickets are grouped (and the state table partitioned) by."""
    return f"{_norm(service)}|{_norm(region)}"


def incident_id_for(service: str, region: str, window_start: datetime) -> str:
    stamp = window_start.astimezone(UTC).isoformat()
    return str(uuid.uuid5(INCIDENT_NAMESPACE, f"{correlation_key(service, region)}|{stamp}"))


def _worst(severities: list[Severity]) -> Severity:
    return max(severities, key=severity_rank)


def _with_bucket(state: CorrelationState, key: str, bucket: Bucket) -> CorrelationState:
    buckets = dict(state.buckets)
    if not bucket.sightings and bucket.open_incident is None:
        buckets.pop(key, None)
    else:
        buckets[key] = bucket
    return CorrelationState(buckets=buckets)


def _join(
    state: CorrelationState,
    key: str,
    bucket: Bucket,
    incident: Incident,
    ticket: Ticket,
    window: timedelta,
) -> tuple[CorrelationState, list[IncidentFact]]:
    # Tickets arrive in no particular order across resellers (each reseller's partition is read
    # at its own pace), so one opened a little before the incident's first ticket, within one
    # window of it, is the same problem; one opened earlier still is an older, separate one.
    too_old = ticket.opened_at < incident.window_start - window
    if ticket.ticket_id in incident.ticket_ids or too_old:
        return state, []
    joined = incident.model_copy(
        update={
            "ticket_ids": (*incident.ticket_ids, ticket.ticket_id),
            "severity": _worst([incident.severity, ticket.severity]),
        }
    )
    newest = max(bucket.newest or ticket.opened_at, ticket.opened_at)
    new_bucket = bucket.model_copy(update={"open_incident": joined, "newest": newest})
    fact = TicketLinkedToIncident(ticket_id=ticket.ticket_id, incident_id=incident.incident_id)
    return _with_bucket(state, key, new_bucket), [fact]


def _detect(
    service: str, region: str, sightings: list[Sighting]
) -> tuple[Incident, list[IncidentFact]]:
    ordered = sorted(sightings, key=lambda s: (s.opened_at, s.ticket_id))
    window_start = ordered[0].opened_at
    # Detected as of the latest ticket that made the threshold, whichever was read last:
    # tickets arrive in no particular order across resellers, and the incident's window (the
    # service-credit claim's) must not end before a ticket in it was opened.
    at = ordered[-1].opened_at
    ids = tuple(s.ticket_id for s in ordered)
    severity = _worst([s.severity for s in ordered])
    incident = Incident(
        incident_id=incident_id_for(service, region, window_start),
        service=_norm(service),
        region=_norm(region),
        window_start=window_start,
        detected_at=at,
        severity=severity,
        ticket_ids=ids,
    )
    facts: list[IncidentFact] = [
        IncidentDetected(
            incident_id=incident.incident_id,
            service=incident.service,
            region=incident.region,
            window_start=window_start,
            detected_at=at,
            severity=severity,
            ticket_ids=ids,
        ),
        IncidentEscalationRequested(
            incident_id=incident.incident_id,
            service=incident.service,
            region=incident.region,
            severity=severity,
            ticket_count=len(ids),
        ),
    ]
    facts.extend(TicketLinkedToIncident(ticket_id=i, incident_id=incident.incident_id) for i in ids)
    return incident, facts


def correlate(
    state: CorrelationState, ticket: Ticket, config: CorrelationConfig
) -> tuple[CorrelationState, list[IncidentFact]]:
    """Count an escalatable ticket towards its service and region; detect or join an incident.

    Tickets of partner categories, or without a service and region, change nothing. A ticket
    seen before (a redelivery) changes nothing.
    """
    if not is_escalatable(ticket.category) or ticket.service is None or ticket.region is None:
        return state, []
    key = correlation_key(ticket.service, ticket.region)
    bucket = state.buckets.get(key, Bucket())
    if bucket.open_incident is not None:
        return _join(state, key, bucket, bucket.open_incident, ticket, config.window)
    if any(s.ticket_id == ticket.ticket_id for s in bucket.sightings):
        return state, []
    at = ticket.opened_at
    newest = max(bucket.newest or at, at)
    horizon = newest - config.window
    if at < horizon:
        # Arrived too late to share a window with what we already saw.
        return state, []
    sightings = [s for s in bucket.sightings if s.opened_at >= horizon]
    sightings.append(Sighting(ticket_id=ticket.ticket_id, opened_at=at, severity=ticket.severity))
    if len(sightings) < config.threshold:
        new_bucket = Bucket(newest=newest, sightings=tuple(sightings))
        return _with_bucket(state, key, new_bucket), []
    incident, facts = _detect(ticket.service, ticket.region, sightings)
    return _with_bucket(state, key, Bucket(newest=newest, open_incident=incident)), facts


def find_incident(state: CorrelationState, incident_id: str) -> Incident | None:
    for bucket in state.buckets.values():
        if bucket.open_incident is not None and bucket.open_incident.incident_id == incident_id:
            return bucket.open_incident
    return None


def open_incident_for(state: CorrelationState, service: str, region: str) -> Incident | None:
    bucket = state.buckets.get(correlation_key(service, region))
    return None if bucket is None else bucket.open_incident


def resolve_incident(
    state: CorrelationState, incident_id: str, at: datetime
) -> tuple[CorrelationState, list[IncidentFact]]:
    """Close an open incident and resolve every linked ticket; unknown or closed ids are no-ops."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    at = at.astimezone(UTC)
    incident = find_incident(state, incident_id)
    if incident is None:
        return state, []
    key = correlation_key(incident.service, incident.region)
    bucket = state.buckets[key].model_copy(update={"open_incident": None})
    facts: list[IncidentFact] = [
        IncidentResolved(incident_id=incident_id, resolved_at=at, ticket_ids=incident.ticket_ids)
    ]
    facts.extend(
        TicketResolvedByIncident(ticket_id=t, incident_id=incident_id, resolved_at=at)
        for t in incident.ticket_ids
    )
    return _with_bucket(state, key, bucket), facts
