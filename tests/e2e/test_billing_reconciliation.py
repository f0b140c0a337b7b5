"""Reconciliation end to end: Microsoft's lines from the simulator against the hub's costs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.commands.billing import reconcile
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig, nce_line
from hub.connectors.partner_center.models import Address, BillingProfile, CompanyProfile
from hub.connectors.partner_center.models import Customer as PcCustomer
from hub.domain.enums import BillingCycle, BillingMode, SubscriptionStatus, SupportMode, Term
from hub.domain.reference import ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.events import billing as b
from hub.schemas.events.credits import ServiceCreditAllocated
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import ResellerUpserted
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.settings import load_settings
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.server import PartnerCenterSimulator, serve
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo

CODEC = Codec()
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TOKEN = "sim-token"
MPN = "4812345"
BASIC = "CFQ7TTC0LH18:0001:CFQ7TTC0K5DL"


def env(seed: str, rid: str | None) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": START,
        "correlation_id": seed,
        "reseller_id": rid,
    }


async def buy(pc: PartnerCenterClient, key: str) -> tuple[str, str]:
    customer = await pc.create_customer(
        PcCustomer(
            company_profile=CompanyProfile(domain=f"{key}.onmicrosoft.com"),
            billing_profile=BillingProfile(
                company_name=f"{key} GmbH",
                email="it@example.com",
                culture="de-DE",
                language="de",
                default_address=Address(country="DE", city="Berlin", postal_code="10115"),
            ),
            associated_partner_id=MPN,
        ),
        correlation_id=key,
    )
    assert customer.id is not None
    order = await pc.place_order(
        customer.id,
        [nce_line(BASIC, 10, Term.P1Y, BillingCycle.MONTHLY, MPN)],
        correlation_id=key,
        idempotency_key=key,
    )
    subscription_id = order.line_items[0].subscription_id
    assert subscription_id is not None
    return customer.id, subscription_id


def provisioned(topics: TopicCatalog, customer_id: str, subscription_id: str) -> Outgoing:
    event = SubscriptionProvisioned(
        **env(f"prov-{subscription_id}", "contoso"),
        order_id=f"o-{subscription_id}",
        line_index=0,
        customer_id=customer_id,
        subscription_id=subscription_id,
        microsoft_order_id=f"ms-{subscription_id}",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=10,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=START.date(),
        term_end=START.date().replace(year=2027),
        unit_cost_minor=600,  # the simulator's 6.00 per seat per month
        unit_price_minor=700,
        currency="EUR",
    )
    return Outgoing(topics.name(Topic.PROVISIONING), "contoso", event)


async def test_an_injected_microsoft_price_difference_gives_exactly_one_mismatch(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.recon.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, topics.all(["contoso"]))
    sim = await serve(
        "127.0.0.1", 0, simulator=PartnerCenterSimulator(start=START, token=TOKEN, currency="EUR")
    )
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path, topic_prefix=prefix, app_id=f"recon-{uuid.uuid4().hex}"
    ).start()
    try:
        settings = load_settings(
            kafka_bootstrap_servers=kafka.bootstrap,
            topic_prefix=prefix,
            partner_center_url=sim.url,
            partner_center_token=SecretStr(TOKEN),
        )
        config = PartnerCenterConfig.from_settings(settings)
        async with PartnerCenterClient(config) as pc:
            matching = await buy(pc, "matching")
            drifting = await buy(pc, "drifting")
        async with SimulatorAdmin(sim.url) as admin:
            await admin.set_line_price(Decimal("6.50"), subscription_id=drifting[1])
        profile = ResellerProfile(
            reseller_id="contoso",
            partner_id=MPN,
            name="Contoso",
            country="DE",
            currency="EUR",
            languages=("de",),
            billing_mode=BillingMode.RESELLER_BILLS,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=10_000_000,
            payment_terms_days=30,
        )
        await publish(
            kafka.bootstrap,
            CODEC,
            [
                Outgoing(
                    topics.name(Topic.RESELLERS),
                    "contoso",
                    ResellerUpserted(**env("ref", "contoso"), reseller=profile),
                ),
                provisioned(topics, *matching),
                provisioned(topics, *drifting),
            ],
        )
        await asyncio.to_thread(worker.wait_ready)
        charges: list[Any] = []
        for _ in range(120):
            charges = await read_all(kafka.bootstrap, topics.name(Topic.CHARGES))
            if len(charges) >= 2:
                break
            assert worker.running(), worker.log_tail()
            await asyncio.sleep(0.5)
        assert len(charges) == 2, worker.log_tail()

        lines, unmapped = await reconcile(settings, "2026-11", None, START)
        assert (lines, unmapped) == (2, 0)

        mismatches: list[b.ReconciliationMismatch] = []
        mismatch_topic = topics.name(Topic.RECONCILIATION_MISMATCHES)
        for _ in range(120):
            records = await read_all(kafka.bootstrap, mismatch_topic)
            mismatches = [CODEC.decode(r.value or b"") for r in records]  # type: ignore[misc]
            if mismatches:
                break
            assert worker.running(), worker.log_tail()
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # a second mismatch would show up now
        mismatches = [
            CODEC.decode(r.value or b"")  # type: ignore[misc]
            for r in await read_all(kafka.bootstrap, mismatch_topic)
        ]
        received = await read_all(kafka.bootstrap, topics.name(Topic.RECONCILIATION_LINES))
    finally:
        worker.stop()
        await sim.close()

    assert len(received) == 2
    assert len(mismatches) == 1, worker.log_tail()
    (mismatch,) = mismatches
    assert mismatch.kind == "price_differs"
    assert mismatch.subscription_id == drifting[1]
    assert (mismatch.expected, mismatch.actual) == ("6.00", "6.50")
    assert mismatch.difference_minor == 500


async def _mismatches(kafka: BrokerInfo, topic: str, worker: WorkerProcess) -> list[Any]:
    """The mismatches raised, once they stop coming (none may be the answer)."""
    seen = -1
    for _ in range(10):
        await asyncio.sleep(1.0)
        records = await read_all(kafka.bootstrap, topic)
        if len(records) == seen:
            break
        seen = len(records)
        assert worker.running(), worker.log_tail()
    return [CODEC.decode(r.value or b"") for r in await read_all(kafka.bootstrap, topic)]


async def test_seat_changes_a_second_currency_and_credits_reconcile_to_the_one_injected_line(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    """Microsoft's shapes end to end: priced in USD and billed in EUR (PCToBCExchangeRate 0.8),
    a seat increase as two addQuantity lines, a reduction as two removeQuantity lines, an SLA
    credit as a customerCredit line. Only the second line of one seat change, whose price
    Microsoft changed, is a finding."""
    prefix = f"t.recon2.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, topics.all(["contoso"]))
    sim = await serve(
        "127.0.0.1", 0, simulator=PartnerCenterSimulator(start=START, token=TOKEN, currency="EUR")
    )
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path, topic_prefix=prefix, app_id=f"recon2-{uuid.uuid4().hex}"
    ).start()
    try:
        settings = load_settings(
            kafka_bootstrap_servers=kafka.bootstrap,
            topic_prefix=prefix,
            partner_center_url=sim.url,
            partner_center_token=SecretStr(TOKEN),
        )
        async with SimulatorAdmin(sim.url) as admin:
            await admin.set_exchange_rate("EUR", "USD", Decimal("0.8"))  # 7.50 USD = 6.00 EUR
        config = PartnerCenterConfig.from_settings(settings)
        async with PartnerCenterClient(config) as pc, SimulatorAdmin(sim.url) as admin:
            growing = await buy(pc, "growing")
            shrinking = await buy(pc, "shrinking")
            await admin.advance(days=3)
            changed_at = datetime.fromisoformat((await admin.state())["now"])
            await pc.change_quantity(*growing, 12, correlation_id="grow")
            await pc.change_quantity(*shrinking, 7, correlation_id="shrink")
            await admin.credit(growing[1], Decimal("4.50"), key="EX25194", on=changed_at)
            # Microsoft's charge line of the reduction at another price than its refund line.
            await admin.set_line_price(
                Decimal("6.10"), subscription_id=shrinking[1], charge_type="removeQuantity"
            )
        profile = ResellerProfile(
            reseller_id="contoso",
            partner_id=MPN,
            name="Contoso",
            country="DE",
            currency="EUR",
            languages=("de",),
            billing_mode=BillingMode.RESELLER_BILLS,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=10_000_000,
            payment_terms_days=30,
        )

        def change(sub: tuple[str, str], old: int, new: int) -> Outgoing:
            event = SubscriptionChanged(
                **env(f"chg-{sub[1]}", "contoso") | {"event_time": changed_at},
                change_id=f"chg-{sub[1]}",
                customer_id=sub[0],
                subscription_id=sub[1],
                kind="change_quantity",
                effective_at=changed_at,
                old_quantity=old,
                new_quantity=new,
                status=SubscriptionStatus.ACTIVE,
                auto_renew=True,
                currency="EUR",
            )
            return Outgoing(topics.name(Topic.SUBSCRIPTION_EVENTS), sub[1], event)

        credit = ServiceCreditAllocated(
            **env("credit-EX25194", "contoso") | {"event_time": changed_at},
            credit_id="EX25194:exchange",
            allocation_id=f"EX25194:exchange:{growing[1]}",
            incident_id="EX25194",
            customer_id=growing[0],
            subscription_id=growing[1],
            amount_minor=450,
            basis_fee_minor=6000,
            currency="EUR",
            billing_mode=BillingMode.RESELLER_BILLS,
        )
        await publish(
            kafka.bootstrap,
            CODEC,
            [
                Outgoing(
                    topics.name(Topic.RESELLERS),
                    "contoso",
                    ResellerUpserted(**env("ref2", "contoso"), reseller=profile),
                ),
                provisioned(topics, *growing),
                provisioned(topics, *shrinking),
            ],
        )
        await asyncio.to_thread(worker.wait_ready)
        for _ in range(120):
            if len(await read_all(kafka.bootstrap, topics.name(Topic.CHARGES))) >= 2:
                break
            await asyncio.sleep(0.5)
        await publish(
            kafka.bootstrap,
            CODEC,
            [
                change(growing, 10, 12),
                change(shrinking, 10, 7),
                Outgoing(topics.name(Topic.CREDITS_ALLOCATED), growing[1], credit),
            ],
        )
        # At least once: a redelivery under load may send a charge again, with its event id and
        # bytes unchanged; distinct charges are what count.
        charges: dict[str, bytes] = {}
        for _ in range(120):
            for record in await read_all(kafka.bootstrap, topics.name(Topic.CHARGES)):
                value = record.value or b""
                event_id = str(CODEC.decode(value).event_id)
                assert charges.setdefault(event_id, value) == value, "one charge id, two bodies"
            if len(charges) >= 7:
                break
            assert worker.running(), worker.log_tail()
            await asyncio.sleep(0.5)
        assert len(charges) == 7, worker.log_tail()  # 2 new, 2 x 2 seat-change lines, 1 credit

        lines, unmapped = await reconcile(settings, "2026-11", None, START)
        assert (lines, unmapped) == (7, 0)
        received = [
            CODEC.decode(r.value or b"")
            for r in await read_all(kafka.bootstrap, topics.name(Topic.RECONCILIATION_LINES))
        ]
        mismatches = await _mismatches(kafka, topics.name(Topic.RECONCILIATION_MISMATCHES), worker)
    finally:
        worker.stop()
        await sim.close()

    assert {ln.pc_to_bc_exchange_rate for ln in received} >= {"0.8"}
    assert len(mismatches) == 1, [m.model_dump() for m in mismatches]
    (mismatch,) = mismatches
    assert mismatch.subscription_id == shrinking[1]
    assert mismatch.charge_type == "removeQuantity"
    assert mismatch.kind == "price_differs"
