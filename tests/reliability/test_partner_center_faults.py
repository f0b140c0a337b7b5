"""A burst of 50 orders while Partner Center loses responses, throttles, fails and crawls.

One hub worker and a fresh Partner Center simulator (a subprocess). After one clean order (the
requests a placement costs, ``R``), 50 orders go in at once while the simulator, all together:
answers checkouts and carts and then drops the response (timeouts after success), throttles
with 429 storms, answers 5xx bursts, hangs past the client timeout and adds latency to every
call. Afterwards: one subscription at the simulator per provisioned order (none doubled by a
retried lost response), every order ends ``SubscriptionProvisioned`` or ``ProvisioningFailed``
with a reason, and the simulator saw at most ``51 R + F (1 + R)`` requests for ``F`` injected
faults (each fault costs at most its own request plus one re-placement).
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.local_kafka import free_port
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.orders import (
    OrderLine,
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
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind, LostResponseMode
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORDERS = 50
BASIC = ("CFQ7TTC0LH18", "0001", "CFQ7TTC0K5DL")  # known to the simulator
RESELLER = "pcf-reseller"
CODEC = Codec()
FAULTS = [
    # Timeouts after success: the simulator acts, then the caller never hears back.
    Fault(kind=FaultKind.LOSE_RESPONSE, count=6, operation="checkout"),
    Fault(
        kind=FaultKind.LOSE_RESPONSE,
        count=4,
        operation="create_cart",
        mode=LostResponseMode.SERVICE_UNAVAILABLE,
    ),
    Fault(kind=FaultKind.LOSE_RESPONSE, count=3, operation="create_customer"),
    # A 429 storm with short Retry-After, and 5xx bursts.
    Fault(kind=FaultKind.THROTTLE, count=15, retry_after=0.05),
    Fault(kind=FaultKind.SERVER_ERROR, count=8, operation="checkout", status=503),
    Fault(kind=FaultKind.SERVER_ERROR, count=5, operation="create_cart", status=500),
    # Hangs past the client's 2 s timeout.
    Fault(kind=FaultKind.TIMEOUT, count=3, operation="checkout", seconds=3.0),
]
SLOW = Fault(kind=FaultKind.LATENCY, count=None, seconds=0.05)


def _env(rid: str | None) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"pcf-{uuid.uuid4().hex[:8]}",
        "reseller_id": rid,
    }


def reference(topics: TopicCatalog, customers: list[str]) -> list[Outgoing]:
    profile = ResellerProfile(
        reseller_id=RESELLER,
        partner_id="4200001",
        name="PCF Reseller",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**12,
        payment_terms_days=30,
    )
    item = CatalogItem(
        product_id=BASIC[0],
        sku_id=BASIC[1],
        availability_id=BASIC[2],
        name="Basic",
        service="exchange",
        markets=("US",),
    )
    entry = PriceListEntry(
        product_id=BASIC[0],
        sku_id=BASIC[1],
        availability_id=BASIC[2],
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=600,
        effective_from=datetime(2020, 1, 1, tzinfo=UTC).date(),
    )
    out = [
        Outgoing(
            topics.name(Topic.RESELLERS),
            RESELLER,
            ResellerUpserted(**_env(RESELLER), reseller=profile),
        ),
        Outgoing(
            topics.name(Topic.CATALOG),
            item.catalog_item_id,
            CatalogItemUpserted(**_env(None), item=item),
        ),
        Outgoing(
            topics.name(Topic.PRICES),
            item.catalog_item_id,
            PriceListEntryUpserted(**_env(None), price_list_id="msft", entry=entry),
        ),
    ]
    for cid in customers:
        customer = Customer(
            customer_id=cid,
            reseller_id=RESELLER,
            name=f"Customer {cid}",
            country="US",
            language="en",
            currency="USD",
        )
        out.append(
            Outgoing(
                topics.name(Topic.CUSTOMERS),
                cid,
                CustomerUpserted(**_env(RESELLER), customer=customer),
            )
        )
    return out


def order(customer_id: str, n: int) -> OrderRequested:
    line = OrderLine(
        product_id=BASIC[0],
        sku_id=BASIC[1],
        availability_id=BASIC[2],
        quantity=1 + n % 5,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        **_env(RESELLER),
        order_id=f"PCF-{n:03d}-{uuid.uuid4().hex[:6]}",
        customer_id=customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


def outcomes(bootstrap: str, topics: TopicCatalog) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {}
    for record in asyncio.run(read_all(bootstrap, topics.name(Topic.PROVISIONING))):
        event = CODEC.decode(record.value or b"")
        if isinstance(event, SubscriptionProvisioned | ProvisioningFailed):
            found.setdefault(event.order_id, []).append(event)
    return found


def wait_outcomes(
    bootstrap: str, topics: TopicCatalog, orders: list[str], worker: WorkerProcess
) -> dict[str, list[Event]]:
    deadline = time.monotonic() + 300
    while True:
        found = outcomes(bootstrap, topics)
        if all(o in found for o in orders):
            return found
        assert worker.running(), worker.log_tail()
        missing = [o for o in orders if o not in found]
        assert time.monotonic() < deadline, f"no outcome for {missing}:\n{worker.log_tail()}"
        time.sleep(1)


async def sim_state(url: str) -> dict[str, Any]:
    async with SimulatorAdmin(url) as admin:
        return await admin.state()


def test_order_burst_under_partner_center_faults_gives_one_outcome_each_and_no_duplicates(
    kafka: BrokerInfo, topic_name: Any, tmp_path: Path
) -> None:
    prefix = topic_name("pcf") + "."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all([RESELLER])))
    customers = [f"pcf-c{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(ORDERS + 1)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim_log = tmp_path / "simulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    simulator = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "partner-center", "--port", str(port)],
        env=env,
        stdout=sim_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    worker = WorkerProcess(
        kafka.bootstrap,
        tmp_path,
        topic_prefix=prefix,
        app_id=f"pcf-{uuid.uuid4().hex[:8]}",
        env={"HUB_PARTNER_CENTER_URL": url, "HUB_PARTNER_CENTER_TIMEOUT_S": "2"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/admin/state", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, sim_log.read_text()[-2000:]
                time.sleep(0.2)
        asyncio.run(publish(kafka.bootstrap, CODEC, reference(topics, customers)))
        worker.start().wait_ready()
        deadline = time.monotonic() + 90
        while True:
            try:
                page = f"http://127.0.0.1:{worker.web_port}/orders-reference/"
                with urllib.request.urlopen(page, timeout=5) as response:
                    loaded = json.loads(response.read())
                if set(customers) <= set(loaded["customers"]) and loaded["prices"]:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.5)

        # One clean order: what a placement costs in requests.
        first = order(customers[0], 0)
        asyncio.run(
            publish(kafka.bootstrap, CODEC, [Outgoing(topics.name(Topic.ORDERS), RESELLER, first)])
        )
        wait_outcomes(kafka.bootstrap, topics, [first.order_id], worker)
        per_order = sum(asyncio.run(sim_state(url))["requests"].values())

        async def inject() -> None:
            async with SimulatorAdmin(url) as admin:
                await admin.inject(*FAULTS, SLOW)

        asyncio.run(inject())
        burst = [order(customers[n], n) for n in range(1, ORDERS + 1)]
        asyncio.run(
            publish(
                kafka.bootstrap,
                CODEC,
                [Outgoing(topics.name(Topic.ORDERS), RESELLER, o) for o in burst],
            )
        )
        found = wait_outcomes(kafka.bootstrap, topics, [o.order_id for o in burst], worker)
        state = asyncio.run(sim_state(url))

        provisioned = {
            o: evs
            for o, evs in found.items()
            if any(isinstance(e, SubscriptionProvisioned) for e in evs)
        }
        failed = {o: evs for o, evs in found.items() if o not in provisioned}
        for order_id, evs in found.items():
            kinds = {type(e).__name__ for e in evs}
            assert len(kinds) == 1, f"{order_id} ended both ways: {kinds}"
            subs = {e.subscription_id for e in evs if isinstance(e, SubscriptionProvisioned)}
            assert len(subs) <= 1, f"{order_id} provisioned twice: {subs}"
        for order_id, evs in failed.items():
            reason = evs[0]
            assert isinstance(reason, ProvisioningFailed)
            assert reason.code, order_id
            assert reason.message, order_id
        # No duplicate subscriptions at Microsoft: exactly one per provisioned order.
        assert state["subscriptions"] == len(provisioned), state
        assert state["orders"] == len(provisioned), state
        total = sum(state["requests"].values())
        faults = sum(f.count or 0 for f in FAULTS)
        bound = (ORDERS + 1) * per_order + faults * (1 + per_order)
        print(
            f"\npartner center faults: {ORDERS} orders, {len(provisioned) - 1} provisioned, "
            f"{len(failed)} failed, {total} requests (bound {bound}, {per_order} per clean "
            f"order, {faults} faults), by operation {state['requests']}"
        )
        assert total <= bound
        assert len(provisioned) + len(failed) == ORDERS + 1
        assert not state["faults"] or all(f.get("count") is None for f in state["faults"])
    finally:
        worker.stop()
        simulator.terminate()
        simulator.wait(timeout=30)
