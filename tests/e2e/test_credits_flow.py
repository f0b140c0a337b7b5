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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from hub import cli
from hub.commands.credits import approval_event
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, ResellerProfile
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.credits import (
    ServiceCreditAllocated,
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import CatalogItemUpserted, CustomerUpserted, ResellerUpserted
from hub.testing.broker import BrokerInfo
from hub.testing.worker import WorkerProcess
from hub.topics import PartnerTopic, Topic, TopicCatalog

CODEC = Codec()
RESELLERS = {
    "cr-alpha": BillingMode.RESELLER_BILLS,
    "cr-beta": BillingMode.DISTRIBUTOR_WHITE_LABEL,
    "cr-gamma": BillingMode.RESELLER_BILLS,
}
EXCHANGE = CatalogItem(
    product_id="CFQ7TTC0LH16",
    sku_id="0001",
    availability_id="CFQ7TTC0EXO1",
    name="Exchange Online (Plan 1)",
    service="exchange",
    markets=("DE",),
)
TEAMS = CatalogItem(
    product_id="CFQ7TTC0TEAM",
    sku_id="0001",
    availability_id="CFQ7TTC0TEA1",
    name="Teams Essentials",
    service="teams",
    markets=("DE",),
)
WINDOW = (datetime(2025, 3, 3, 8, tzinfo=UTC), datetime(2025, 3, 3, 14, tzinfo=UTC))


def _envelope(reseller_id: str | None) -> dict[str, object]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"c-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def reference(catalog: TopicCatalog, customers: dict[str, str]) -> list[Outgoing]:
    out = [
        Outgoing(
            catalog.name(Topic.RESELLERS),
            rid,
            ResellerUpserted.model_validate(
                {
                    **_envelope(rid),
                    "reseller": ResellerProfile(
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
                    ),
                }
            ),
        )
        for rid, mode in RESELLERS.items()
    ]
    out += [
        Outgoing(
            catalog.name(Topic.CUSTOMERS),
            cid,
            CustomerUpserted.model_validate(
                {
                    **_envelope(rid),
                    "customer": Customer(
                        customer_id=cid,
                        reseller_id=rid,
                        name=f"Customer {cid}",
                        country="DE",
                        region="eu-west",
                        language="de",
                        currency="EUR",
                        tenant_domain=f"{cid}.onmicrosoft.com",
                    ),
                }
            ),
        )
        for cid, rid in customers.items()
    ]
    out += [
        Outgoing(
            catalog.name(Topic.CATALOG),
            item.catalog_item_id,
            CatalogItemUpserted.model_validate({**_envelope(None), "item": item}),
        )
        for item in (EXCHANGE, TEAMS)
    ]
    return out


def provisioned(
    catalog: TopicCatalog, sid: str, rid: str, cid: str, item: CatalogItem, seats: int
) -> Outgoing:
    event = SubscriptionProvisioned.model_validate(
        {
            **_envelope(rid),
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


def read(bootstrap: str, topic: str) -> list[Event]:
    return [CODEC.decode(r.value) for r in asyncio.run(read_all(bootstrap, topic)) if r.value]


def wait_for(worker: WorkerProcess, what: str, check: object, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what}:\n{worker.log_tail()}"
        time.sleep(0.5)


def index_updates(worker: WorkerProcess) -> int:
    total = 0.0
    for line in worker.metrics().splitlines():
        if line.startswith("hub_credits_index_updates_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


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


@dataclass
class Hub:
    kafka: BrokerInfo
    catalog: TopicCatalog
    worker: WorkerProcess

    def publish(self, items: list[Outgoing]) -> None:
        asyncio.run(publish(self.kafka.bootstrap, CODEC, items))

    def read(self, topic: Topic | str) -> list[Event]:
        name = self.catalog.name(topic) if isinstance(topic, Topic) else topic
        return read(self.kafka.bootstrap, name)

    def reports(self, credit_id: str) -> list[ServiceCreditAllocationReported]:
        return [
            e
            for e in self.read(Topic.CREDITS_AUDIT)
            if isinstance(e, ServiceCreditAllocationReported) and e.credit_id == credit_id
        ]


def start_hub(kafka: BrokerInfo, tmp_path: Path, customers: dict[str, str]) -> Hub:
    prefix = f"t.credits.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all(RESELLERS)))
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path, topic_prefix=prefix, app_id=f"cr-{uuid.uuid4().hex[:8]}"
    )
    hub = Hub(kafka, catalog, worker)
    hub.publish(reference(catalog, customers))
    worker.start().wait_ready()
    return hub


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
    wait_for(hub.worker, "index of 5 subscriptions", lambda: index_updates(hub.worker) >= 5)

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
    wait_for(hub.worker, "allocation report", lambda: hub.reports(first.credit_id))
    # The same approval again, and once more as a fresh event with the same credit id.
    again = first.model_copy(update={"event_id": new_event_id()})
    hub.publish([Outgoing(approved, first.incident_id, first)])
    hub.publish([Outgoing(approved, first.incident_id, again)])
    wait_for(
        hub.worker, "both re-deliveries handled", lambda: len(hub.reports(first.credit_id)) >= 3
    )

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
        wait_for(hub.worker, "index of 300", lambda: index_updates(hub.worker) >= 300)
        first = approval("EX30000", "1234.56")
        approved = c.name(Topic.CREDITS_APPROVED)
        hub.publish([Outgoing(approved, first.incident_id, first)] * 2)
        allocated_topic = c.name(Topic.CREDITS_ALLOCATED)
        wait_for(
            hub.worker,
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

        wait_for(hub.worker, "all 300 credited after restart", all_credited, 120)
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
