"""Renewals end to end: real broker, a worker running orders and renewals, the Partner Center
simulator as a subprocess. Time at the renewals flow moves by ``RenewalsDue`` ticks the test
sends with the instant they stand for (the worker's own scheduler ticks at the wall clock)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.orders import OrderLine, OrderRequested, SubscriptionProvisioned
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.schemas.events.renewals import (
    NextTermChangeRequested,
    NextTermChangeScheduled,
    RenewalNoticeIssued,
    RenewalsDue,
    ScheduledChangesDeleted,
    SubscriptionRenewed,
)
from hub.schemas.events.subscriptions import SubscriptionChangeRequested
from hub.streams.ingress import home_partition
from hub.topics import DEFAULT_PARTITIONS, PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.simulator import partner_center

RESELLER = "contoso"
BASIC = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="m365",
    markets=("US",),
)
CODEC = Codec()


@dataclass
class Hub:
    bootstrap: str
    topics: TopicCatalog
    worker: WorkerProcess
    log_dir: Path

    def cli(self, *args: str) -> Any:
        """``hub <args> -o json`` against this hub's worker; its JSON answer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env |= {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "HUB_TOPIC_PREFIX": self.topics.prefix,
            "HUB_WORKER_WEB_PORT": str(self.worker.web_port),
        }
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args, "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def send(self, topic: Topic, key: str, *events: Event) -> None:
        items = [Outgoing(self.topics.name(topic), key, e) for e in events]
        asyncio.run(publish(self.bootstrap, CODEC, items))

    def read(self, topic: str) -> list[Event]:
        records = asyncio.run(read_all(self.bootstrap, topic))
        return [CODEC.decode(r.value) for r in records if r.value]

    def status(self, kind: type[Event], subscription_id: str, count: int = 1) -> list[Any]:
        """Wait for ``count`` events of ``kind`` about ``subscription_id`` on the status topic."""
        topic = self.topics.partner(RESELLER, PartnerTopic.STATUS)
        deadline = time.monotonic() + 90
        while True:
            found = [
                e
                for e in self.read(topic)
                if isinstance(e, kind) and getattr(e, "subscription_id", None) == subscription_id
            ]
            if len(found) >= count:
                return found
            assert self.worker.running(), self.worker.log_tail()
            assert time.monotonic() < deadline, (
                f"no {kind.__name__} for {subscription_id}:\n{self.worker.log_tail()}"
            )
            time.sleep(0.5)

    def tick(self, now: datetime) -> None:
        """The renewals scheduler's tick for the reseller's partition, standing for ``now``."""
        tick = RenewalsDue(
            event_id=new_event_id(),
            event_time=datetime.now(UTC),
            correlation_id="e2e-tick",
            partition=home_partition(RESELLER, DEFAULT_PARTITIONS),
            now=now,
        )
        self.send(Topic.RENEWAL_INPUTS, RESELLER, tick)


def _env(reseller_id: str | None = RESELLER) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"e2e-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def _price(cycle: BillingCycle, cost: int, start: date) -> PriceListEntryUpserted:
    entry = PriceListEntry(
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        term=Term.P1Y,
        billing_cycle=cycle,
        currency="USD",
        unit_cost_minor=cost,
        effective_from=start,
    )
    return PriceListEntryUpserted(**_env(None), price_list_id="msft", entry=entry)


def _customer(customer_id: str) -> CustomerUpserted:
    customer = Customer(
        customer_id=customer_id,
        reseller_id=RESELLER,
        name=f"Customer {customer_id}",
        country="US",
        language="en",
        currency="USD",
    )
    return CustomerUpserted(**_env(), customer=customer)


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("renewals")
    prefix = f"t.renewals.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all([RESELLER])))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"renewals-e2e-{uuid.uuid4().hex[:8]}",
            env={
                "HUB_PARTNER_CENTER_URL": url,
                "HUB_FLOWS": "orders,renewals",
                "HUB_RENEWALS_TICK_S": "3600",
            },
        )
        hub = Hub(kafka.bootstrap, topics, worker, tmp)
        profile = ResellerProfile(
            reseller_id=RESELLER,
            partner_id="4100001",
            name="Contoso",
            country="US",
            currency="USD",
            languages=("en",),
            billing_mode=BillingMode.RESELLER_BILLS,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=100_000_000,
            payment_terms_days=30,
        )
        hub.send(Topic.RESELLERS, RESELLER, ResellerUpserted(**_env(), reseller=profile))
        hub.send(
            Topic.CATALOG, BASIC.catalog_item_id, CatalogItemUpserted(**_env(None), item=BASIC)
        )
        hub.send(
            Topic.PRICES,
            BASIC.catalog_item_id,
            _price(BillingCycle.MONTHLY, 600, date(2020, 1, 1)),
            _price(BillingCycle.ANNUAL, 7_000, date(2020, 1, 1)),
        )
        try:
            worker.start().wait_ready()
            yield hub
        finally:
            worker.stop()


