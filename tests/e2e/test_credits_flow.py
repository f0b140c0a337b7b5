"""Service credits end to end on the real broker: index, approval, allocation, pass-through.

Customers of three resellers (both billing modes) hold subscriptions to Exchange and Teams; an
Exchange credit reaches exactly the Exchange subscriptions, each reseller's billing topic carries
only its own customers' credits, and neither a second delivery nor a crash allocates twice.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from hub import cli
from hub.commands.credits import approval_event
from hub.connectors.kafka_io import Outgoing, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import Brand, CatalogItem, Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.credits import (
    ServiceCreditAllocated,
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import (
    EXCHANGE,
    TEAMS,
    WorkerHub,
    counter_total,
    envelope,
    reference_events,
    start_worker_hub,
)

RESELLERS = {
    "cr-alpha": BillingMode.RESELLER_BILLS,
    "cr-beta": BillingMode.DISTRIBUTOR_WHITE_LABEL,
    "cr-gamma": BillingMode.RESELLER_BILLS,
}
WINDOW = (datetime(2025, 3, 3, 8, tzinfo=UTC), datetime(2025, 3, 3, 14, tzinfo=UTC))


def reference(catalog: TopicCatalog, customers: dict[str, str]) -> list[Outgoing]:
    resellers = [
        ResellerProfile(
            reseller_id=rid,
            partner_id="1234567",
            name=rid,
            country="DE",
            currency="EUR",
            languages=("de",),
            billing_mode=mode,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=10**9,
            payment_terms_days=30,
            brand=Brand(display_name=rid, signature=rid, reply_to=f"billing@{rid}.example"),
        )
        for rid, mode in RESELLERS.items()
    ]
    people = [
        Customer(
            customer_id=cid,
            reseller_id=rid,
            name=f"Customer {cid}",
            country="DE",
            region="eu-west",
            language="de",
            currency="EUR",
            tenant_domain=f"{cid}.onmicrosoft.com",
        )
        for cid, rid in customers.items()
    ]
    return reference_events(catalog, resellers, people, (EXCHANGE, TEAMS))


def provisioned(
    catalog: TopicCatalog, sid: str, rid: str, cid: str, item: CatalogItem, seats: int
) -> Outgoing:
    event = SubscriptionProvisioned.model_validate(
        {
            **envelope(rid),
            "order_id": f"o-{sid}",
            "line_index": 0,
            "customer_id": cid,
            "subscription_id": sid,
            "microsoft_order_id": f"ms-{sid}",
            "product_id": item.product_id,
            "sku_id": item.sku_id,
            "availability_id": item.availability_id,
            "quantity": seats,
            "term": Term.P1Y,
            "billing_cycle": BillingCycle.MONTHLY,
            "term_start": date(2025, 1, 1),
            "term_end": date(2025, 12, 31),
            "unit_cost_minor": 350,
            "unit_price_minor": 400,
            "currency": "EUR",
        }
    )
    return Outgoing(catalog.name(Topic.PROVISIONING), rid, event)


def approval(incident: str, amount: str) -> ServiceCreditApproved:
    return approval_event(
        incident_id=incident,
        service="exchange",
        currency="EUR",
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        amount=Decimal(amount),
        tier_percent=None,
        region=None,
        credit_id=None,
        now=datetime.now(UTC),
    )


def index_updates(worker: WorkerProcess) -> int:
    return int(counter_total(worker, "hub_credits_index_updates_total"))


def amounts_by_subscription(events: list[Event]) -> dict[str, set[int]]:
    """Amounts per subscription, counting each event id once (a re-sent copy is the same)."""
    seen: dict[uuid.UUID, ServiceCreditAllocated] = {}
    for e in events:
        if isinstance(e, ServiceCreditAllocated):
            if e.event_id in seen:
                assert seen[e.event_id] == e, "one event id with two contents"
            seen[e.event_id] = e
    out: dict[str, set[int]] = {}
    ids: dict[str, set[uuid.UUID]] = {}
    for e in seen.values():
        out.setdefault(e.subscription_id or "", set()).add(e.amount_minor)
        ids.setdefault(e.subscription_id or "", set()).add(e.event_id)
    assert all(len(v) == 1 for v in ids.values()), f"a subscription got two event ids: {ids}"
    return out


class Hub(WorkerHub):
    def reports(self, credit_id: str) -> list[ServiceCreditAllocationReported]:
        return [
            e
            for e in self.read(Topic.CREDITS_AUDIT)
            if isinstance(e, ServiceCreditAllocationReported) and e.credit_id == credit_id
        ]


def start_hub(kafka: BrokerInfo, tmp_path: Path, customers: dict[str, str]) -> Hub:
    hub = start_worker_hub(
        kafka, tmp_path, "credits", list(RESELLERS), lambda c: reference(c, customers)
    )
    return Hub(hub.kafka, hub.catalog, hub.worker)


CUSTOMERS = {
    "cust-a1": "cr-alpha",
    "cust-a2": "cr-alpha",
    "cust-b1": "cr-beta",
    "cust-c1": "cr-gamma",
}


@pytest.fixture
def hub(kafka: BrokerInfo, tmp_path: Path) -> Iterator[Hub]:
    hub = start_hub(kafka, tmp_path, CUSTOMERS)
    try:
        yield hub
    finally:
        hub.worker.stop()


def test_approval_reaches_each_affected_subscription_on_its_resellers_billing_topic_only(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    c = hub.catalog
    subs = [
        provisioned(c, "sub-a1-exo", "cr-alpha", "cust-a1", EXCHANGE, 10),
        provisioned(c, "sub-a2-exo", "cr-alpha", "cust-a2", EXCHANGE, 20),
        provisioned(c, "sub-b1-exo", "cr-beta", "cust-b1", EXCHANGE, 30),
        provisioned(c, "sub-c1-exo", "cr-gamma", "cust-c1", EXCHANGE, 40),
        provisioned(c, "sub-c1-teams", "cr-gamma", "cust-c1", TEAMS, 50),
    ]
    hub.publish(subs)
    hub.wait_for("index of 5 subscriptions", lambda: index_updates(hub.worker) >= 5)

    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP_SERVERS", hub.kafka.bootstrap)
    monkeypatch.setenv("HUB_TOPIC_PREFIX", c.prefix)
    window = ["--service", "exchange", "--from", WINDOW[0].isoformat()]
    window += ["--to", WINDOW[1].isoformat()]
    assert cli.main(["credits", "claim", "EX25194", *window, "--json"]) == 0
    claim = json.loads(capsys.readouterr().out)
    assert {r["subscription_id"]: r["seats"] for r in claim} == {
        "sub-a1-exo": 10,
        "sub-a2-exo": 20,
        "sub-b1-exo": 30,
        "sub-c1-exo": 40,
    }
    assert {r["tenant"] for r in claim} >= {"cust-b1.onmicrosoft.com"}

    approve = ["credits", "approve", "EX25194", *window, "--currency", "EUR", "--amount", "100.00"]
    assert cli.main(approve) == 0
    approved = c.name(Topic.CREDITS_APPROVED)
    (first,) = [e for e in hub.read(approved) if isinstance(e, ServiceCreditApproved)]
    hub.wait_for("allocation report", lambda: hub.reports(first.credit_id))
    # The same approval again, and once more as a fresh event with the same credit id.
    again = first.model_copy(update={"event_id": new_event_id()})
    hub.publish([Outgoing(approved, first.incident_id, first)])
    hub.publish([Outgoing(approved, first.incident_id, again)])
    hub.wait_for("both re-deliveries handled", lambda: len(hub.reports(first.credit_id)) >= 3)

    allocated = hub.read(Topic.CREDITS_ALLOCATED)
    amounts = amounts_by_subscription(allocated)
    # Fees 4000/8000/12000/16000 share 100.00 EUR pro rata; Teams is not hit.
    assert amounts == {
        "sub-a1-exo": {1000},
        "sub-a2-exo": {2000},
        "sub-b1-exo": {3000},
        "sub-c1-exo": {4000},
    }
    (report,) = {r.event_id: r for r in hub.reports(first.credit_id)}.values()
    total = sum(next(iter(v)) for v in amounts.values())
    assert total == report.allocated_minor == first.amount_minor - report.remainder_minor
    assert report.remainder_minor == 0

    by_sub = {e.subscription_id: e for e in allocated if isinstance(e, ServiceCreditAllocated)}
    assert by_sub["sub-b1-exo"].billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL
    assert by_sub["sub-a1-exo"].billing_mode is BillingMode.RESELLER_BILLS
    for e in by_sub.values():
        assert (e.incident_id, e.currency, e.credit_id) == ("EX25194", "EUR", first.credit_id)

    owners = {"cr-alpha": {"sub-a1-exo", "sub-a2-exo"}, "cr-beta": {"sub-b1-exo"}}
    owners["cr-gamma"] = {"sub-c1-exo"}
    for rid, expected in owners.items():
        on_topic = hub.read(c.partner(rid, PartnerTopic.BILLING))
        credits = [e for e in on_topic if isinstance(e, ServiceCreditAllocated)]
        assert {e.subscription_id for e in credits} == expected
        assert {e.reseller_id for e in credits} == {rid}

    capsys.readouterr()
    assert cli.main(["credits", "show", "EX25194", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["status"] for d in docs] == ["allocated"]
    assert len(docs[0]["lines"]) == 4
    assert (docs[0]["allocated_minor"], docs[0]["remainder_minor"]) == (10_000, 0)


def test_worker_killed_during_allocation_still_credits_each_subscription_once(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    customers = {f"cust-k{i}": list(RESELLERS)[i % 3] for i in range(300)}
    hub = start_hub(kafka, tmp_path, customers)
    c = hub.catalog
    try:
        hub.publish(
            [
                provisioned(c, f"sub-k{i:03d}", rid, cid, EXCHANGE, 1 + i % 7)
                for i, (cid, rid) in enumerate(customers.items())
            ]
        )
        hub.wait_for("index of 300", lambda: index_updates(hub.worker) >= 300)
        first = approval("EX30000", "1234.56")
        approved = c.name(Topic.CREDITS_APPROVED)
        hub.publish([Outgoing(approved, first.incident_id, first)] * 2)
        allocated_topic = c.name(Topic.CREDITS_ALLOCATED)
        hub.wait_for(
            "first allocation",
            lambda: asyncio.run(read_all(kafka.bootstrap, allocated_topic)),
            60,
        )
        hub.worker.kill()
        hub.worker.start().wait_ready()
        hub.publish([Outgoing(approved, first.incident_id, first)])

        def all_credited() -> bool:
            amounts = amounts_by_subscription(hub.read(Topic.CREDITS_ALLOCATED))
            return len(amounts) == 300 and len(hub.reports(first.credit_id)) >= 1

        hub.wait_for("all 300 credited after restart", all_credited, 120)
        time.sleep(3)  # the third delivery: nothing new may appear
        amounts = amounts_by_subscription(hub.read(Topic.CREDITS_ALLOCATED))
    finally:
        hub.worker.stop()
    assert len(amounts) == 300
    assert all(len(v) == 1 for v in amounts.values())
    assert sum(next(iter(v)) for v in amounts.values()) == first.amount_minor
    for rid in RESELLERS:
        credits = [
            e
            for e in hub.read(c.partner(rid, PartnerTopic.BILLING))
            if isinstance(e, ServiceCreditAllocated)
        ]
        assert {e.reseller_id for e in credits} == {rid}
        assert {e.customer_id for e in credits} == {k for k, v in customers.items() if v == rid}


def test_a_product_not_in_the_catalogue_yet_waits_without_holding_the_other_subscriptions(
    hub: Hub,
) -> None:
    """Before parking, one subscription of an unknown product held the link agent for ~8
    retries of up to 10 s each per message, and a few thousand of them stalled the worker."""
    c = hub.catalog
    late = EXCHANGE.model_copy(update={"product_id": "CFQ7TTC0LATE", "name": "Exchange Late"})
    first = time.monotonic()
    hub.publish([provisioned(c, "sub-late", "cr-alpha", "cust-a1", late, 5)])
    hub.publish(
        [provisioned(c, f"sub-{i}", "cr-beta", "cust-b1", EXCHANGE, 1 + i) for i in range(20)]
    )
    hub.wait_for("20 subscriptions indexed", lambda: index_updates(hub.worker) >= 20)
    assert time.monotonic() - first < 30
    assert counter_total(hub.worker, "hub_messages_parked_total") >= 1
    assert index_updates(hub.worker) == 20  # the unknown product's subscription waits
    hub.publish(reference_events(c, items=(late,)))
    hub.wait_for(
        "the parked subscription indexed once its product is known",
        lambda: index_updates(hub.worker) >= 21,
        timeout_s=120,
    )
    assert hub.read(Topic.CREDITS_SUBSCRIPTIONS.value + ".dlq") == []
