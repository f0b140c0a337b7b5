"""Orders end to end: real broker, real worker, the Partner Center simulator as a subprocess.

One worker and one simulator serve the module; every test uses its own customers and order ids,
so the tests stay independent of each other and of their order.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.billing import DunningStageReached
from hub.schemas.events.ingress import IngressRejected
from hub.schemas.events.orders import (
    OrderAccepted,
    OrderHeld,
    OrderLine,
    OrderRejected,
    OrderRequested,
    ProvisioningFailed,
    SubscriptionProvisioned,
)
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.schemas.events.subscriptions import (
    SubscriptionChanged,
    SubscriptionChangeRejected,
    SubscriptionChangeRequested,
)
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import counter_total
from tests.support.simulator import partner_center

BASIC = ("CFQ7TTC0LH18", "0001", "CFQ7TTC0K5DL")  # 6.00 USD per seat-month at the simulator
STANDARD = ("CFQ7TTC0LDPB", "0001", "CFQ7TTC0K5BB")
UNKNOWN_AT_MICROSOFT = ("CFQ7TTC0NOPE", "0001", "CFQ7TTC0NONE")
RESELLERS = {
    "contoso": 10_000_000,
    "fabrikam": 50_000,
    "northwind": 10_000_000,
    "adatum": 0,
    # murmur2 puts it on partition 4 of 12, librdkafka's default (CRC32) on 11.
    "litware": 50_000,
}
ON_CREDIT_HOLD = {"adatum"}
CODEC = Codec()


@dataclass
class Hub:
    bootstrap: str
    topics: TopicCatalog
    worker: WorkerProcess
    simulator_url: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env |= {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "HUB_TOPIC_PREFIX": self.topics.prefix,
            "HUB_WORKER_WEB_PORT": str(self.worker.web_port),
        }
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def web(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.worker.web_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())


def _envelope(reseller_id: str | None) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"test-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def _reference_events() -> list[tuple[Topic, str, Event]]:
    out: list[tuple[Topic, str, Event]] = []
    for index, (reseller_id, limit) in enumerate(RESELLERS.items()):
        profile = ResellerProfile(
            reseller_id=reseller_id,
            partner_id=f"{4_100_000 + index}",
            name=reseller_id.title(),
            country="US",
            currency="USD",
            languages=("en",),
            billing_mode=BillingMode.RESELLER_BILLS,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=limit,
            payment_terms_days=30,
            on_credit_hold=reseller_id in ON_CREDIT_HOLD,
        )
        event = ResellerUpserted(**_envelope(reseller_id), reseller=profile)
        out.append((Topic.RESELLERS, reseller_id, event))
    for product, sku, availability in (BASIC, STANDARD, UNKNOWN_AT_MICROSOFT):
        item = CatalogItem(
            product_id=product,
            sku_id=sku,
            availability_id=availability,
            name=f"Item {product}",
            service="exchange",
            markets=("US",),
        )
        out.append(
            (Topic.CATALOG, item.catalog_item_id, CatalogItemUpserted(**_envelope(None), item=item))
        )
        entry = PriceListEntry(
            product_id=product,
            sku_id=sku,
            availability_id=availability,
            term=Term.P1Y,
            billing_cycle=BillingCycle.MONTHLY,
            currency="USD",
            unit_cost_minor=600,
            effective_from=date(2020, 1, 1),
        )
        price = PriceListEntryUpserted(**_envelope(None), price_list_id="msft", entry=entry)
        out.append((Topic.PRICES, item.catalog_item_id, price))
    return out


def _customer_event(reseller_id: str, customer_id: str) -> CustomerUpserted:
    customer = Customer(
        customer_id=customer_id,
        reseller_id=reseller_id,
        name=f"Customer {customer_id}",
        country="US",
        language="en",
        currency="USD",
    )
    return CustomerUpserted(**_envelope(reseller_id), customer=customer)


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("orders")
    prefix = f"t.orders.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all(RESELLERS)))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"orders-e2e-{uuid.uuid4().hex[:8]}",
            env={"HUB_PARTNER_CENTER_URL": url},
        )
        try:
            outgoing = [Outgoing(topics.name(t), key, e) for t, key, e in _reference_events()]
            asyncio.run(publish(kafka.bootstrap, CODEC, outgoing))
            worker.start().wait_ready()
            yield Hub(kafka.bootstrap, topics, worker, url)
        finally:
            worker.stop()


async def _customer(hub: Hub, reseller_id: str) -> str:
    """A fresh customer of ``reseller_id``, known to the worker before the test orders."""
    customer_id = f"cust-{uuid.uuid4().hex[:10]}"
    event = _customer_event(reseller_id, customer_id)
    await publish(
        hub.bootstrap, CODEC, [Outgoing(hub.topics.name(Topic.CUSTOMERS), customer_id, event)]
    )
    await _until(lambda: customer_id in hub.web("/orders-reference/")["customers"], "customer")
    await _until(lambda: len(hub.web("/orders-reference/")["prices"]) >= 3, "prices")
    return customer_id


async def _until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not seen within {timeout_s}s")


def _order(
    reseller_id: str, customer_id: str, *items: tuple[tuple[str, str, str], int]
) -> OrderRequested:
    lines = tuple(
        OrderLine(
            product_id=p,
            sku_id=s,
            availability_id=a,
            quantity=quantity,
            term=Term.P1Y,
            billing_cycle=BillingCycle.MONTHLY,
        )
        for (p, s, a), quantity in items
    )
    return OrderRequested(
        **_envelope(reseller_id),
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        lines=lines,
        requested_at=datetime.now(UTC),
    )


async def _send(hub: Hub, topic: Topic, *events: Event) -> None:
    await publish(
        hub.bootstrap,
        CODEC,
        [Outgoing(hub.topics.name(topic), e.reseller_id or "", e) for e in events],
    )


async def _events(hub: Hub, topic_name: str, order_id: str) -> list[Event]:
    found = []
    for record in await read_all(hub.bootstrap, topic_name):
        event = CODEC.decode(record.value or b"")
        if (
            getattr(event, "order_id", None) == order_id
            or getattr(event, "subscription_id", None) == order_id
        ):
            found.append(event)
    return found


async def _wait_events(
    hub: Hub, topic_name: str, subject: str, kind: type[Event], count: int = 1
) -> list[Event]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = [e for e in await _events(hub, topic_name, subject) if isinstance(e, kind)]
        if len(found) >= count:
            return found
        assert hub.worker.running(), hub.worker.log_tail()
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"no {kind.__name__} for {subject} on {topic_name}:\n{hub.worker.log_tail()}"
    )


def _shown(hub: Hub, reseller_id: str, order_id: str) -> str:
    """The order's status as the worker's intake table holds it."""
    return str(hub.web(f"/orders/{reseller_id}/{order_id}/")["status"])


def _status(hub: Hub, reseller_id: str) -> str:
    return hub.topics.partner(reseller_id, PartnerTopic.STATUS)


async def _subscriptions_at_microsoft(hub: Hub, reseller_id: str, order_id: str) -> int:
    state = hub.web(f"/orders/{reseller_id}/{order_id}/")
    ms_customer = state["subscriptions"][0]["microsoft_customer_id"]
    config = PartnerCenterConfig(
        base_url=hub.simulator_url, token=SecretStr("local-simulator-token")
    )
    async with PartnerCenterClient(config) as client:
        return len(await client.list_subscriptions(ms_customer, correlation_id="test"))


async def test_order_is_provisioned_and_status_reaches_only_its_reseller(hub: Hub) -> None:
    customer = await _customer(hub, "contoso")
    order = _order("contoso", customer, (BASIC, 5), (STANDARD, 2))
    await _send(hub, Topic.ORDERS, order)

    provisioned = await _wait_events(
        hub, _status(hub, "contoso"), order.order_id, SubscriptionProvisioned, count=2
    )

    accepted = await _events(hub, hub.topics.name(Topic.ORDER_DECISIONS), order.order_id)
    assert [type(e) for e in accepted] == [OrderAccepted]
    assert accepted[0].commitment_minor == 600 * 7 * 12  # type: ignore[attr-defined]
    assert sorted(e.line_index for e in provisioned) == [0, 1]  # type: ignore[attr-defined]
    assert await _events(hub, _status(hub, "fabrikam"), order.order_id) == []
    # Intake learns the outcome from hub.orders.provisioning, a moment after the reseller does.
    await _until(lambda: _shown(hub, "contoso", order.order_id) == "provisioned", "status")
    state = hub.web(f"/orders/contoso/{order.order_id}/")
    assert len(state["subscription_ids"]) == 2
    assert len(state["subscriptions"]) == 2


async def test_order_over_the_credit_limit_is_held_then_released_and_provisioned(
    hub: Hub,
) -> None:
    customer = await _customer(hub, "fabrikam")
    first = _order("fabrikam", customer, (BASIC, 5))  # 36,000 of the 50,000 limit
    await _send(hub, Topic.ORDERS, first)
    await _wait_events(hub, _status(hub, "fabrikam"), first.order_id, OrderAccepted)
    second = _order("fabrikam", customer, (BASIC, 5))
    await _send(hub, Topic.ORDERS, second)

    held = await _wait_events(hub, _status(hub, "fabrikam"), second.order_id, OrderHeld)
    assert held[0].reason_code == "over_credit_limit"  # type: ignore[attr-defined]
    assert held[0].exposure_minor == 72_000  # type: ignore[attr-defined]

    released = hub.cli("orders", "release", second.order_id, "--reseller", "fabrikam")
    assert released.returncode == 0, released.stderr
    await _wait_events(hub, _status(hub, "fabrikam"), second.order_id, SubscriptionProvisioned)
    decisions = await _events(hub, hub.topics.name(Topic.ORDER_DECISIONS), second.order_id)
    assert [type(e) for e in decisions] == [OrderHeld, OrderAccepted]
    await _until(lambda: _shown(hub, "fabrikam", second.order_id) == "provisioned", "status")
    shown = hub.cli("orders", "show", second.order_id, "--reseller", "fabrikam")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "provisioned"


async def test_held_order_rejected_by_review_is_rejected_with_the_reason(hub: Hub) -> None:
    customer = await _customer(hub, "adatum")
    order = _order("adatum", customer, (BASIC, 1))
    await _send(hub, Topic.ORDERS, order)
    held = await _wait_events(hub, _status(hub, "adatum"), order.order_id, OrderHeld)
    assert held[0].reason_code == "reseller_on_credit_hold"  # type: ignore[attr-defined]

    rejected = hub.cli(
        "orders", "reject", order.order_id, "--reseller", "adatum", "--reason", "unpaid invoices"
    )
    assert rejected.returncode == 0, rejected.stderr

    found = await _wait_events(hub, _status(hub, "adatum"), order.order_id, OrderRejected)
    reason = found[0].reasons[0]  # type: ignore[attr-defined]
    assert reason.code == "ReviewRejected"
    assert "unpaid invoices" in reason.message
    unknown = hub.cli("orders", "show", "PO-never", "--reseller", "adatum")
    assert unknown.returncode == 1


async def test_reseller_on_credit_hold_with_overdue_money_gets_orders_held(hub: Hub) -> None:
    customer = await _customer(hub, "northwind")
    dunning = DunningStageReached(
        **_envelope("northwind"),
        stage="credit_hold",
        days_overdue=45,
        overdue_minor=120_000,
        currency="USD",
        invoice_ids=("INV-1",),
        credit_hold=True,
    )
    await _send(hub, Topic.COLLECTIONS, dunning)
    # Intake reads collections beside orders: the fact is not ordered before the order.
    await asyncio.sleep(2)
    order = _order("northwind", customer, (BASIC, 1))
    await _send(hub, Topic.ORDERS, order)

    held = await _wait_events(
        hub, hub.topics.name(Topic.ORDER_DECISIONS), order.order_id, OrderHeld
    )
    assert held[0].reason_code == "reseller_on_credit_hold"  # type: ignore[attr-defined]
    assert "overdue" in held[0].message  # type: ignore[attr-defined]


async def test_unknown_customer_reseller_and_sku_are_rejected_with_reasons(hub: Hub) -> None:
    customer = await _customer(hub, "contoso")
    unknown_customer = _order("contoso", "cust-nobody", (BASIC, 1))
    unknown_reseller = _order("nobody", customer, (BASIC, 1))
    unknown_sku = _order("contoso", customer, (("CFQ7TTC0XXXX", "0001", "CFQ7TTC0YYYY"), 1))
    await _send(hub, Topic.ORDERS, unknown_customer, unknown_reseller, unknown_sku)

    decisions = hub.topics.name(Topic.ORDER_DECISIONS)
    codes = {}
    for order in (unknown_customer, unknown_reseller, unknown_sku):
        found = await _wait_events(hub, decisions, order.order_id, OrderRejected)
        codes[order.order_id] = {r.code for r in found[0].reasons}  # type: ignore[attr-defined]

    assert codes[unknown_customer.order_id] == {"CustomerNotFound"}
    assert "UnknownReseller" in codes[unknown_reseller.order_id]
    assert codes[unknown_sku.order_id] == {"UnknownCatalogItem"}


async def test_throttling_and_server_errors_are_retried_until_provisioned(hub: Hub) -> None:
    customer = await _customer(hub, "contoso")
    async with SimulatorAdmin(hub.simulator_url) as admin:
        await admin.inject(
            Fault(kind=FaultKind.THROTTLE, count=3, operation="create_cart", retry_after=0.1),
            # More than one call's own retries: the pipeline must retry the whole placement.
            Fault(kind=FaultKind.SERVER_ERROR, count=7, operation="checkout"),
        )
    order = _order("contoso", customer, (BASIC, 3))
    await _send(hub, Topic.ORDERS, order)

    await _wait_events(hub, _status(hub, "contoso"), order.order_id, SubscriptionProvisioned)
    assert await _subscriptions_at_microsoft(hub, "contoso", order.order_id) == 1


def _parked(hub: Hub, flow: str) -> float:
    return counter_total(hub.worker, "hub_messages_parked_total", flow=flow)


async def test_orders_placed_while_partner_center_is_down_wait_parked_and_are_placed_after(
    hub: Hub,
) -> None:
    """Retried in place, each order held the fulfilment partition for its six tries and then
    failed for good; parked, the partition moves on to the next order, and both are placed once
    Partner Center answers again."""
    # A customer each: an order's subscriptions are counted at its Microsoft customer.
    customers = [await _customer(hub, "contoso") for _ in range(2)]
    before = _parked(hub, "provisioning")
    orders = [_order("contoso", customer, (BASIC, 1)) for customer in customers]
    async with SimulatorAdmin(hub.simulator_url) as admin:
        await admin.inject(Fault(kind=FaultKind.SERVER_ERROR, count=None, operation="create_cart"))
        try:
            await _send(hub, Topic.ORDERS, *orders)
            await _until(
                lambda: _parked(hub, "provisioning") >= before + 2, "both orders parked", 120
            )
        finally:
            await admin.clear_faults()
    status = _status(hub, "contoso")
    for order in orders:
        await _wait_events(hub, status, order.order_id, SubscriptionProvisioned)
        assert await _subscriptions_at_microsoft(hub, "contoso", order.order_id) == 1
        events = await _events(hub, status, order.order_id)
        assert not [e for e in events if isinstance(e, ProvisioningFailed)]


async def test_permanent_partner_center_error_reports_failure_and_dead_letters(hub: Hub) -> None:
    customer = await _customer(hub, "contoso")
    order = _order("contoso", customer, (UNKNOWN_AT_MICROSOFT, 1))
    await _send(hub, Topic.ORDERS, order)

    failed = await _wait_events(hub, _status(hub, "contoso"), order.order_id, ProvisioningFailed)
    assert failed[0].retriable is False  # type: ignore[attr-defined]
    assert failed[0].code == "10001"  # type: ignore[attr-defined]
    dlq = TopicCatalog.dead_letter(hub.topics.name(Topic.ORDER_DECISIONS))
    letters = [
        r
        for r in await read_all(hub.bootstrap, dlq)
        if getattr(CODEC.decode(r.value or b""), "order_id", None) == order.order_id
    ]
    assert len(letters) == 1
    assert dict(letters[0].headers)["dlq.error.retriable"] == b"false"
    await _until(lambda: _shown(hub, "contoso", order.order_id) == "failed", "status")
    failure = hub.web(f"/orders/contoso/{order.order_id}/")
    assert failure["failure"]["code"] == "10001"
    assert failure["released"] is True  # refused for good: its commitment is freed


async def test_lost_checkout_response_still_gives_exactly_one_subscription(hub: Hub) -> None:
    customer = await _customer(hub, "contoso")
    async with SimulatorAdmin(hub.simulator_url) as admin:
        await admin.inject(Fault(kind=FaultKind.LOSE_RESPONSE, count=1, operation="checkout"))
    order = _order("contoso", customer, (BASIC, 2))
    await _send(hub, Topic.ORDERS, order)

    await _wait_events(hub, _status(hub, "contoso"), order.order_id, SubscriptionProvisioned)
    assert await _subscriptions_at_microsoft(hub, "contoso", order.order_id) == 1


async def test_duplicate_order_request_gives_one_subscription_and_the_same_decision(
    hub: Hub,
) -> None:
    customer = await _customer(hub, "contoso")
    order = _order("contoso", customer, (BASIC, 4))
    resent = order.model_copy(update={"event_id": new_event_id()})  # the reseller retried
    await _send(hub, Topic.ORDERS, order)
    await _wait_events(hub, _status(hub, "contoso"), order.order_id, SubscriptionProvisioned)
    await _send(hub, Topic.ORDERS, order, resent)

    decisions = hub.topics.name(Topic.ORDER_DECISIONS)
    accepted = await _wait_events(hub, decisions, order.order_id, OrderAccepted, count=3)
    assert len({e.event_id for e in accepted}) == 1
    provisioned = await _wait_events(
        hub, _status(hub, "contoso"), order.order_id, SubscriptionProvisioned, count=3
    )
    assert len({e.event_id for e in provisioned}) == 1
    assert await _subscriptions_at_microsoft(hub, "contoso", order.order_id) == 1


async def test_cancel_on_day_three_is_refunded_and_on_day_eight_is_rejected(hub: Hub) -> None:
    customer = await _customer(hub, "contoso")
    order = _order("contoso", customer, (BASIC, 5), (STANDARD, 5))
    await _send(hub, Topic.ORDERS, order)
    subs = await _wait_events(
        hub, _status(hub, "contoso"), order.order_id, SubscriptionProvisioned, count=2
    )
    first, second = sorted(subs, key=lambda e: e.line_index)  # type: ignore[attr-defined]

    async with SimulatorAdmin(hub.simulator_url) as admin:
        day3 = datetime.fromisoformat(await admin.advance(days=3))
        await _send(hub, Topic.SUBSCRIPTION_CHANGES, _cancel(first, day3))
        changed = await _wait_events(
            hub,
            _status(hub, "contoso"),
            first.subscription_id,
            SubscriptionChanged,  # type: ignore[attr-defined]
        )
        day8 = datetime.fromisoformat(await admin.advance(days=5))
        await _send(hub, Topic.SUBSCRIPTION_CHANGES, _cancel(second, day8))
        rejected = await _wait_events(
            hub,
            _status(hub, "contoso"),
            second.subscription_id,  # type: ignore[attr-defined]
            SubscriptionChangeRejected,
        )

    assert changed[0].status == "deleted"  # type: ignore[attr-defined]
    assert changed[0].refund_minor > 0  # type: ignore[attr-defined]
    assert changed[0].effective_at == day3  # type: ignore[attr-defined]
    assert rejected[0].code == "CancellationWindowClosed"  # type: ignore[attr-defined]


def _cancel(provisioned: Event, at: datetime) -> SubscriptionChangeRequested:
    assert isinstance(provisioned, SubscriptionProvisioned)
    return SubscriptionChangeRequested(
        **_envelope(provisioned.reseller_id),
        change_id=f"chg-{uuid.uuid4().hex[:8]}",
        customer_id=provisioned.customer_id,
        subscription_id=provisioned.subscription_id,
        kind="cancel",
        requested_at=at,
    )


def _produce_with_librdkafka(hub: Hub, key: str, event: Event) -> int:
    """``event`` on the orders topic through confluent-kafka's default producer (librdkafka's
    consistent_random partitioner: CRC32 of the key), as most resellers' systems write; the
    partition it landed on."""
    from confluent_kafka import Producer

    landed: list[int] = []

    def delivered(error: object, message: Any) -> None:
        assert error is None, error
        landed.append(message.partition())

    producer = Producer({"bootstrap.servers": hub.bootstrap})
    producer.produce(
        hub.topics.name(Topic.ORDERS), key=key, value=CODEC.encode(event), on_delivery=delivered
    )
    assert producer.flush(30) == 0
    return landed[0]


def _metric(hub: Hub, name: str, **labels: str) -> float:
    text = hub.worker.metrics()
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.split()[-1])
    return 0.0


async def test_a_librdkafka_producer_cannot_split_a_resellers_orders_from_its_exposure(
    hub: Hub,
) -> None:
    """Two orders of 36,000 against a limit of 50,000: one through the hub's own client, one
    through confluent-kafka's default partitioner, which puts it on another partition than the
    reseller's exposure. The second must be held whatever partition it arrived on."""
    customer = await _customer(hub, "litware")
    first = _order("litware", customer, (BASIC, 5))
    await _send(hub, Topic.ORDERS, first)
    await _wait_events(hub, _status(hub, "litware"), first.order_id, OrderAccepted)

    second = _order("litware", customer, (BASIC, 5))
    partition = _produce_with_librdkafka(hub, "litware", second)
    assert partition == 11  # the CRC32 partition, not murmur2's 4: the case under test

    held = await _wait_events(hub, _status(hub, "litware"), second.order_id, OrderHeld)
    assert held[0].reason_code == "over_credit_limit"  # type: ignore[attr-defined]
    assert held[0].exposure_minor == 72_000  # type: ignore[attr-defined]
    decisions = await _events(hub, hub.topics.name(Topic.ORDER_DECISIONS), second.order_id)
    assert [type(e) for e in decisions] == [OrderHeld]
    assert _metric(hub, "hub_ingress_moved_total", topic="reseller.orders") >= 1


