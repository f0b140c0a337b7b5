"""A month of billing through a real worker and broker: two resellers, close, dunning, replay."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import Brand, Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo

CODEC = Codec()
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RESELLERS = ("contoso", "fabrikam")


def env(seed: str, rid: str | None, at: datetime = T0) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": at,
        "correlation_id": seed,
        "reseller_id": rid,
    }


def reference(topics: TopicCatalog) -> list[Outgoing]:
    brand = Brand(display_name="Fabrikam IT", signature="Fabrikam", reply_to="billing@fab.fr")
    out: list[Outgoing] = []
    for rid, mode, country, lang in (
        ("contoso", BillingMode.RESELLER_BILLS, "DE", "de"),
        ("fabrikam", BillingMode.DISTRIBUTOR_WHITE_LABEL, "FR", "fr"),
    ):
        profile = ResellerProfile(
            reseller_id=rid,
            partner_id="1234567" if rid == "contoso" else "7654321",
            name=f"{rid} SARL",
            country=country,
            currency="EUR",
            languages=(lang,),
            billing_mode=mode,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=10_000_000,
            payment_terms_days=14,
            brand=brand if mode is BillingMode.DISTRIBUTOR_WHITE_LABEL else None,
        )
        customer = Customer(
            customer_id=f"{rid}-cust",
            reseller_id=rid,
            name=f"Customer of {rid}",
            country=country,
            language=lang,
            currency="EUR",
        )
        out.append(
            Outgoing(
                topics.name(Topic.RESELLERS),
                rid,
                ResellerUpserted(**env(f"ref-{rid}", rid), reseller=profile),
            )
        )
        out.append(
            Outgoing(
                topics.name(Topic.CUSTOMERS),
                customer.customer_id,
                CustomerUpserted(**env(f"cust-{rid}", rid), customer=customer),
            )
        )
    return out


def provisioned(topics: TopicCatalog, rid: str) -> Outgoing:
    event = SubscriptionProvisioned(
        **env(f"prov-{rid}", rid),
        order_id=f"o-{rid}",
        line_index=0,
        customer_id=f"{rid}-cust",
        subscription_id=f"sub-{rid}",
        microsoft_order_id=f"ms-{rid}",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=10,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=date(2026, 11, 1),
        term_end=date(2027, 11, 1),
        unit_cost_minor=600,
        unit_price_minor=700,
        currency="EUR",
    )
    return Outgoing(topics.name(Topic.PROVISIONING), rid, event)


def seats_added(topics: TopicCatalog, rid: str) -> Outgoing:
    at = datetime(2026, 11, 16, 10, tzinfo=UTC)
    event = SubscriptionChanged(
        **env(f"chg-{rid}", rid, at),
        change_id=f"chg-{rid}",
        customer_id=f"{rid}-cust",
        subscription_id=f"sub-{rid}",
        kind="change_quantity",
        effective_at=at,
        old_quantity=10,
        new_quantity=12,
        status="active",
        auto_renew=True,
        currency="EUR",
    )
    # Keyed by subscription id, as the lifecycle publishes it; billing re-keys by reseller.
    return Outgoing(topics.name(Topic.SUBSCRIPTION_EVENTS), f"sub-{rid}", event)


def billing_run(topics: TopicCatalog, seed: str, run: str, **fields: Any) -> Outgoing:
    event = b.BillingRunRequested(**env(seed, None), run=run, **fields)  # type: ignore[arg-type]
    return Outgoing(topics.name(Topic.BILLING_INPUTS), "all", event)


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
    *,
    where: Callable[[Any], bool] = lambda _: True,
) -> list[Any]:
    found: list[Any] = []
    for _ in range(120):
        found = [e for e in await events(kafka, topic, kind) if where(e)]
        if len(found) >= count:
            return found
        assert worker.running(), worker.log_tail()
        await asyncio.sleep(0.5)
    raise AssertionError(f"{topic}: {len(found)} of {count} {kind.__name__}\n{worker.log_tail()}")


async def start_hub(
    kafka: BrokerInfo, tmp_path: Path, name: str
) -> tuple[TopicCatalog, WorkerProcess]:
    prefix = f"t.{name}.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, topics.all(RESELLERS))
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path / name, topic_prefix=prefix, app_id=f"billing-{uuid.uuid4().hex}"
    ).start()
    await asyncio.to_thread(worker.wait_ready)
    return topics, worker


async def month(kafka: BrokerInfo, topics: TopicCatalog, worker: WorkerProcess) -> None:
    """Reference data, two subscriptions, a seat change each, then the November close."""
    await publish(kafka.bootstrap, CODEC, reference(topics))
    await publish(kafka.bootstrap, CODEC, [provisioned(topics, rid) for rid in RESELLERS])
    await wait_for(kafka, topics.name(Topic.CHARGES), b.ChargeRated, 2, worker)
    await publish(kafka.bootstrap, CODEC, [seats_added(topics, rid) for rid in RESELLERS])
    await wait_for(kafka, topics.name(Topic.CHARGES), b.ChargeRated, 4, worker)
    close = billing_run(topics, "close-nov", "close", period="2026-11", as_of=date(2026, 12, 1))
    await publish(kafka.bootstrap, CODEC, [close])
    await wait_for(kafka, topics.name(Topic.INVOICES), b.InvoiceIssued, 2, worker)


def _summary(invoices: Sequence[b.InvoiceIssued]) -> list[tuple[str, str, int, int]]:
    return sorted((i.invoice_id, i.number, i.total_minor, i.tax_minor) for i in invoices)


async def test_a_month_for_two_resellers_bills_each_on_its_own_topic_once(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    topics, worker = await start_hub(kafka, tmp_path, "month")
    try:
        await month(kafka, topics, worker)
        contoso_topic = topics.partner("contoso", PartnerTopic.BILLING)
        fabrikam_topic = topics.partner("fabrikam", PartnerTopic.BILLING)
        (contoso,) = await events(kafka, contoso_topic, b.InvoiceIssued)
        (fabrikam,) = await events(kafka, fabrikam_topic, b.InvoiceIssued)
        assert contoso.recipient.party_id == "contoso"
        assert contoso.billing_mode is BillingMode.RESELLER_BILLS
        assert contoso.subtotal_minor == 7000 + 700  # 10 seats + 2 seats for 15 of 30 days
        assert fabrikam.recipient.party_id == "fabrikam-cust"
        assert fabrikam.issuer.party_id == "fabrikam"
        assert fabrikam.brand is not None
        assert fabrikam.tax_minor == 1540  # TVA 20% per line on 7000 and 700
        assert fabrikam.due_date == date(2026, 12, 15)
        everything = await read_all(kafka.bootstrap, contoso_topic)
        assert all(
            getattr(CODEC.decode(r.value or b""), "reseller_id", None) == "contoso"
            for r in everything
        )

        # Closing twice (a second command) issues nothing new.
        again = billing_run(
            topics, "close-nov-again", "close", period="2026-11", as_of=date(2026, 12, 2)
        )
        await publish(kafka.bootstrap, CODEC, [again])
        # A dunning run after the second close proves the second close was processed.
        probe = billing_run(topics, "dunning-probe", "dunning", as_of=date(2026, 12, 2))
        await publish(kafka.bootstrap, CODEC, [probe])
        await asyncio.sleep(3)
        assert len(await events(kafka, topics.name(Topic.INVOICES), b.InvoiceIssued)) == 2

        # Nobody pays: reminder, final notice, then a credit hold on each partner topic.
        stages: list[str] = []
        for day in (date(2026, 12, 16), date(2026, 12, 30), date(2027, 1, 14)):
            run = billing_run(topics, f"dunning-{day}", "dunning", as_of=day)
            await publish(kafka.bootstrap, CODEC, [run])
            reached = await wait_for(
                kafka,
                contoso_topic,
                b.DunningStageReached,
                len(stages) + 1,
                worker,
            )
            stages = [e.stage for e in reached]
        assert stages == ["reminder", "final_notice", "credit_hold"]
        hold = (await events(kafka, contoso_topic, b.DunningStageReached))[-1]
        assert hold.credit_hold
        assert hold.invoice_ids == (contoso.invoice_id,)
        collections = await events(kafka, topics.name(Topic.COLLECTIONS), b.DunningStageReached)
        assert {(e.reseller_id, e.stage) for e in collections} >= {
            ("contoso", "credit_hold"),
            ("fabrikam", "credit_hold"),
        }
    finally:
        worker.stop()

    # The same inputs into a fresh hub give identical invoices (ids, numbers, amounts).
    replay_topics, replay = await start_hub(kafka, tmp_path, "replay")
    try:
        await month(kafka, replay_topics, replay)
        first = await events(kafka, topics.name(Topic.INVOICES), b.InvoiceIssued)
        second = await events(kafka, replay_topics.name(Topic.INVOICES), b.InvoiceIssued)
        assert _summary(first) == _summary(second)
        assert sorted(first, key=lambda i: i.number) == sorted(second, key=lambda i: i.number)
    finally:
        replay.stop()


async def hub_command(kafka: BrokerInfo, topics: TopicCatalog, *args: str) -> tuple[int, str]:
    """Run ``hub ARGS`` as an operator would, against the test's broker and topics."""
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "HUB_TOPIC_PREFIX": topics.prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    return proc.returncode or 0, out.decode()


