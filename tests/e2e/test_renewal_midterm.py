"""Mid-term changes end to end: a real broker, a worker running orders, renewals and billing,
the Partner Center simulator. A reseller schedules a next-term change, then changes the billing
frequency now: Partner Center bills annually, the scheduled change is deleted (the reseller is
told), and billing rates the credit and the new charge as the rules say. An upgrade within the
family follows the same path, and the orders flow's record follows it: a seat reduction after it
is refunded at the new SKU's price, by the orders lifecycle and by billing alike."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.domain.enums import BillingCycle, BillingMode, ChargeType, SupportMode, Term
from hub.domain.proration import prorate
from hub.domain.reference import CatalogItem, PriceListEntry, ResellerProfile
from hub.domain.subscriptions import billing_period
from hub.ops.worker_process import WorkerProcess
from hub.schemas.events.billing import ChargeRated
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.schemas.events.renewals import (
    MidTermChangeApplied,
    MidTermChangeRequested,
    NextTermChangeRequested,
    NextTermChangeScheduled,
    ScheduledChangesDeleted,
)
from hub.schemas.events.subscriptions import SubscriptionChanged, SubscriptionChangeRequested
from hub.streams.orders.state import SubscriptionRecord
from hub.topics import Topic, TopicCatalog
from tests.e2e.test_renewals import BASIC, RESELLER, Hub, _env, _order, _price
from tests.support.broker import BrokerInfo
from tests.support.simulator import partner_center

STANDARD = CatalogItem(
    product_id="CFQ7TTC0LDPB",
    sku_id="0001",
    availability_id="CFQ7TTC0K5BB",
    name="Microsoft 365 Business Standard",
    service="m365",
    markets=("US",),
)


def _standard_price(cycle: BillingCycle, cost: int) -> PriceListEntryUpserted:
    entry = PriceListEntry(
        product_id=STANDARD.product_id,
        sku_id=STANDARD.sku_id,
        availability_id=STANDARD.availability_id,
        term=Term.P1Y,
        billing_cycle=cycle,
        currency="USD",
        unit_cost_minor=cost,
        effective_from=date(2020, 1, 1),
    )
    return PriceListEntryUpserted(**_env(None), price_list_id="msft", entry=entry)


def _triennial_price(cost: int) -> PriceListEntryUpserted:
    """BASIC on a three-year term, billed yearly (for a longer term mid-term)."""
    entry = _price(BillingCycle.ANNUAL, cost, date(2020, 1, 1)).entry
    return PriceListEntryUpserted(
        **_env(None), price_list_id="msft", entry=entry.model_copy(update={"term": Term.P3Y})
    )


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("renewal-midterm")
    prefix = f"t.midterm.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all([RESELLER])))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"midterm-e2e-{uuid.uuid4().hex[:8]}",
            env={
                "HUB_PARTNER_CENTER_URL": url,
                "HUB_FLOWS": "orders,renewals,billing",
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
        for item in (BASIC, STANDARD):
            hub.send(
                Topic.CATALOG, item.catalog_item_id, CatalogItemUpserted(**_env(None), item=item)
            )
        hub.send(
            Topic.PRICES,
            BASIC.catalog_item_id,
            _price(BillingCycle.MONTHLY, 600, date(2020, 1, 1)),
            _price(BillingCycle.ANNUAL, 7_000, date(2020, 1, 1)),
            _triennial_price(6_800),
        )
        hub.send(
            Topic.PRICES,
            STANDARD.catalog_item_id,
            _standard_price(BillingCycle.MONTHLY, 1_250),
            _standard_price(BillingCycle.ANNUAL, 15_000),
        )
        try:
            worker.start().wait_ready()
            yield hub
        finally:
            worker.stop()


def _charges(hub: Hub, subscription_id: str, ct: ChargeType, count: int) -> list[ChargeRated]:
    deadline = time.monotonic() + 90
    while True:
        found = [
            e
            for e in hub.read(hub.topics.name(Topic.CHARGES))
            if isinstance(e, ChargeRated)
            and e.subscription_id == subscription_id
            and e.charge_type is ct
        ]
        if len(found) >= count:
            return found
        assert hub.worker.running(), hub.worker.log_tail()
        assert time.monotonic() < deadline, f"no {ct} charges:\n{hub.worker.log_tail()}"
        time.sleep(0.5)


def test_a_billing_frequency_change_deletes_the_scheduled_change_and_is_billed(hub: Hub) -> None:
    sub = _order(hub, seats=5)
    sid = sub.subscription_id
    scheduled = NextTermChangeRequested(
        **_env(),
        change_id=f"chg-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        quantity=3,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, scheduled)
    hub.status(NextTermChangeScheduled, sid)

    change = MidTermChangeRequested(
        **_env(),
        change_id=f"mid-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        kind="billing_frequency",
        billing_cycle=BillingCycle.ANNUAL,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, change)

    (applied,) = hub.status(MidTermChangeApplied, sid)
    assert applied.billing_cycle is BillingCycle.ANNUAL
    assert applied.unit_price_minor == 7_000
    assert applied.term_start.date() == datetime.now(UTC).date()
    credit, charge = applied.lines
    assert credit.amount_minor < 0 < charge.amount_minor
    (deleted,) = hub.status(ScheduledChangesDeleted, sid)
    assert deleted.cause == "billing_frequency"
    # Billing rates the two lines at the rules' amounts.
    lines = _charges(hub, sid, ChargeType.CHANGE_BILLING_PLAN, 2)
    assert sorted(c.price_minor for c in lines) == sorted(
        [credit.amount_minor, charge.amount_minor]
    )


def test_an_upgrade_within_the_family_is_billed_for_the_rest_of_the_period(hub: Hub) -> None:
    sub = _order(hub, seats=4)
    sid = sub.subscription_id
    change = MidTermChangeRequested(
        **_env(),
        change_id=f"mid-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        kind="upgrade",
        product_id=STANDARD.product_id,
        sku_id=STANDARD.sku_id,
        availability_id=STANDARD.availability_id,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, change)

    (applied,) = hub.status(MidTermChangeApplied, sid)
    assert (applied.product_id, applied.unit_price_minor) == (STANDARD.product_id, 1_250)
    assert applied.term_end.date() == sub.term_end
    lines = _charges(hub, sid, ChargeType.CONVERT, 2)
    assert sorted(c.price_minor for c in lines) == sorted(ln.amount_minor for ln in applied.lines)
    assert {c.product_id for c in lines} == {BASIC.product_id, STANDARD.product_id}


def _followed(hub: Hub, sub: SubscriptionProvisioned, product_id: str) -> SubscriptionRecord:
    """The orders flow's record of ``sub`` (``hub orders show``) once it is on ``product_id``."""
    deadline = time.monotonic() + 90
    while True:
        shown = hub.cli("orders", "show", sub.order_id, "--reseller", RESELLER)
        (raw,) = shown["subscriptions"]
        record = SubscriptionRecord.model_validate(raw)
        if record.subscription.product_id == product_id:
            return record
        assert hub.worker.running(), hub.worker.log_tail()
        assert time.monotonic() < deadline, f"record not on {product_id}: {raw}"
        time.sleep(0.5)


