"""Support flow end to end: a real broker, a real worker, the Partner Center simulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import Brand, Customer, ResellerProfile
from hub.ops.local_kafka import free_port
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.events.support import TicketOpened
from hub.streams.support.config import SupportConfig
from hub.streams.support.topics import desk_queue_specs
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import envelope, events_in, read_events, wait_until

CODEC = Codec()
BRAND = Brand(display_name="Woodgrove IT", signature="Ihr Woodgrove-Team", reply_to="hilfe@wg.de")


def _last_wednesday_morning() -> datetime:
    """The latest Wednesday 10:00 UTC before now: within the week the hub admits event times."""
    now = datetime.now(UTC)
    day = now - timedelta(days=(now.weekday() - 2) % 7)
    at = day.replace(hour=10, minute=0, second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=7)


# A Wednesday when Berlin's team is on shift: the desk route does not depend on the test's hour.
DESK_HOURS = _last_wednesday_morning()


def reseller(reseller_id: str, mode: SupportMode) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=reseller_id,
        partner_id="1234567",
        name=f"{reseller_id} GmbH",
        country="DE",
        currency="EUR",
        languages=("de", "en"),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=mode,
        credit_limit_minor=1_000_000,
        payment_terms_days=30,
        brand=BRAND if mode is SupportMode.DISTRIBUTOR_WHITE_LABEL else None,
    )


def customer(customer_id: str, reseller_id: str) -> Customer:
    return Customer(
        customer_id=customer_id,
        reseller_id=reseller_id,
        name=f"{customer_id} AG",
        country="DE",
        language="de",
        currency="EUR",
        tenant_domain=f"{customer_id}.onmicrosoft.com",
    )


def ticket(
    reseller_id: str,
    customer_id: str,
    *,
    at: datetime | None = None,
    category: TicketCategory = TicketCategory.QUESTIONS,
    severity: Severity = Severity.MINIMAL,
    service: str = "exchange",
    region: str | None = "eu-west",
) -> TicketOpened:
    return TicketOpened(
        **envelope(reseller_id, at or datetime.now(UTC)),
        ticket_id=f"t-{uuid.uuid4().hex[:12]}",
        customer_id=customer_id,
        title="Mailbox unreachable",
        description="No user can open their mailbox.",
        category=category,
        severity=severity,
        language="de",
        service=service,
        region=region,
    )


RESELLERS = ("own1", "own2", "wl1")
CUSTOMERS = (("c-own1", "own1"), ("c-own2", "own2"), ("c-wl1", "wl1"))


@dataclass
class Hub:
    bootstrap: str
    catalog: TopicCatalog
    sim_url: str
    worker: WorkerProcess

    def publish(self, *events: Event, topic: Topic = Topic.TICKETS) -> None:
        items = [Outgoing(self.catalog.name(topic), e.reseller_id or "", e) for e in events]
        asyncio.run(publish(self.bootstrap, CODEC, items))

    def read(self, topic: str) -> list[Event]:
        return read_events(self.bootstrap, topic)

    def wait_for(self, topic: str, predicate: Any, timeout_s: float = 60.0) -> list[Event]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = [e for e in self.read(topic) if predicate(e)]
            if found or time.monotonic() > deadline:
                return found
            assert self.worker.running(), self.worker.log_tail()
            time.sleep(0.5)

    def sim_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.sim_url}/admin/state", timeout=5) as response:
            return dict(json.loads(response.read()))

    def microsoft_sets(self, sr_id: str, status: str, note: str) -> None:
        body = json.dumps({"status": status, "note": note}).encode()
        request = urllib.request.Request(
            f"{self.sim_url}/admin/servicerequests/{sr_id}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5):
            pass


def wait_for_reference(worker: WorkerProcess, customers: int) -> None:
    def reached() -> bool:
        return events_in(worker, "CustomerUpserted") >= customers

    wait_until("reference data", reached, worker, 60)


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("support")
    prefix = f"t.support.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    specs = (*catalog.all(RESELLERS), *desk_queue_specs(catalog, SupportConfig().desk()))
    asyncio.run(apply_topics(kafka.bootstrap, specs))
    port = free_port()
    sim_log = (tmp / "sim.log").open("wb")
    sim = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "partner-center", "--port", str(port)],
        stdout=sim_log,
        stderr=subprocess.STDOUT,
    )
    sim_url = f"http://127.0.0.1:{port}"
    worker = WorkerProcess(
        kafka.bootstrap,
        tmp,
        topic_prefix=prefix,
        app_id=f"support-{uuid.uuid4().hex[:8]}",
        env={
            "HUB_PARTNER_CENTER_URL": sim_url,
            "HUB_SUPPORT_POLL_S": "1",
            "HUB_SUPPORT_SLA_TICK_S": "2",
        },
    )
    h = Hub(kafka.bootstrap, catalog, sim_url, worker)
    try:
        at = datetime.now(UTC)
        h.publish(
            *(
                ResellerUpserted(**envelope(r, at), reseller=reseller(r, _mode(r)))
                for r in RESELLERS
            ),
            topic=Topic.RESELLERS,
        )
        h.publish(
            *(CustomerUpserted(**envelope(r, at), customer=customer(c, r)) for c, r in CUSTOMERS),
            topic=Topic.CUSTOMERS,
        )
        worker.start().wait_ready()
        wait_for_reference(worker, len(CUSTOMERS))
        h.sim_state()  # the simulator answers
        yield h
    finally:
        worker.stop()
        sim.terminate()
        sim.wait(timeout=30)


def _mode(reseller_id: str) -> SupportMode:
    if reseller_id.startswith("own"):
        return SupportMode.RESELLER_OWN
    return SupportMode.DISTRIBUTOR_WHITE_LABEL


def _about(ticket_id: str) -> Any:
    return lambda e: getattr(e, "ticket_id", None) == ticket_id


def test_reseller_supported_ticket_lands_on_that_resellers_topic_only(hub: Hub) -> None:
    opened = ticket("own1", "c-own1")
    hub.publish(opened)

    own = hub.wait_for(hub.catalog.partner("own1", PartnerTopic.SUPPORT), _about(opened.ticket_id))
    ops = hub.wait_for(hub.catalog.name(Topic.SUPPORT_EVENTS), _about(opened.ticket_id))

    assert [type(e).__name__ for e in own] == ["TicketRouted"]
    routed = own[0]
    assert routed.desk == "reseller"
    assert routed.brand is None
    assert ops == own
    assert not hub.read(hub.catalog.partner("own2", PartnerTopic.SUPPORT))
    assert not hub.read(hub.catalog.partner("wl1", PartnerTopic.SUPPORT))


def test_customer_of_another_reseller_is_dead_lettered(hub: Hub) -> None:
    stolen = ticket("own2", "c-own1")
    hub.publish(stolen)

    dead = hub.wait_for(
        hub.catalog.dead_letter(hub.catalog.name(Topic.TICKETS)), _about(stolen.ticket_id)
    )

    assert dead
    assert not list(hub.read(hub.catalog.partner("own2", PartnerTopic.SUPPORT)))


def test_outsourced_ticket_lands_on_the_desk_queue_in_the_resellers_brand(hub: Hub) -> None:
    opened = ticket("wl1", "c-wl1", at=DESK_HOURS)
    hub.publish(opened)

    queue = hub.catalog.prefix + "desk.emea.de"
    routed = hub.wait_for(queue, _about(opened.ticket_id))

    assert routed, hub.worker.log_tail()
    event = routed[0]
    assert event.brand == BRAND  # type: ignore[attr-defined]
    assert event.team == "emea"
    assert event.language == "de"
    assert not hub.read(hub.catalog.partner("wl1", PartnerTopic.SUPPORT))


def test_escalatable_ticket_opens_one_service_request_and_microsofts_update_comes_back(
    hub: Hub,
) -> None:
    before = hub.sim_state()["serviceRequests"]
    opened = ticket(
        "own1",
        "c-own1",
        category=TicketCategory.BUG,
        severity=Severity.CRITICAL,
        service="teams",
        region="us-east",
    )
    hub.publish(opened)
    events = hub.catalog.name(Topic.SUPPORT_EVENTS)
    escalated = hub.wait_for(
        events, lambda e: _about(opened.ticket_id)(e) and type(e).__name__ == "TicketEscalated"
    )
    assert escalated, hub.worker.log_tail()
    sr_id = escalated[0].service_request_id  # type: ignore[attr-defined]
    hub.publish(opened)  # a redelivery never opens a second request

    hub.microsoft_sets(sr_id, "attention_needed", "Please send the tenant logs")
    updates = hub.wait_for(
        events,
        lambda e: _about(opened.ticket_id)(e) and getattr(e, "author", None) == "microsoft",
    )

    assert hub.sim_state()["serviceRequests"] == before + 1
    assert updates, hub.worker.log_tail()
    assert updates[0].status == "attention_needed"  # type: ignore[attr-defined]
    assert "tenant logs" in updates[0].note  # type: ignore[attr-defined]
    own = hub.read(hub.catalog.partner("own1", PartnerTopic.SUPPORT))
    assert any(
        getattr(e, "author", None) == "microsoft" for e in own if _about(opened.ticket_id)(e)
    )


def test_twenty_tickets_about_one_service_and_region_are_one_incident_escalated_once(
    hub: Hub,
) -> None:
    before = hub.sim_state()["serviceRequests"]
    start = datetime.now(UTC) - timedelta(minutes=30)
    owners = [("own1", "c-own1"), ("own2", "c-own2"), ("wl1", "c-wl1")]
    tickets = [
        ticket(
            *owners[i % 3],
            at=start + timedelta(seconds=25 * i),
            category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
            severity=Severity.MODERATE,
            service="sharepoint",
            region="eu-north",
        )
        for i in range(20)
    ]
    hub.publish(*tickets)
    incidents_topic = hub.catalog.name(Topic.INCIDENTS)
    detected = hub.wait_for(incidents_topic, lambda e: getattr(e, "service", "") == "sharepoint")
    ids = {t.ticket_id for t in tickets}
    events = hub.catalog.name(Topic.SUPPORT_EVENTS)
    linked = hub.wait_for(
        events,
        lambda e: type(e).__name__ == "TicketEscalated" and e.ticket_id in ids,
    )
    deadline = time.monotonic() + 30
    while len({e.ticket_id for e in linked}) < 20 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.5)
        linked = [
            e
            for e in hub.read(events)
            if type(e).__name__ == "TicketEscalated" and e.ticket_id in ids
        ]  # type: ignore[attr-defined]

    assert len(detected) == 1, hub.worker.log_tail()
    incident_id = detected[0].incident_id  # type: ignore[attr-defined]
    # The resellers of the tickets that crossed the threshold: which ones those are depends on
    # the order the tickets' partitions are read in; every later ticket is linked below.
    assert set(detected[0].reseller_ids) <= {"own1", "own2", "wl1"}  # type: ignore[attr-defined]
    assert detected[0].reseller_ids  # type: ignore[attr-defined]
    assert {e.ticket_id for e in linked} == ids  # type: ignore[attr-defined]
    assert {e.incident_id for e in linked} == {incident_id}  # type: ignore[attr-defined]
    assert len({e.service_request_id for e in linked}) == 1  # type: ignore[attr-defined]
    assert hub.sim_state()["serviceRequests"] == before + 1

    hub.microsoft_sets(linked[0].service_request_id, "closed", "Fixed in eu-north")  # type: ignore[attr-defined]
    resolved = hub.wait_for(
        events, lambda e: type(e).__name__ == "TicketResolved" and e.ticket_id in ids
    )
    deadline = time.monotonic() + 30
    while len(resolved) < 20 and time.monotonic() < deadline:
        time.sleep(0.5)
        resolved = [
            e
            for e in hub.read(events)
            if type(e).__name__ == "TicketResolved" and e.ticket_id in ids
        ]  # type: ignore[attr-defined]
    assert {e.ticket_id for e in resolved} == ids  # type: ignore[attr-defined]


def _hub_cli(hub: Hub, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": hub.bootstrap,
        "HUB_TOPIC_PREFIX": hub.catalog.prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "support", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_ops_resolving_an_incident_resolves_its_tickets_and_the_queue_view_shows_them(
    hub: Hub,
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=20)
    tickets = [
        ticket(
            "own2",
            "c-own2",
            at=start + timedelta(seconds=10 * i),
            category=TicketCategory.REGIONAL_MULTI_TENANT_IMPACT,
            severity=Severity.MINIMAL,
            service="intune",
            region="ap-south",
        )
        for i in range(5)
    ]
    hub.publish(*tickets)
    detected = hub.wait_for(
        hub.catalog.name(Topic.INCIDENTS), lambda e: getattr(e, "service", "") == "intune"
    )
    assert detected, hub.worker.log_tail()
    queues_before = _hub_cli(hub, "queues").stdout

    _hub_cli(hub, "resolve-incident", detected[0].incident_id)  # type: ignore[attr-defined]
    ids = {t.ticket_id for t in tickets}
    own = hub.catalog.partner("own2", PartnerTopic.SUPPORT)
    deadline = time.monotonic() + 60
    resolved: set[str] = set()
    while resolved != ids and time.monotonic() < deadline:
        time.sleep(0.5)
        resolved = {
            e.ticket_id  # type: ignore[attr-defined]
            for e in hub.read(own)
            if type(e).__name__ == "TicketResolved" and getattr(e, "ticket_id", "") in ids
        }

    assert resolved == ids, hub.worker.log_tail()
    assert "| partner.own2.support | de | minimal |" in queues_before
    assert "| desk.emea.de | de |" in queues_before