async def test_close_wait_follows_every_resellers_close_and_says_what_it_issued(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    topics, worker = await start_hub(kafka, tmp_path, "wait")
    try:
        await publish(kafka.bootstrap, CODEC, reference(topics))
        await publish(kafka.bootstrap, CODEC, [provisioned(topics, rid) for rid in RESELLERS])
        await wait_for(kafka, topics.name(Topic.CHARGES), b.ChargeRated, 2, worker)
        close = ("billing", "close", "--period", "2026-11", "--as-of", "2026-12-01", "--wait")
        code, out = await hub_command(kafka, topics, *close, "--timeout", "180")
        assert code == 0, out
        assert "close 2026-11 done for 2 resellers" in out
        assert "2 invoices, 0 credit notes" in out
        assert "contoso: 1 invoices, 0 credit notes, 1 subscriptions in 4 pages (70.00 EUR)" in out
        assert "EUR: invoiced " in out
        invoices = await events(kafka, topics.name(Topic.INVOICES), b.InvoiceIssued)
        assert len(invoices) == 2

        code, out = await hub_command(kafka, topics, *close, "--timeout", "180")
        assert code == 0, out
        assert "closed before by another run (nothing issued): contoso, fabrikam" in out
        assert len(await events(kafka, topics.name(Topic.INVOICES), b.InvoiceIssued)) == 2
    finally:
        worker.stop()


async def test_close_wait_without_a_worker_gives_up_and_says_so(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.nowork.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, topics.all(RESELLERS))
    await publish(kafka.bootstrap, CODEC, reference(topics))
    code, out = await hub_command(
        kafka, topics, "billing", "close", "--period", "2026-11", "--wait", "--timeout", "3"
    )
    assert code == 1, out
    assert "2 of 2 resellers not done" in out
    assert "is a worker running?" in out