def test_a_seat_reduction_after_an_upgrade_is_refunded_at_the_new_skus_price(hub: Hub) -> None:
    sub = _order(hub, seats=4)
    sid = sub.subscription_id
    upgrade = MidTermChangeRequested(
        **_env(),
        change_id=f"mid-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        kind="upgrade",
        product_id=STANDARD.product_id,
        sku_id=STANDARD.sku_id,
        availability_id=STANDARD.availability_id,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, upgrade)
    hub.status(MidTermChangeApplied, sid)
    record = _followed(hub, sub, STANDARD.product_id)
    assert (record.unit_price_minor, record.unit_cost_minor) == (1_250, 1_250)

    reduction = SubscriptionChangeRequested(
        **_env(),
        change_id=f"chg-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        kind="change_quantity",
        new_quantity=2,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, reduction)

    (changed,) = hub.status(SubscriptionChanged, sid)
    assert (changed.old_quantity, changed.new_quantity) == (4, 2)
    start, end = billing_period(record.subscription, changed.effective_at)
    assert changed.refund_minor == prorate(1_250 * 2, start, end, changed.effective_at.date())
    # Billing rates the reduction on the new SKU at its price: the refund the reseller was told.
    lines = _charges(hub, sid, ChargeType.REMOVE_QUANTITY, 2)
    assert {c.product_id for c in lines} == {STANDARD.product_id}
    assert abs(sum(c.price_minor for c in lines) + changed.refund_minor) <= 1


def test_a_longer_term_starts_a_new_term_at_microsoft_and_is_billed(hub: Hub) -> None:
    sub = _order(hub, seats=4)
    sid = sub.subscription_id
    change = MidTermChangeRequested(
        **_env(),
        change_id=f"mid-{uuid.uuid4().hex[:6]}",
        customer_id=sub.customer_id,
        subscription_id=sid,
        kind="term",
        term=Term.P3Y,
        billing_cycle=BillingCycle.ANNUAL,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, change)

    (applied,) = hub.status(MidTermChangeApplied, sid)
    assert (applied.term, applied.billing_cycle) == (Term.P3Y, BillingCycle.ANNUAL)
    assert applied.unit_price_minor == 6_800
    assert applied.term_start.date() == datetime.now(UTC).date()
    assert applied.term_end.year == applied.term_start.year + 3
    credit, charge = applied.lines
    assert credit.amount_minor < 0 < charge.amount_minor
    assert charge.amount_minor == 6_800 * 4
    # Billing rates the credit and the new year's charge as extendTerm lines.
    lines = _charges(hub, sid, ChargeType.EXTEND_TERM, 2)
    assert sorted(c.price_minor for c in lines) == sorted(
        [credit.amount_minor, charge.amount_minor]
    )
