"""Onboarding end to end: a real broker and worker, the Partner Center simulator as a process.

A reseller onboards a customer (created at the simulator, its MCA recorded) and orders for it;
a customer onboarded without attestation is refused with the reason until it is attested.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing
from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, PriceListEntry, ResellerProfile
from hub.domain.relationships.customers import Address, Contact
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events.orders import (
    OrderAccepted,
    OrderLine,
    OrderRejected,
    OrderRequested,
    SubscriptionProvisioned,
)
from hub.schemas.events.reference import PriceListEntryUpserted
from hub.schemas.events.relationships import (
    CustomerAttestationRequested,
    CustomerOnboarded,
    CustomerOnboardingRefused,
    CustomerOnboardingRequested,
)
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import WorkerHub, envelope, reference_events
from tests.support.simulator import partner_center

RESELLER = "onbres"
BASIC = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("US",),
)
CONTACT = Contact(first_name="Ada", last_name="Lee", email="ada@example.com")


def _reference(catalog: TopicCatalog) -> list[Outgoing]:
    reseller = ResellerProfile(
        reseller_id=RESELLER,
        partner_id="4199001",
        name="Onboarding Reseller",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10_000_000,
        payment_terms_days=30,
    )
    price = PriceListEntry(
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=600,
        effective_from=date(2020, 1, 1),
    )
    return [
        *reference_events(catalog, resellers=[reseller], items=[BASIC]),
        Outgoing(
            catalog.name(Topic.PRICES),
            BASIC.catalog_item_id,
            PriceListEntryUpserted(**envelope(None), price_list_id="msft", entry=price),
        ),
    ]


@pytest.fixture(scope="module")
def hub(
    kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerHub, str]]:
    tmp = tmp_path_factory.mktemp("onboarding")
    prefix = f"t.onboarding.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all([RESELLER])))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"onboarding-e2e-{uuid.uuid4().hex[:8]}",
            env={"HUB_PARTNER_CENTER_URL": url},
        )
        hub = WorkerHub(kafka, catalog, worker)
        try:
            hub.publish(_reference(catalog))
            worker.start().wait_ready()
            yield hub, url
        finally:
            worker.stop()


def _request(customer_id: str, attest: bool) -> CustomerOnboardingRequested:
    attestation: dict[str, object] = {}
    if attest:
        attestation = {
            "agreement_template_id": "mca-2024-01",
            "agreement_date": datetime.now(UTC) - timedelta(hours=1),
            "accepted_by": CONTACT,
        }
    return CustomerOnboardingRequested(
        **envelope(RESELLER),
        request_id=f"req-{customer_id}",
        customer_id=customer_id,
        company_name=f"Company {customer_id}",
        domain=customer_id.replace("-", ""),
        address=Address(
            address_line1="1 Main St", city="Redmond", postal_code="98052", country="US"
        ),
        contact=CONTACT,
        language="en",
        currency="USD",
        **attestation,
    )


def _order(customer_id: str) -> OrderRequested:
    line = OrderLine(
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        quantity=5,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        **envelope(RESELLER),
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


def _send(hub: WorkerHub, topic: Topic, event: Event) -> None:
    hub.publish([Outgoing(hub.catalog.name(topic), event.reseller_id or "", event)])


def _status(hub: WorkerHub, kind: type[Event], **match: object) -> list[Event]:
    """Matching events on the reseller's status topic, each once (a redelivered output
    repeats its event id)."""
    found = {
        e.event_id: e
        for e in hub.partner(RESELLER, PartnerTopic.STATUS)
        if isinstance(e, kind) and all(getattr(e, k, None) == v for k, v in match.items())
    }
    return list(found.values())


def _customer_known(hub: WorkerHub, customer_id: str) -> bool:
    url = f"http://127.0.0.1:{hub.worker.web_port}/orders-reference/"
    with urllib.request.urlopen(url, timeout=5) as response:
        return customer_id in json.loads(response.read())["customers"]


def _agreements(hub: WorkerHub, status: str) -> float:
    for line in hub.worker.metrics().splitlines():
        if line.startswith(f'hub_customer_agreements{{status="{status}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _microsoft_agreements(url: str, microsoft_id: str) -> list[str]:
    async def read() -> list[str]:
        config = PartnerCenterConfig(base_url=url, token=SecretStr("local-simulator-token"))
        async with PartnerCenterClient(config) as pc:
            found = await pc.list_agreements(microsoft_id, correlation_id="e2e")
            return [a.template_id for a in found]

    return asyncio.run(read())


def test_onboarded_customer_with_mca_is_created_at_microsoft_and_can_order(hub) -> None:
    worker_hub, url = hub
    customer_id = f"cu{uuid.uuid4().hex[:8]}"
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, _request(customer_id, attest=True))
    worker_hub.wait_for(
        "CustomerOnboarded", lambda: _status(worker_hub, CustomerOnboarded, customer_id=customer_id)
    )
    (onboarded,) = _status(worker_hub, CustomerOnboarded, customer_id=customer_id)
    assert isinstance(onboarded, CustomerOnboarded)
    assert onboarded.agreement == "accepted"
    assert onboarded.domain == f"{customer_id}.onmicrosoft.com"
    assert _microsoft_agreements(url, onboarded.microsoft_customer_id) == ["mca-2024-01"]

    order = _order(customer_id)
    worker_hub.wait_for("the customer", lambda: _customer_known(worker_hub, customer_id))
    worker_hub.wait_for("its agreement", lambda: _agreements(worker_hub, "accepted") >= 1)
    _send(worker_hub, Topic.ORDERS, order)
    worker_hub.wait_for(
        "SubscriptionProvisioned",
        lambda: _status(worker_hub, SubscriptionProvisioned, order_id=order.order_id),
    )
    assert _status(worker_hub, OrderAccepted, order_id=order.order_id)
    (provisioned,) = _status(worker_hub, SubscriptionProvisioned, order_id=order.order_id)
    assert isinstance(provisioned, SubscriptionProvisioned)
    assert provisioned.customer_id == customer_id


def test_order_for_a_customer_without_mca_is_refused_until_attested(hub) -> None:
    worker_hub, _ = hub
    customer_id = f"cp{uuid.uuid4().hex[:8]}"
    pending_before = _agreements(worker_hub, "pending")
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, _request(customer_id, attest=False))
    worker_hub.wait_for(
        "CustomerOnboarded (pending)",
        lambda: _status(worker_hub, CustomerOnboarded, customer_id=customer_id),
    )
    worker_hub.wait_for("the customer", lambda: _customer_known(worker_hub, customer_id))
    worker_hub.wait_for(
        "the pending agreement", lambda: _agreements(worker_hub, "pending") > pending_before
    )

    first = _order(customer_id)
    _send(worker_hub, Topic.ORDERS, first)
    worker_hub.wait_for(
        "OrderRejected", lambda: _status(worker_hub, OrderRejected, order_id=first.order_id)
    )
    (rejected,) = _status(worker_hub, OrderRejected, order_id=first.order_id)
    assert isinstance(rejected, OrderRejected)
    assert [r.code for r in rejected.reasons] == ["MicrosoftCustomerAgreementNotAccepted"]
    assert "MicrosoftCustomerAgreement" in rejected.reasons[0].message

    attest = CustomerAttestationRequested(
        **envelope(RESELLER),
        customer_id=customer_id,
        agreement_template_id="mca-2024-01",
        agreement_date=datetime.now(UTC) - timedelta(minutes=5),
        accepted_by=CONTACT,
    )
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, attest)
    worker_hub.wait_for(
        "CustomerOnboarded (accepted)",
        lambda: _status(
            worker_hub, CustomerOnboarded, customer_id=customer_id, agreement="accepted"
        ),
    )
    worker_hub.wait_for(
        "the pending agreement accepted",
        lambda: _agreements(worker_hub, "pending") == pending_before,
    )
    second = _order(customer_id)
    _send(worker_hub, Topic.ORDERS, second)
    worker_hub.wait_for(
        "OrderAccepted", lambda: _status(worker_hub, OrderAccepted, order_id=second.order_id)
    )


def test_a_bad_domain_is_refused_and_nothing_is_created(hub) -> None:
    worker_hub, _ = hub
    request = _request("bad-domain-x", attest=True).model_copy(update={"domain": "not a domain!"})
    _send(worker_hub, Topic.RELATIONSHIP_REQUESTS, request)
    worker_hub.wait_for(
        "CustomerOnboardingRefused",
        lambda: _status(worker_hub, CustomerOnboardingRefused, customer_id="bad-domain-x"),
    )
    (refused,) = _status(worker_hub, CustomerOnboardingRefused, customer_id="bad-domain-x")
    assert isinstance(refused, CustomerOnboardingRefused)
    assert refused.code == "InvalidDomain"
    assert not _status(worker_hub, CustomerOnboarded, customer_id="bad-domain-x")
