"""Sales incentives through a real worker and broker, behind the real billing flow.

Two resellers and an account manager over three months: contoso's annual subscription billed
up front (paid on time), fabrikam's monthly one cancelled on day 3, and fabrikam's other
monthly one it never pays (credit hold at the January close). The plans go in with
``hub incentives plans apply``; the statements match the hand-computed table of the unit test
that runs the same story in memory (tests/unit/streams/test_incentive_flow.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.commands.billing import confirmation_command
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.money import Money
from hub.domain.reference import Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.incentives import IncentiveStatementIssued, IncentiveStatementRequested
from hub.schemas.events.ingress import PaymentConfirmed
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.unit.streams.test_incentive_flow import EXPECTED, PERIODS, PLANS

CODEC = Codec()
RESELLERS = ("contoso", "fabrikam")
CLOSES = (
    ("2026-11", date(2026, 12, 1)),
    ("2026-12", date(2027, 1, 1)),
    ("2027-01", date(2027, 2, 1)),
)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def env(seed: str, rid: str | None, day: date) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": _at(day),
        "correlation_id": seed,
        "reseller_id": rid,
    }


def reference(topics: TopicCatalog) -> list[Outgoing]:
    out = []
    for rid in RESELLERS:
        profile = ResellerProfile(
            reseller_id=rid,
            partner_id="1234567" if rid == "contoso" else "7654321",
            name=f"{rid} Ltd",
            country="DE",
            currency="EUR",
            languages=("de",),
            billing_mode=BillingMode.RESELLER_BILLS,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=10_000_000,
            payment_terms_days=30,
        )
        customer = Customer(
            customer_id=f"cust-{rid}",
            reseller_id=rid,
            name=f"{rid} customer",
            country="DE",
            language="de",
            currency="EUR",
        )
        ref_day = date(2026, 10, 1)
        out += [
            Outgoing(
                topics.name(Topic.RESELLERS),
                rid,
                ResellerUpserted(**env(f"ref-{rid}", rid, ref_day), reseller=profile),
            ),
            Outgoing(
                topics.name(Topic.CUSTOMERS),
                customer.customer_id,
                CustomerUpserted(**env(f"cust-{rid}", rid, ref_day), customer=customer),
            ),
        ]
    return out


def provisioned(
    topics: TopicCatalog, sub: str, rid: str, cycle: BillingCycle, qty: int
) -> Outgoing:
    annual = cycle is BillingCycle.ANNUAL
    event = SubscriptionProvisioned(
        **env(f"prov-{sub}", rid, date(2026, 11, 1)),
        order_id=f"o-{sub}",
        line_index=0,
        customer_id=f"cust-{rid}",
        subscription_id=sub,
        microsoft_order_id=f"ms-{sub}",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=qty,
        term=Term.P1Y,
        billing_cycle=cycle,
        term_start=date(2026, 11, 1),
        term_end=date(2027, 11, 1),
        auto_renew=False,
        unit_cost_minor=7200 if annual else 600,
        unit_price_minor=8400 if annual else 700,
        currency="EUR",
    )
    return Outgoing(topics.name(Topic.PROVISIONING), rid, event)


def cancelled(topics: TopicCatalog) -> Outgoing:
    day = date(2026, 11, 3)
    event = SubscriptionChanged(
        **env("cancel-s-fab-1", "fabrikam", day),
        change_id="c-s-fab-1",
        customer_id="cust-fabrikam",
        subscription_id="s-fab-1",
        kind="cancel",
        effective_at=_at(day),
        old_quantity=10,
        new_quantity=0,
        status="deleted",
        auto_renew=False,
        currency="EUR",
    )
    return Outgoing(topics.name(Topic.SUBSCRIPTION_EVENTS), "s-fab-1", event)


async def events(kafka: BrokerInfo, topic: str, kind: type[Event]) -> list[Any]:
    records = await read_all(kafka.bootstrap, topic)
    decoded = [CODEC.decode(r.value) for r in records if r.value is not None]
    return [e for e in decoded if isinstance(e, kind)]


async def wait_for(
    kafka: BrokerInfo,
    topic: str,
    kind: type[Event],
    count: int,
    worker: WorkerProcess,
    where: Callable[[Any], bool] = lambda _: True,
) -> list[Any]:
    found: list[Any] = []
    for _ in range(240):
        found = [e for e in await events(kafka, topic, kind) if where(e)]
        if len(found) >= count:
            return found
        assert worker.running(), worker.log_tail()
        await asyncio.sleep(0.5)
    raise AssertionError(f"{topic}: {len(found)} of {count} {kind.__name__}\n{worker.log_tail()}")


async def hub_command(kafka: BrokerInfo, topics: TopicCatalog, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *args,
        env={
            **os.environ,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
            "HUB_TOPIC_PREFIX": topics.prefix,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
    return proc.returncode or 0, out.decode(), err.decode()


def table(statement: IncentiveStatementIssued) -> dict[str, tuple[int, int, int, str]]:
    return {
        p.plan_id: (p.accrued_minor, p.reversed_minor, p.payable_minor, p.tier)
        for p in statement.plans
    }


async def test_three_months_of_incentive_statements_through_billing(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.incentives.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, topics.all(RESELLERS))
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path / "w", topic_prefix=prefix, app_id=f"inc-{uuid.uuid4().hex}"
    ).start()
    try:
        await asyncio.to_thread(worker.wait_ready)
        plans = tmp_path / "plans.json"
        plans.write_text(json.dumps({"plans": PLANS}), encoding="utf-8")
        code, out, err = await hub_command(
            kafka, topics, "incentives", "plans", "apply", str(plans)
        )
        assert code == 0, err
        assert "applied 3 incentive plans" in err
        await publish(kafka.bootstrap, CODEC, reference(topics))
        await publish(
            kafka.bootstrap,
            CODEC,
            [
                provisioned(topics, "s-annual", "contoso", BillingCycle.ANNUAL, 10),
                provisioned(topics, "s-fab-1", "fabrikam", BillingCycle.MONTHLY, 10),
                provisioned(topics, "s-fab-2", "fabrikam", BillingCycle.MONTHLY, 5),
            ],
        )
        charges = topics.name(Topic.CHARGES)
        await wait_for(kafka, charges, b.ChargeRated, 3, worker)
        await publish(kafka.bootstrap, CODEC, [cancelled(topics)])
        await wait_for(kafka, charges, b.ChargeRated, 4, worker)

        collections = topics.name(Topic.COLLECTIONS)
        paid = 0
        for n, (period, as_of) in enumerate(CLOSES, start=1):
            run = b.BillingRunRequested(
                **env(f"close-{period}", None, as_of), run="close", period=period, as_of=as_of
            )
            await publish(
                kafka.bootstrap, CODEC, [Outgoing(topics.name(Topic.BILLING_INPUTS), "all", run)]
            )
            await wait_for(kafka, collections, b.BillingRunCompleted, 2 * n, worker)
            # contoso pays each invoice on its due date; finance confirms it.
            invoices = await events(kafka, topics.name(Topic.INVOICES), b.InvoiceIssued)
            due = [i for i in invoices if i.reseller_id == "contoso" and i.issued_on == as_of]
            confirmations = [
                confirmation_command(
                    reseller_id="contoso",
                    payment_id=f"pay-{i.number}",
                    amount=Money.of(i.total_minor, i.currency).to_decimal(),
                    currency=i.currency,
                    received_on=i.due_date,
                    by="finance",
                    source="ops",
                    now=_at(i.due_date),
                    invoice_ids=(i.invoice_id,),
                )
                for i in due
            ]
            await publish(
                kafka.bootstrap,
                CODEC,
                [
                    Outgoing(topics.name(Topic.OPS_COMMANDS), c.reseller_id, c)
                    for c in confirmations
                ],
            )
            paid += len(confirmations)
            await wait_for(kafka, collections, PaymentConfirmed, paid, worker)

        holds = await events(kafka, collections, b.DunningStageReached)
        assert {(h.reseller_id, h.stage) for h in holds if h.stage == "credit_hold"} == {
            ("fabrikam", "credit_hold")
        }

        # One statement through the command, as finance would ask for it...
        code, out, err = await hub_command(
            kafka,
            topics,
            "incentives",
            "statement",
            "--payee",
            "fabrikam",
            "--period",
            "2026-11",
            "-o",
            "json",
            "--timeout",
            "120",
        )
        assert code == 0, err + worker.log_tail()
        doc = json.loads(out)
        assert (
            doc["plans"][0]["payable_minor"]
            == EXPECTED[("fabrikam", "2026-11")]["rebate-fabrikam"][2]
        )
        # ...the rest asked directly, all compared with the hand-computed table.
        ledger = topics.name(Topic.INCENTIVE_LEDGER)
        asked = []
        for payee, period in EXPECTED:
            request = IncentiveStatementRequested(
                **env(f"ask-{payee}-{period}", None, date(2027, 2, 2)), payee=payee, period=period
            )
            asked.append(Outgoing(ledger, payee, request))
        await publish(kafka.bootstrap, CODEC, asked)
        ids = {o.event.event_id for o in asked}
        finance = topics.name(Topic.INCENTIVE_STATEMENTS)
        issued = await wait_for(
            kafka,
            finance,
            IncentiveStatementIssued,
            len(ids),
            worker,
            where=lambda e: e.causation_id in ids,
        )
        got = {(s.payee, s.period): table(s) for s in issued}
        assert got == EXPECTED
        assert len(PERIODS) == 4

        # fabrikam reads its own rebate statements on its billing topic, and nothing of
        # contoso's or of the account manager's.
        own = await events(
            kafka, topics.partner("fabrikam", PartnerTopic.BILLING), IncentiveStatementIssued
        )
        assert {s.payee for s in own} == {"fabrikam"}
        assert {p.plan_id for s in own for p in s.plans} == {"rebate-fabrikam"}
    finally:
        worker.stop()
