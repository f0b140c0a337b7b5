"""Hostile and malformed input on every ingress topic: one outcome each, the worker goes on.

Each reseller ingress topic (orders, subscription changes, tickets, payments), each reference
topic and the credit approvals get, between good events: random bytes, a truncated Avro event,
a valid event of another contract, an event with an oversized field, and a tombstone. Each of
those must be dead-lettered exactly once with a reason; an order naming another reseller's
customer must be rejected with a reason; the worker must still be running and the good events
sent after the poison must be processed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, producer, publish, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.events.orders import OrderLine, OrderRejected, OrderRequested
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.checker import dead_letter_of
from tests.support.samples import sample

pytestmark = [pytest.mark.e2e]

CODEC = Codec()
ALPHA, BETA = "poison-alpha", "poison-beta"
INGRESS = (
    Topic.ORDERS,
    Topic.SUBSCRIPTION_CHANGES,
    Topic.TICKETS,
    Topic.PAYMENTS,
    Topic.RESELLERS,
    Topic.CUSTOMERS,
    Topic.CATALOG,
    Topic.PRICES,
    Topic.CREDITS_APPROVED,
)


def _env(rid: str | None) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"poison-{uuid.uuid4().hex[:8]}",
        "reseller_id": rid,
    }


def reseller(rid: str) -> ResellerUpserted:
    profile = ResellerProfile(
        reseller_id=rid,
        partner_id="4300001" if rid == ALPHA else "4300002",
        name=rid,
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**9,
        payment_terms_days=30,
    )
    return ResellerUpserted(**_env(rid), reseller=profile)


def customer(rid: str, cid: str) -> CustomerUpserted:
    c = Customer(
        customer_id=cid,
        reseller_id=rid,
        name=f"Customer {cid}",
        country="US",
        language="en",
        currency="USD",
    )
    return CustomerUpserted(**_env(rid), customer=c)


def order(rid: str, cid: str) -> OrderRequested:
    line = OrderLine(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=1,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        **_env(rid),
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=cid,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


def poison(topic: str, n: int, rng: random.Random) -> list[tuple[str, bytes | None]]:
    """(key, value) of each poison message for ``topic``: keys are unique and name the case."""
    good = CODEC.encode(sample("TicketOpened"))
    other_contract = "TicketOpened" if "tickets" not in topic else "PaymentReceived"
    oversized = sample("TicketOpened").model_copy(update={"subject": "x" * 200_000})
    return [
        (f"garbage-{n}", rng.randbytes(rng.randint(1, 300))),
        (f"truncated-{n}", good[: len(good) // 2]),
        (f"wrong-contract-{n}", CODEC.encode(sample(other_contract))),
        (f"oversized-{n}", CODEC.encode(oversized)),
        (f"tombstone-{n}", None),
    ]


def web(worker: WorkerProcess, path: str) -> Any:
    url = f"http://127.0.0.1:{worker.web_port}{path}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def until(check: Any, what: str, worker: WorkerProcess, timeout_s: float = 90) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        assert worker.running(), worker.log_tail()
        assert time.monotonic() < deadline, f"{what}:\n{worker.log_tail()}"
        time.sleep(0.5)


def test_poison_on_every_ingress_topic_is_dead_lettered_once_and_good_events_flow(
    kafka: BrokerInfo, topic_name: Any, tmp_path: Path
) -> None:
    prefix = topic_name("poison") + "."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all([ALPHA, BETA])))
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path, topic_prefix=prefix, app_id=f"poison-{uuid.uuid4().hex[:8]}"
    )
    rng = random.Random(11)
    cid_alpha, cid_beta = f"pc-a-{uuid.uuid4().hex[:6]}", f"pc-b-{uuid.uuid4().hex[:6]}"
    late_customer = f"pc-late-{uuid.uuid4().hex[:6]}"
    sent: dict[str, set[str]] = {}
    try:
        first = [
            Outgoing(topics.name(Topic.RESELLERS), ALPHA, reseller(ALPHA)),
            Outgoing(topics.name(Topic.RESELLERS), BETA, reseller(BETA)),
            Outgoing(topics.name(Topic.CUSTOMERS), cid_alpha, customer(ALPHA, cid_alpha)),
            Outgoing(topics.name(Topic.CUSTOMERS), cid_beta, customer(BETA, cid_beta)),
        ]
        asyncio.run(publish(kafka.bootstrap, CODEC, first))
        worker.start().wait_ready()
        until(
            lambda: cid_beta in web(worker, "/orders-reference/")["customers"],
            "reference loaded",
            worker,
        )

        async def send_poison() -> None:
            async with producer(kafka.bootstrap) as client:
                for n, topic in enumerate(INGRESS):
                    name = topics.name(topic)
                    for key, value in poison(name, n, rng):
                        sent.setdefault(name, set()).add(key)
                        await client.send_and_wait(name, key=key.encode(), value=value)

        asyncio.run(send_poison())
        # An order of reseller alpha naming beta's customer, then good events after the poison.
        stolen = order(ALPHA, cid_beta)
        good = order(ALPHA, cid_alpha)
        late = customer(ALPHA, late_customer)
        asyncio.run(
            publish(
                kafka.bootstrap,
                CODEC,
                [
                    Outgoing(topics.name(Topic.ORDERS), ALPHA, stolen),
                    Outgoing(topics.name(Topic.ORDERS), ALPHA, good),
                    Outgoing(topics.name(Topic.CUSTOMERS), late_customer, late),
                ],
            )
        )

        def decisions() -> dict[str, Any]:
            records = asyncio.run(read_all(kafka.bootstrap, topics.name(Topic.ORDER_DECISIONS)))
            events = [CODEC.decode(r.value) for r in records if r.value]
            return {e.order_id: e for e in events if hasattr(e, "order_id")}

        found = until(
            lambda: (d := decisions()) and {stolen.order_id, good.order_id} <= set(d) and d,
            "decisions for the orders after the poison",
            worker,
        )
        rejected = found[stolen.order_id]
        assert isinstance(rejected, OrderRejected), rejected
        assert any("customer" in str(r).lower() for r in rejected.reasons), rejected
        # The good order after the poison was decided (its catalogue is beside the point here).
        assert found[good.order_id].causation_id == good.event_id
        until(
            lambda: late_customer in web(worker, "/orders-reference/")["customers"],
            "the customer sent after the poison",
            worker,
        )

        def letters() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for name in sent:
                for r in asyncio.run(read_all(kafka.bootstrap, TopicCatalog.dead_letter(name))):
                    key = (r.key or b"").decode()
                    out.setdefault(f"{name}|{key}", []).append(dead_letter_of(r).reason)
            return out

        expected = {f"{name}|{key}" for name, keys in sent.items() for key in keys}
        deadline = time.monotonic() + 90
        while not expected <= set(dead := letters()) and time.monotonic() < deadline:
            time.sleep(1)
        missing = expected - set(dead)
        doubled = {k: v for k, v in dead.items() if k in expected and len(v) != 1}
        assert not missing, sorted(k.split(".poison.")[-1] for k in missing)
        assert not doubled, doubled
        assert all(dead[k][0] and "None" not in dead[k][0] for k in expected), dead
        assert worker.running()
        assert worker.starts == 1
    finally:
        worker.stop()
