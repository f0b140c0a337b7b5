"""SLA timers survive a crash: a breach pending when the worker dies fires once after restart."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.events.support import SlaBreached, SlaWarning, TicketOpened, TicketRouted
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import envelope, events_in, read_events, wait_until

CODEC = Codec()
FIRST_RESPONSE_S = 15


def test_worker_killed_with_a_pending_breach_fires_it_exactly_once_after_restart(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.sla.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all(["slaown"])))
    now = datetime.now(UTC)
    profile = ResellerProfile(
        reseller_id="slaown",
        partner_id="7654321",
        name="Sla Own",
        country="DE",
        currency="EUR",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=0,
        payment_terms_days=30,
    )
    cust = Customer(
        customer_id="c-sla",
        reseller_id="slaown",
        name="Sla AG",
        country="DE",
        language="en",
        currency="EUR",
    )
    asyncio.run(
        publish(
            kafka.bootstrap,
            CODEC,
            [
                Outgoing(
                    catalog.name(Topic.RESELLERS),
                    "slaown",
                    ResellerUpserted(**envelope("slaown", now), reseller=profile),
                ),
                Outgoing(
                    catalog.name(Topic.CUSTOMERS),
                    "c-sla",
                    CustomerUpserted(**envelope("slaown", now), customer=cust),
                ),
            ],
        )
    )
    targets = {s.value: [FIRST_RESPONSE_S, 3600] for s in Severity}
    worker = WorkerProcess(
        kafka.bootstrap,
        tmp_path,
        topic_prefix=prefix,
        app_id=f"sla-{uuid.uuid4().hex[:8]}",
        env={"HUB_SUPPORT_SLA_TARGETS_S": json.dumps(targets), "HUB_SUPPORT_SLA_TICK_S": "1"},
    )
    own_topic = catalog.partner("slaown", PartnerTopic.SUPPORT)
    try:
        worker.start().wait_ready()
        wait_until("the customer", lambda: events_in(worker, "CustomerUpserted") >= 1, worker, 60)
        opened = TicketOpened(
            **envelope("slaown"),
            ticket_id="t-sla-1",
            customer_id="c-sla",
            title="Cannot sign in",
            description="Users cannot sign in.",
            category=TicketCategory.QUESTIONS,
            severity=Severity.CRITICAL,
            language="en",
            service="entra",
        )
        asyncio.run(
            publish(
                kafka.bootstrap, CODEC, [Outgoing(catalog.name(Topic.TICKETS), "slaown", opened)]
            )
        )
        deadline = time.monotonic() + 60
        while not any(isinstance(e, TicketRouted) for e in read_events(kafka.bootstrap, own_topic)):
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.3)
        time.sleep(2)  # long enough for the timer's changelog write, well before the deadline
        breaches_before_kill = [
            e for e in read_events(kafka.bootstrap, own_topic) if isinstance(e, SlaBreached)
        ]
        worker.kill()
        assert not breaches_before_kill

        worker.start().wait_ready()
        deadline = time.monotonic() + 90
        breaches: list[Event] = []
        while not breaches:
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.5)
            breaches = [
                e for e in read_events(kafka.bootstrap, own_topic) if isinstance(e, SlaBreached)
            ]
        time.sleep(5)  # several more ticks: nothing may fire again
        events = read_events(kafka.bootstrap, own_topic)
    finally:
        worker.stop()

    # By event id: a tick replayed after the restart's rebalance sends what it fired again,
    # with the same id (consumers drop it); firing it anew would be a second id.
    breaches = list({e.event_id: e for e in events if isinstance(e, SlaBreached)}.values())
    warnings = list({e.event_id: e for e in events if isinstance(e, SlaWarning)}.values())
    assert len(breaches) == 1, worker.log_tail()
    assert breaches[0].target == "initial_response"
    assert breaches[0].ticket_id == "t-sla-1"
    assert len(warnings) <= 1
