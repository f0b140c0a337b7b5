"""A month of Azure plan usage end to end: the simulator's daily usage for several customers of two
resellers, pulled with ``hub consumption ingest``, through a real worker and broker: a spike that
raises a budget alert and an anomaly, an order held because accrued consumption used the credit
limit, the billed figures reconciled (one injected difference found), and the month's invoice
carrying the consumption lines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hub import cli
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.consumption.invoice_lines import AZURE_PLAN_PRODUCT_ID
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events import consumption as u
from hub.schemas.events.orders import OrderAccepted, OrderHeld
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.server import PartnerCenterSimulator, serve
from hub.simulator.partner_center.usage import UsagePlan
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support import ingress_world as world
from tests.support.broker import BrokerInfo

CODEC = Codec()
TOKEN = "sim-token"
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
A, B = "cz-a", "cz-b"
# cz-a may owe 500.00 USD: a month of its Azure usage (about 1,300 USD) uses that up.
LIMITS = {A: 50_000, B: 10_000_000}
SPIKE_DAY = date(2026, 11, 20)
DIFFERENT = ("az-b1", 0, date(2026, 11, 5))


def plan() -> UsagePlan:
    mpn = {rid: world.reseller(rid).partner_id for rid in (A, B)}
    subs = [
        {
            "customer_id": "a-cust-1",
            "subscription_id": "az-a1",
            "reseller_mpn_id": mpn[A],
            "meters": 5,
            "daily_cost": "20",
        },
        {
            "customer_id": "a-cust-2",
            "subscription_id": "az-a2",
            "reseller_mpn_id": mpn[A],
            "meters": 4,
            "daily_cost": "20",
        },
        {
            "customer_id": "b-cust-1",
            "subscription_id": "az-b1",
            "reseller_mpn_id": mpn[B],
            "meters": 5,
            "daily_cost": "5",
        },
    ]
    return UsagePlan.model_validate(
        {
            "start": "2026-11-01",
            "subscriptions": subs,
            "spikes": [{"subscription_id": "az-a1", "day": SPIKE_DAY.isoformat(), "factor": "8"}],
            "differences": [
                {
                    "subscription_id": DIFFERENT[0],
                    "meter": DIFFERENT[1],
                    "day": DIFFERENT[2].isoformat(),
                    "factor": "1.3",
                }
            ],
        }
    )


async def events(kafka: BrokerInfo, topic: str) -> list[Event]:
    return [CODEC.decode(r.value) for r in await read_all(kafka.bootstrap, topic) if r.value]


async def wait(
    what: str, check: Callable[[], Any], worker: WorkerProcess, timeout_s: float = 120
) -> Any:
    for _ in range(int(timeout_s * 2)):
        found = await check()
        if found:
            return found
        assert worker.running(), worker.log_tail()
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {what}:\n{worker.log_tail()}")


async def hub_cli(*args: str) -> None:
    assert await asyncio.to_thread(cli.main, list(args)) == 0


async def test_a_month_of_azure_usage_alerts_holds_reconciles_and_is_invoiced(
    kafka: BrokerInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"t.cons.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, topics.all([A, B]))
    sim = await serve("127.0.0.1", 0, simulator=PartnerCenterSimulator(start=START, token=TOKEN))
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path, topic_prefix=prefix, app_id=f"cons-{uuid.uuid4().hex}"
    ).start()
    for name, value in {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_PARTNER_CENTER_URL": sim.url,
        "HUB_PARTNER_CENTER_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        await publish(kafka.bootstrap, CODEC, world.reference(topics, (A, B), limits=LIMITS))
        await asyncio.to_thread(worker.wait_ready)
        async with SimulatorAdmin(sim.url) as admin:
            await admin._call("POST", "/admin/usage", plan().model_dump(mode="json"))
            await hub_cli(
                "consumption",
                "budget",
                A,
                "--customer",
                "a-cust-1",
                "--amount",
                "400.00",
                "--currency",
                "USD",
            )
            # Before any usage an order fits cz-a's limit.
            orders = topics.name(Topic.ORDERS)
            await publish(kafka.bootstrap, CODEC, [Outgoing(orders, A, world.order(A))])
            status_a = topics.partner(A, PartnerTopic.STATUS)

            async def decided(kind: type) -> list[Any]:
                return [e for e in await events(kafka, status_a) if isinstance(e, kind)]

            await wait("the first order accepted", lambda: decided(OrderAccepted), worker)

            # December 2nd, midday: all of November is reported (30 h of lag), as estimates.
            await admin.advance(days=31, hours=3)
            await hub_cli("consumption", "ingest", "--period", "previous")
            rated_topic = topics.name(Topic.CONSUMPTION_RATED)
            lines = 30 * (5 + 4 + 5)

            async def rated() -> list[u.UsageRated]:
                found = [e for e in await events(kafka, rated_topic) if isinstance(e, u.UsageRated)]
                return found if len(found) >= lines else []

            await wait("every estimate rated", rated, worker)

            # The spike: a budget alert (each threshold once) and an anomaly on cz-a's topic.
            status = await events(kafka, status_a)
            budget = [e for e in status if isinstance(e, u.ConsumptionBudgetThresholdReached)]
            assert sorted(a.threshold_percent for a in budget) == [50, 80, 100]
            assert {a.customer_id for a in budget} == {"a-cust-1"}
            anomalies = [e for e in status if isinstance(e, u.ConsumptionAnomalyDetected)]
            assert [(a.customer_id, a.usage_date) for a in anomalies] == [("a-cust-1", SPIKE_DAY)]

            # Accrued consumption has used cz-a's limit: its next order is held.
            await publish(kafka.bootstrap, CODEC, [Outgoing(orders, A, world.order(A))])
            (held,) = await wait("the order held", lambda: decided(OrderHeld), worker)
            assert held.reason_code == "over_credit_limit"
            assert "accrued consumption" in held.message

            # Microsoft bills November: the billed figures are reconciled against the estimates.
            await hub_cli("consumption", "ingest", "--invoice", "U-2026-11")
            alerts = topics.name(Topic.CONSUMPTION_ALERTS)

            async def mismatches() -> list[u.UsageMismatchFound]:
                return [
                    e for e in await events(kafka, alerts) if isinstance(e, u.UsageMismatchFound)
                ]

            async def finals_rated() -> bool:
                done = [r for r in await rated() if r.stage == "final"]
                return len(done) >= 1

            await wait("the differing billed figure", mismatches, worker)
            await wait("billed figures rated", finals_rated, worker)
            await asyncio.sleep(2)  # a second difference would show up now
            found = await mismatches()
            assert {(m.subscription_id, m.usage_date) for m in found} == {
                (DIFFERENT[0], DIFFERENT[2])
            }
            assert {m.kind for m in found} == {"quantity_differs", "cost_differs"}

            # Month end: consumption to billing, then billing's close issues the invoices.
            await hub_cli("consumption", "close", "--period", "2026-11")
            billing_inputs = topics.name(Topic.BILLING_INPUTS)

            async def charged() -> list[u.ConsumptionCharged]:
                return [
                    e
                    for e in await events(kafka, billing_inputs)
                    if isinstance(e, u.ConsumptionCharged)
                ]

            # One line per customer's subscription and meter category.
            await wait("the consumption lines", charged, worker)
            await asyncio.sleep(2)
            await hub_cli("billing", "close", "--period", "2026-11")

            async def invoices(rid: str) -> list[b.InvoiceIssued]:
                topic = topics.partner(rid, PartnerTopic.BILLING)
                return [e for e in await events(kafka, topic) if isinstance(e, b.InvoiceIssued)]

            for rid in (A, B):
                (invoice,) = await wait(f"{rid}'s invoice", lambda rid=rid: invoices(rid), worker)
                azure = [ln for ln in invoice.lines if AZURE_PLAN_PRODUCT_ID in ln.description]
                mine = [c for c in await charged() if c.reseller_id == rid]
                assert azure
                assert sum(ln.amount_minor for ln in azure) == sum(c.amount_minor for c in mine)
                assert {ln.line_id for ln in azure} == {c.line_id for c in mine}
                assert {ln.subscription_id for ln in azure} == {c.subscription_id for c in mine}
    finally:
        worker.stop()
        await sim.close()
