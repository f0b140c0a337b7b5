"""GDAP tracking (create, sweep, notices, release) with a fake Partner Center, and the
escalation hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import uuid4

from hub.connectors.partner_center.errors import PartnerCenterError
from hub.connectors.partner_center.relationships import (
    DelegatedAdminRelationship,
)
from hub.domain.enums import Severity, TicketCategory
from hub.domain.orders import ReferenceView
from hub.domain.relationships.customers import AgreementStatus
from hub.domain.relationships.gdap import DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR
from hub.domain.support.ticket import Channel, Ticket
from hub.schemas.envelope import new_event_id
from hub.schemas.events.relationships import (
    GdapApprovalNeeded,
    GdapExpiryNotice,
    GdapRelationshipRequested,
    GdapRelationshipUpdated,
    RelationshipSweepTick,
)
from hub.schemas.events.support import TicketUpdated
from hub.streams.relationships.agreements import AgreementBook
from hub.streams.relationships.drift import DriftSweep
from hub.streams.relationships.escalation_gate import gdap_hold
from hub.streams.relationships.flow import Requests
from hub.streams.relationships.gdap import GdapTracker
from hub.streams.relationships.gdap_book import GdapBook
from hub.streams.relationships.onboarding import OnboardingRecord, state_key
from hub.streams.support.records import EscalationRecord
from hub.topics import TopicCatalog
from tests.support.relationships_partner_center import FakePartnerCenter

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
CATALOG = TopicCatalog()


def _tracker() -> tuple[GdapTracker, FakePartnerCenter, dict[str, object]]:
    pc = FakePartnerCenter(NOW)
    state: dict[str, object] = {
        state_key("A", "c1"): OnboardingRecord(
            request_id="r", microsoft_customer_id="ms-1", domain="c1.onmicrosoft.com"
        ).model_dump(mode="json")
    }
    ref = ReferenceView(resellers={}, customers={}, catalogue={}, prices={})
    tracker = GdapTracker(CATALOG, lambda: ref, state, pc, page=10, clock=lambda: NOW)
    return tracker, pc, state


def _tick() -> RelationshipSweepTick:
    return RelationshipSweepTick(
        event_id=new_event_id(), event_time=NOW, correlation_id="tick", partition=0
    )


async def _created(tracker: GdapTracker) -> str:
    request = GdapRelationshipRequested(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="g1",
        reseller_id="A",
        customer_id="c1",
        display_name="c1-support",
        roles=(DIRECTORY_READERS,),
    )
    emits = await tracker.on_request(request)
    updated = emits[0].event
    assert isinstance(updated, GdapRelationshipUpdated)
    assert emits[0].topic == "ref.customer-gdap"
    assert updated.status == "approvalPending"
    return updated.relationship_id


async def test_a_held_ticket_is_released_by_the_tick_after_the_role_is_granted():
    tracker, pc, state = _tracker()
    rel_id = await _created(tracker)
    task = GdapApprovalNeeded(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="t1",
        reseller_id="A",
        customer_id="c1",
        ticket_id="T-1",
        correlation_key="exchange|eu",
        missing_role=SERVICE_SUPPORT_ADMINISTRATOR,
        message="no active GDAP relationship",
    )
    await tracker.on_task(task)
    assert [e for e in await tracker.on_tick(_tick()) if isinstance(e.event, TicketUpdated)] == []

    pc.approve(
        rel_id, [DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR], NOW + timedelta(days=700)
    )
    first = await tracker.on_tick(_tick())
    assert [type(e.event).__name__ for e in first] == ["GdapRelationshipUpdated"] * 2

    async def unreachable(ms_id: str, **_: str) -> list[DelegatedAdminRelationship]:
        raise PartnerCenterError("refused", operation="list_gdap", retriable=True)

    list_gdap = pc.list_gdap
    pc.list_gdap = unreachable  # type: ignore[method-assign]
    assert await tracker.on_tick(_tick()) == []  # Partner Center down: the sweep stops there
    assert [k for k in state if k.startswith("gdapwait|")]  # and the ticket is still held
    pc.list_gdap = list_gdap  # type: ignore[method-assign]
    second = await tracker.on_tick(_tick())
    released = [e for e in second if isinstance(e.event, TicketUpdated)]
    assert [(e.topic, e.key, e.event.status) for e in released] == [
        ("hub.support.correlation", "exchange|eu", "escalated")
    ]
    assert not [k for k in state if k.startswith("gdapwait|")]


async def test_expiry_notices_go_to_the_reseller_once_per_threshold():
    tracker, pc, _ = _tracker()
    rel_id = await _created(tracker)
    pc.approve(rel_id, [SERVICE_SUPPORT_ADMINISTRATOR], NOW + timedelta(days=6))
    emits = await tracker.on_tick(_tick())
    notices = [e for e in emits if isinstance(e.event, GdapExpiryNotice)]
    assert [(e.topic, e.event.threshold_days) for e in notices] == [
        ("partner.A.status", 7),
        ("hub.relationships.events", 7),
    ]
    again = await tracker.on_tick(_tick())
    assert not [e for e in again if isinstance(e.event, GdapExpiryNotice)]


def _record() -> EscalationRecord:
    return EscalationRecord(
        ref="T-9",
        kind="ticket",
        correlation_key="exchange|eu",
        partition=0,
        cause_event_id=uuid4(),
        correlation_id="t9",
        reseller_id="A",
        destination="partner.A.support",
    )


def _ticket(customer: str) -> Ticket:
    return Ticket(
        ticket_id="T-9",
        reseller_id="A",
        customer_id=customer,
        category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
        severity=Severity.CRITICAL,
        description="Exchange down",
        product="Exchange Online",
        channel=Channel.PORTAL,
        opened_at=NOW,
    )


def test_a_customer_the_hub_does_not_track_is_filed_as_before():
    assert (
        gdap_hold(
            CATALOG, _record(), _ticket("ref-only"), NOW, GdapBook(agreements=AgreementBook())
        )
        is None
    )


def test_a_tracked_customer_without_a_support_role_is_held_with_a_task_and_a_note():
    agreements = AgreementBook()
    agreements.status["c1"] = AgreementStatus.ACCEPTED
    book = GdapBook(agreements=agreements)
    held = gdap_hold(CATALOG, _record(), _ticket("c1"), NOW, book)
    assert held is not None
    topics = [e.topic for e in held]
    assert topics == [
        "partner.A.support",
        "hub.relationships.requests",
        "partner.A.status",
        "hub.support.events",
        "hub.support.ticket-commands",
    ]
    # The support intake agent hears of the hold in the ticket's partition (keyed by reseller).
    assert (held[-1].key, type(held[-1].event)) == ("A", GdapApprovalNeeded)
    note = held[0].event
    assert isinstance(note, TicketUpdated)
    assert "SLA clock keeps running" in (note.note or "")
    assert "Service Support Administrator" in (note.note or "")


async def test_a_tick_older_than_two_sweep_intervals_is_skipped_without_asking_partner_center():
    tracker, pc, state = _tracker()
    await _created(tracker)
    asked: list[str] = []
    list_gdap = pc.list_gdap

    async def counted(ms_id: str, **kw: str) -> list[DelegatedAdminRelationship]:
        asked.append(ms_id)
        return await list_gdap(ms_id, **kw)

    pc.list_gdap = counted  # type: ignore[method-assign]
    drift = DriftSweep(CATALOG, state, cast(Any, pc), tracker.microsoft_id, clock=lambda: NOW)
    requests = Requests(cast(Any, None), tracker, drift, "billing", sweep_every_s=60)
    old = _tick().model_copy(update={"event_time": NOW - timedelta(seconds=121)})
    assert await requests.handle(old) == []
    assert asked == []
    recent = _tick().model_copy(update={"event_time": NOW - timedelta(seconds=119)})
    await requests.handle(recent)
    assert asked == ["ms-1"]
