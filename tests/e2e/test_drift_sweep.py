"""The drift sweep end to end: a change made directly at the simulator (as in the Partner
Center portal) is found by the sweep, reported once, and adopted by ops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing
from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.ids import idempotency_key_for_customer
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderLine, OrderRequested, SubscriptionProvisioned
from hub.schemas.events.reference import PriceListEntryUpserted
from hub.schemas.events.relationships import (
    SubscriptionDriftDetected,
    SubscriptionDriftResolution,
    SubscriptionDriftResolved,
)
from hub.streams.orders.provisioning import microsoft_customer
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import WorkerHub, envelope, reference_events
from tests.support.simulator import partner_center

RESELLER = "driftres"
ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("US",),
)
PROFILE = ResellerProfile(
    reseller_id=RESELLER,
    partner_id="4199201",
    name="Drift Reseller",
    country="US",
    currency="USD",
    languages=("en",),
    billing_mode=BillingMode.RESELLER_BILLS,
    support_mode=SupportMode.RESELLER_OWN,
    credit_limit_minor=10_000_000,
    payment_terms_days=30,
)
CUSTOMER = Customer(
    customer_id="drift-cust",
    reseller_id=RESELLER,
    name="Drifting Inc",
    country="US",
    language="en",
    currency="USD",
)


def _reference(catalog: TopicCatalog) -> list[Outgoing]:
    entry = PriceListEntry(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=600,
        effective_from=date(2020, 1, 1),
    )
    return [
        *reference_events(catalog, resellers=[PROFILE], customers=[CUSTOMER], items=[ITEM]),
        Outgoing(
            catalog.name(Topic.PRICES),
            ITEM.catalog_item_id,
            PriceListEntryUpserted(**envelope(None), price_list_id="msft", entry=entry),
        ),
    ]


@pytest.fixture(scope="module")
def hub(
    kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerHub, str]]:
    tmp = tmp_path_factory.mktemp("drift")
    prefix = f"t.drift.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all([RESELLER])))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"drift-e2e-{uuid.uuid4().hex[:8]}",
            env={"HUB_PARTNER_CENTER_URL": url, "HUB_RELATIONSHIPS_SWEEP_S": "1"},
        )
        hub = WorkerHub(kafka, catalog, worker)
        try:
            hub.publish(_reference(catalog))
            worker.start().wait_ready()
            yield hub, url
        finally:
            worker.stop()


def _send(hub: WorkerHub, topic: Topic, event: Event) -> None:
    hub.publish([Outgoing(hub.catalog.name(topic), event.reseller_id or "", event)])


def _of(events: list[Event], kind: type[Event], **match: object) -> list[Any]:
    found = {
        e.event_id: e
        for e in events
        if isinstance(e, kind) and all(getattr(e, k, None) == v for k, v in match.items())
    }
    return list(found.values())


def _portal_sets_quantity(url: str, subscription_id: str, quantity: int) -> None:
    async def change() -> None:
        config = PartnerCenterConfig(base_url=url, token=SecretStr("local-simulator-token"))
        async with PartnerCenterClient(config) as pc:
            tenant = await pc.create_customer(
                microsoft_customer(CUSTOMER, PROFILE),
                correlation_id="portal",
                idempotency_key=idempotency_key_for_customer(CUSTOMER.customer_id),
            )
            assert tenant.id is not None
            await pc.change_quantity(tenant.id, subscription_id, quantity, correlation_id="portal")

    asyncio.run(change())


def test_a_change_made_at_microsoft_is_found_by_the_sweep_and_adopted(hub) -> None:
    worker_hub, url = hub
    line = OrderLine(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=10,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    order = OrderRequested(
        **envelope(RESELLER),
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=CUSTOMER.customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )
    _send(worker_hub, Topic.ORDERS, order)
    status = lambda: worker_hub.partner(RESELLER, PartnerTopic.STATUS)  # noqa: E731
    worker_hub.wait_for(
        "SubscriptionProvisioned",
        lambda: _of(status(), SubscriptionProvisioned, order_id=order.order_id),
    )
    (sub,) = _of(status(), SubscriptionProvisioned, order_id=order.order_id)
    events = lambda: worker_hub.read(Topic.RELATIONSHIP_EVENTS)  # noqa: E731

    _portal_sets_quantity(url, sub.subscription_id, 14)
    worker_hub.wait_for(
        "the drift",
        lambda: _of(events(), SubscriptionDriftDetected, subscription_id=sub.subscription_id),
    )
    (drift,) = _of(events(), SubscriptionDriftDetected, subscription_id=sub.subscription_id)
    assert drift.kind == "changed"
    assert [(f.name, f.hub, f.microsoft) for f in drift.fields] == [("quantity", "10", "14")]

    resolution = SubscriptionDriftResolution(
        **envelope(RESELLER),
        customer_id=CUSTOMER.customer_id,
        subscription_id=sub.subscription_id,
        resolution="adopt",
    )
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, resolution)
    worker_hub.wait_for(
        "the resolution",
        lambda: _of(events(), SubscriptionDriftResolved, subscription_id=sub.subscription_id),
    )
    (resolved,) = _of(events(), SubscriptionDriftResolved, subscription_id=sub.subscription_id)
    assert resolved.outcome == "adopted"
    # Several more sweeps: the adopted change is not reported again.
    asyncio.run(asyncio.sleep(4))
    assert len(_of(events(), SubscriptionDriftDetected, subscription_id=sub.subscription_id)) == 1
