"""GDAP before escalation, end to end: a real broker and worker, the simulator as a process.

A customer onboarded through the hub gets a GDAP relationship without a support role; its
critical ticket is held (a task to the reseller, a note on the ticket saying why it waits while
its SLA clock runs, an SLA warning meanwhile that says what it waits for) until the customer
grants Service Support Administrator at Microsoft; the sweep sees the grant and the ticket is
filed at Microsoft once.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import ResellerProfile
from hub.domain.relationships.customers import Address, Contact
from hub.domain.relationships.gdap import DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events.relationships import (
    CustomerOnboarded,
    CustomerOnboardingRequested,
    GdapApprovalNeeded,
    GdapRelationshipRequested,
    GdapRelationshipUpdated,
)
from hub.schemas.events.support import SlaWarning, TicketEscalated, TicketOpened, TicketUpdated
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import WorkerHub, envelope, reference_events
from tests.support.simulator import partner_center

RESELLER = "gdapres"
# SLA targets in seconds: the first-response warning comes half-way, while the ticket still waits
# for the grant (the test grants the role only after seeing it).
FIRST_RESPONSE_S = 40
SLA_TARGETS = {s.value: [FIRST_RESPONSE_S, 3600] for s in Severity}
CONTACT = Contact(first_name="Ada", last_name="Lee", email="ada@example.com")


@pytest.fixture(scope="module")
def hub(
    kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerHub, str]]:
    tmp = tmp_path_factory.mktemp("gdap")
    prefix = f"t.gdap.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all([RESELLER])))
    reseller = ResellerProfile(
        reseller_id=RESELLER,
        partner_id="4199002",
        name="GDAP Reseller",
        country="DE",
        currency="EUR",
        languages=("de", "en"),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=1_000_000,
        payment_terms_days=30,
    )
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"gdap-e2e-{uuid.uuid4().hex[:8]}",
            env={
                "HUB_PARTNER_CENTER_URL": url,
                "HUB_SUPPORT_POLL_S": "1",
                "HUB_SUPPORT_SLA_TICK_S": "1",
                "HUB_SUPPORT_SLA_TARGETS_S": json.dumps(SLA_TARGETS),
                "HUB_SUPPORT_SLA_WARN_PERCENT": "50",
                "HUB_RELATIONSHIPS_SWEEP_S": "1",
            },
        )
        hub = WorkerHub(kafka, catalog, worker)
        try:
            hub.publish(reference_events(catalog, resellers=[reseller]))
            worker.start().wait_ready()
            yield hub, url
        finally:
            worker.stop()


def _admin(url: str, method: str, path: str, body: object | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _send(hub: WorkerHub, topic: Topic, event: Event) -> None:
    hub.publish([Outgoing(hub.catalog.name(topic), event.reseller_id or "", event)])


def _of(events: list[Event], kind: type[Event], **match: object) -> list[Any]:
    """Matching events, each once (a redelivered output repeats its event id)."""
    found = {
        e.event_id: e
        for e in events
        if isinstance(e, kind) and all(getattr(e, k, None) == v for k, v in match.items())
    }
    return list(found.values())


def test_escalation_waits_for_the_gdap_support_role_then_files_once(hub) -> None:
    worker_hub, url = hub
    customer_id = f"gd{uuid.uuid4().hex[:8]}"
    onboarding = CustomerOnboardingRequested(
        **envelope(RESELLER),
        request_id=f"req-{customer_id}",
        customer_id=customer_id,
        company_name=f"Company {customer_id}",
        domain=customer_id,
        address=Address(
            address_line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE"
        ),
        contact=CONTACT,
        language="de",
        currency="EUR",
        agreement_template_id="mca-2024-01",
        agreement_date=datetime.now(UTC) - timedelta(hours=1),
        accepted_by=CONTACT,
    )
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, onboarding)
    status = lambda: worker_hub.partner(RESELLER, PartnerTopic.STATUS)  # noqa: E731
    worker_hub.wait_for(
        "CustomerOnboarded", lambda: _of(status(), CustomerOnboarded, customer_id=customer_id)
    )

    request = GdapRelationshipRequested(
        **envelope(RESELLER),
        customer_id=customer_id,
        display_name=f"{customer_id}-admin",
        roles=(DIRECTORY_READERS,),
    )
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, request)
    events = lambda: worker_hub.read(Topic.RELATIONSHIP_EVENTS)  # noqa: E731
    worker_hub.wait_for(
        "the relationship", lambda: _of(events(), GdapRelationshipUpdated, customer_id=customer_id)
    )
    (created,) = _of(events(), GdapRelationshipUpdated, customer_id=customer_id)
    assert created.status == "approvalPending"
    _admin(url, "POST", f"/admin/gdap/{created.relationship_id}", {"status": "active"})
    worker_hub.wait_for(
        "the relationship active",
        lambda: _of(events(), GdapRelationshipUpdated, customer_id=customer_id, status="active"),
    )

    requests_before = _admin(url, "GET", "/admin/state")["serviceRequests"]
    opened = TicketOpened(
        **envelope(RESELLER),
        ticket_id=f"t-{uuid.uuid4().hex[:12]}",
        customer_id=customer_id,
        title="Mailbox unreachable",
        description="No user can open their mailbox.",
        category=TicketCategory.BUG,
        severity=Severity.CRITICAL,
        language="de",
        service="exchange",
        region="eu-west",
    )
    _send(worker_hub, Topic.TICKETS, opened)
    worker_hub.wait_for(
        "the task to the reseller",
        lambda: _of(status(), GdapApprovalNeeded, ticket_id=opened.ticket_id),
    )
    (task,) = _of(status(), GdapApprovalNeeded, ticket_id=opened.ticket_id)
    assert task.missing_role == SERVICE_SUPPORT_ADMINISTRATOR
    assert task.relationship_id == created.relationship_id
    support = lambda: worker_hub.partner(RESELLER, PartnerTopic.SUPPORT)  # noqa: E731
    worker_hub.wait_for(
        "the waiting note", lambda: _of(support(), TicketUpdated, ticket_id=opened.ticket_id)
    )
    (note,) = _of(support(), TicketUpdated, ticket_id=opened.ticket_id)
    assert note.status == "attention_needed"
    assert "Service Support Administrator" in note.note
    assert "SLA clock keeps running" in note.note
    support_events = lambda: worker_hub.read(Topic.SUPPORT_EVENTS)  # noqa: E731
    assert not _of(support_events(), TicketEscalated, ticket_id=opened.ticket_id)
    assert _admin(url, "GET", "/admin/state")["serviceRequests"] == requests_before

    # The SLA clock keeps running and its warning says why the ticket waits, on its queue.
    worker_hub.wait_for(
        "the SLA warning", lambda: _of(support(), SlaWarning, ticket_id=opened.ticket_id)
    )
    (warning,) = _of(support(), SlaWarning, ticket_id=opened.ticket_id)
    assert warning.target == "initial_response"
    assert warning.waiting_for == "gdap_support_role"
    assert customer_id in (warning.waiting_reason or "")
    assert "Service Support Administrator" in (warning.waiting_reason or "")
    assert not _of(support_events(), TicketEscalated, ticket_id=opened.ticket_id)

    _admin(
        url,
        "POST",
        f"/admin/gdap/{created.relationship_id}",
        {"addRoles": [SERVICE_SUPPORT_ADMINISTRATOR]},
    )
    worker_hub.wait_for(
        "TicketEscalated",
        lambda: _of(support_events(), TicketEscalated, ticket_id=opened.ticket_id),
    )
    assert _admin(url, "GET", "/admin/state")["serviceRequests"] == requests_before + 1
    assert len(_of(support_events(), TicketEscalated, ticket_id=opened.ticket_id)) == 1


def test_the_worker_stops_with_its_partner_center_sessions_closed(
    hub: tuple[WorkerHub, str],
) -> None:
    """The escalation and relationships ports each opened an HTTP session above; a stop closes
    them (aiohttp logs an "Unclosed client session" error for one left open)."""
    worker = hub[0].worker
    assert "serviceRequests" in _admin(hub[1], "GET", "/admin/state")
    assert worker.stop() == 0
    log = worker.log_text()
    assert "--- start" in log
    assert "Unclosed client session" not in log