async def test_an_order_keyed_for_another_reseller_is_dead_lettered_with_the_reason(
    hub: Hub,
) -> None:
    customer = await _customer(hub, "litware")
    forged = _order("litware", customer, (BASIC, 1))
    _produce_with_librdkafka(hub, "contoso", forged)  # key: contoso; body: litware

    async def reports() -> list[IngressRejected]:
        records = await read_all(hub.bootstrap, _status(hub, "contoso"))
        events = [CODEC.decode(r.value or b"") for r in records]
        return [
            e
            for e in events
            if isinstance(e, IngressRejected) and e.rejected_event_id == forged.event_id
        ]

    deadline = time.monotonic() + 90
    while not (rejected := await reports()):
        assert time.monotonic() < deadline, hub.worker.log_tail()
        await asyncio.sleep(0.5)
    assert [r.code for r in rejected] == ["ResellerIdentityMismatch"]
    dlq = TopicCatalog.dead_letter(hub.topics.name(Topic.ORDERS))
    letters = [r for r in await read_all(hub.bootstrap, dlq) if r.value == CODEC.encode(forged)]
    assert len(letters) == 1
    assert b"ResellerIdentityMismatch" in dict(letters[0].headers)["dlq.error.message"]
    assert await _events(hub, hub.topics.name(Topic.ORDER_DECISIONS), forged.order_id) == []
    assert await _events(hub, _status(hub, "litware"), forged.order_id) == []