def _order(hub: Hub, seats: int) -> SubscriptionProvisioned:
    customer_id = f"cust-{uuid.uuid4().hex[:10]}"
    hub.send(Topic.CUSTOMERS, customer_id, _customer(customer_id))
    time.sleep(1.0)  # the customer reaches the worker's reference tables first
    line = OrderLine(
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        quantity=seats,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    order = OrderRequested(
        **_env(),
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.ORDERS, RESELLER, order)
    topic = hub.topics.partner(RESELLER, PartnerTopic.STATUS)
    deadline = time.monotonic() + 90
    while True:
        for e in hub.read(topic):
            if isinstance(e, SubscriptionProvisioned) and e.order_id == order.order_id:
                return e
        assert time.monotonic() < deadline, hub.worker.log_tail()
        time.sleep(0.5)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_notices_a_scheduled_reduction_and_cycle_change_and_the_renewal_at_the_new_price(
    hub: Hub,
) -> None:
    sub = _order(hub, seats=10)
    sid = sub.subscription_id
    renews = _midnight(sub.term_end)
    # Next month's price list, in force from the renewal day.
    hub.send(
        Topic.PRICES,
        BASIC.catalog_item_id,
        _price(BillingCycle.MONTHLY, 660, renews.date()),
        _price(BillingCycle.ANNUAL, 7_500, renews.date()),
    )
    time.sleep(2.0)
    # What renews, at what price, and next month's preview, from the worker.
    days = (renews - datetime.now(UTC)).days + 2
    listed = hub.cli("renewals", "upcoming", "--reseller", RESELLER, "--days", str(days))
    (row,) = [r for r in listed["renewals"] if r["subscription_id"] == sid]
    assert (row["quantity"], row["unit_price_minor"], row["current_unit_price_minor"]) == (
        10,
        660,
        600,
    )
    month = renews.date().isoformat()[:7]
    shown = hub.cli("renewals", "preview", "--reseller", RESELLER, "--month", month)
    (line,) = [ln for p in shown["previews"] for ln in p["lines"] if ln["subscription_id"] == sid]
    assert (line["current_unit_price_minor"], line["renewal_unit_price_minor"]) == (600, 660)
    assert line["first_charge_change_minor"] == 60 * 10

    hub.tick(renews - timedelta(days=30))
    (first,) = hub.status(RenewalNoticeIssued, sid)
    assert first.lead_days == 30
    assert (first.quantity, first.billing_cycle) == (10, BillingCycle.MONTHLY)
    assert (first.current_unit_price_minor, first.unit_price_minor) == (600, 660)
    assert first.change_bps == 1000
    assert first.changes_until == renews

    request = NextTermChangeRequested(
        **_env(),
        change_id=f"chg-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        quantity=6,
        billing_cycle=BillingCycle.ANNUAL,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, request)
    (scheduled,) = hub.status(NextTermChangeScheduled, sid)
    assert (scheduled.quantity, scheduled.billing_cycle) == (6, BillingCycle.ANNUAL)
    assert scheduled.unit_price_minor == 7_500
    listed = hub.cli("renewals", "upcoming", "--reseller", RESELLER, "--days", str(days))
    (row,) = [r for r in listed["renewals"] if r["subscription_id"] == sid]
    assert (row["quantity"], row["billing_cycle"], row["unit_price_minor"]) == (6, "annual", 7_500)
    assert row["scheduled_change"]

    hub.tick(renews - timedelta(days=7))
    hub.tick(renews - timedelta(days=1))
    notices = hub.status(RenewalNoticeIssued, sid, count=3)
    assert [n.lead_days for n in notices] == [30, 7, 1]
    assert (notices[2].quantity, notices[2].unit_price_minor) == (6, 7_500)
    assert notices[2].scheduled_change

    hub.tick(renews + timedelta(minutes=5))
    (renewed,) = hub.status(SubscriptionRenewed, sid)
    assert (renewed.old_quantity, renewed.quantity) == (10, 6)
    assert renewed.billing_cycle is BillingCycle.ANNUAL
    assert renewed.unit_price_minor == 7_500
    assert renewed.scheduled_change_applied
    assert renewed.term_start == renews
    # A tick again changes nothing: each notice and the renewal happened once.
    hub.tick(renews + timedelta(minutes=10))
    time.sleep(2.0)
    assert len(hub.status(RenewalNoticeIssued, sid, count=3)) == 3
    assert len(hub.status(SubscriptionRenewed, sid)) == 1


def test_a_mid_term_seat_add_deletes_the_scheduled_change_and_the_reseller_is_told(
    hub: Hub,
) -> None:
    sub = _order(hub, seats=10)
    sid = sub.subscription_id
    request = NextTermChangeRequested(
        **_env(),
        change_id=f"chg-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        quantity=5,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, request)
    hub.status(NextTermChangeScheduled, sid)

    add = SubscriptionChangeRequested(
        **_env(),
        change_id=f"add-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        kind="change_quantity",
        new_quantity=12,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, add)
    (deleted,) = hub.status(ScheduledChangesDeleted, sid)
    assert deleted.cause == "change_quantity"
    assert "deletes the changes scheduled" in deleted.message

    renews = _midnight(sub.term_end)
    hub.tick(renews + timedelta(minutes=5))
    (renewed,) = hub.status(SubscriptionRenewed, sid)
    assert renewed.quantity == 12
    assert not renewed.scheduled_change_applied
