"""The renewals flow's handler over its journaled state: notices from a time index, scheduled
next-term changes sent to Partner Center, renewals at the new values, deletion on mid-term."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.connectors.partner_center import PartnerCenterError
from hub.domain.enums import BillingCycle, BillingMode, SubscriptionStatus, SupportMode, Term
from hub.domain.orders import ReferenceView
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.domain.renewals import NextTerm, RenewalPolicy
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.renewals import (
    NextTermChangeRejected,
    NextTermChangeRequested,
    NextTermChangeScheduled,
    RenewalNoticeIssued,
    RenewalsDue,
    ScheduledChangesDeleted,
    SubscriptionRenewed,
)
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.renewals.flow import Renewals
from hub.streams.renewals.state import RenewalsState
from hub.topics import PartnerTopic, Topic, TopicCatalog

TOPICS = TopicCatalog("t.")
START = date(2025, 3, 1)
RENEWS = datetime(2026, 3, 1, tzinfo=UTC)
ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="AV1",
    name="Business Basic",
    service="m365",
    markets=("DE",),
)
OTHER = CatalogItem(
    product_id="DZH318Z0BQ3Q",
    sku_id="0001",
    availability_id="AV9",
    name="Defender",
    service="defender",
    markets=("DE",),
)


def entry(
    cycle: BillingCycle, cost: int, start: date, end: date | None = None, item: CatalogItem = ITEM
) -> PriceListEntry:
    return PriceListEntry(
        product_id=item.product_id,
        sku_id=item.sku_id,
        availability_id=item.availability_id,
        term=Term.P1Y,
        billing_cycle=cycle,
        currency="EUR",
        unit_cost_minor=cost,
        effective_from=start,
        effective_to=end,
    )


def reference() -> ReferenceView:
    prices = [
        entry(BillingCycle.ANNUAL, 12_000, date(2024, 1, 1), date(2026, 2, 28)),
        entry(BillingCycle.ANNUAL, 13_200, date(2026, 3, 1)),  # next month's list
        entry(BillingCycle.MONTHLY, 1_000, date(2024, 1, 1), date(2026, 2, 28)),
        entry(BillingCycle.MONTHLY, 1_100, date(2026, 3, 1)),
    ]
    return ReferenceView(
        resellers={
            "contoso": ResellerProfile(
                reseller_id="contoso",
                partner_id="1234567",
                name="Contoso",
                country="DE",
                currency="EUR",
                languages=("de",),
                billing_mode=BillingMode.RESELLER_BILLS,
                support_mode=SupportMode.RESELLER_OWN,
                credit_limit_minor=10**9,
                payment_terms_days=30,
                markup_bps=1000,
            )
        },
        customers={
            "cust-1": Customer(
                customer_id="cust-1",
                reseller_id="contoso",
                name="Kunde",
                country="DE",
                language="de",
                currency="EUR",
            )
        },
        catalogue={ITEM.catalog_item_id: ITEM, OTHER.catalog_item_id: OTHER},
        prices={
            ITEM.catalog_item_id: prices,
            OTHER.catalog_item_id: [entry(BillingCycle.ANNUAL, 1, date(2024, 1, 1), item=OTHER)],
        },
    )


class FakeScheduler:
    def __init__(self) -> None:
        self.calls: list[tuple[str, NextTerm]] = []
        self.fail: PartnerCenterError | None = None

    async def schedule(
        self,
        customer: Any,
        reseller: Any,
        subscription_id: str,
        next_term: NextTerm,
        *,
        correlation_id: str,
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((subscription_id, next_term))


class World:
    def __init__(self, page: int = 200) -> None:
        self.store = MemoryStore()
        self.journal = Journal(self.store, "renewals")
        self.state = RenewalsState.of(self.journal)
        self.scheduler = FakeScheduler()
        self.flow = Renewals(
            TOPICS,
            self.state,
            reference,
            self.scheduler,
            RenewalPolicy(),
            partition_of=lambda _: 0,
            page=page,
        )

    async def send(self, event: Event) -> Sequence[Emit]:
        return await self.journal.run(
            0, str(event.event_id), lambda: self.flow.handle(event, event.reseller_id or "")
        )

    async def tick(self, now: datetime) -> list[Event]:
        tick = RenewalsDue(
            event_id=uuid.uuid4(), event_time=now, correlation_id="tick", partition=0, now=now
        )
        return [
            e.event for e in await self.send(tick) if e.topic == TOPICS.name(Topic.RENEWAL_EVENTS)
        ]


def ids(seed: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": datetime(2025, 3, 1, tzinfo=UTC),
        "correlation_id": seed,
        "reseller_id": "contoso",
    }


def provisioned(sid: str = "sub-1", qty: int = 200) -> SubscriptionProvisioned:
    return SubscriptionProvisioned(
        **ids(f"prov-{sid}"),
        order_id="o-1",
        line_index=0,
        customer_id="cust-1",
        subscription_id=sid,
        microsoft_order_id="ms-o-1",
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=qty,
        term=Term.P1Y,
        billing_cycle=BillingCycle.ANNUAL,
        term_start=START,
        term_end=date(2026, 3, 1),
        unit_cost_minor=12_000,
        unit_price_minor=13_200,
        currency="EUR",
    )


def request(change_id: str = "chg-1", **kw: Any) -> NextTermChangeRequested:
    return NextTermChangeRequested(
        **ids(change_id),
        change_id=change_id,
        customer_id="cust-1",
        subscription_id="sub-1",
        requested_at=datetime(2026, 2, 5, tzinfo=UTC),
        **kw,
    )


def changed(
    kind: str = "change_quantity", new: int = 210, auto_renew: bool = True
) -> SubscriptionChanged:
    return SubscriptionChanged(
        **ids(f"changed-{kind}-{new}"),
        change_id=f"c-{new}",
        customer_id="cust-1",
        subscription_id="sub-1",
        kind=kind,
        effective_at=datetime(2026, 2, 10, tzinfo=UTC),
        old_quantity=200,
        new_quantity=new,
        status=SubscriptionStatus.ACTIVE,
        auto_renew=auto_renew,
        refund_minor=0,
        currency="EUR",
    )


async def test_notices_go_out_30_7_and_1_days_before_once_each_with_the_renewal_price():
    w = World()
    await w.send(provisioned())
    assert await w.tick(RENEWS - timedelta(days=31)) == []
    sent: list[RenewalNoticeIssued] = []
    for days in (30, 29, 7, 7, 1, 1):
        sent += [
            e
            for e in await w.tick(RENEWS - timedelta(days=days))
            if isinstance(e, RenewalNoticeIssued)
        ]
    assert [n.lead_days for n in sent] == [30, 7, 1]
    notice = sent[0]
    # Next month's list: 13_200 cost + 10 % markup, against 13_200 paid today.
    assert (notice.unit_price_minor, notice.current_unit_price_minor) == (14_520, 13_200)
    assert notice.change_bps == 1000
    assert notice.quantity == 200
    assert notice.changes_until == RENEWS
    assert len({n.event_id for n in sent}) == 3


async def test_notices_also_reach_the_resellers_status_topic():
    w = World()
    await w.send(provisioned())
    tick = RenewalsDue(
        event_id=uuid.uuid4(),
        event_time=RENEWS,
        correlation_id="t",
        partition=0,
        now=RENEWS - timedelta(days=30),
    )
    emits = await w.send(tick)
    assert {e.topic for e in emits} == {
        TOPICS.name(Topic.RENEWAL_EVENTS),
        TOPICS.partner("contoso", PartnerTopic.STATUS),
    }


async def test_a_tick_reads_only_due_entries_of_the_time_index_a_page_at_a_time():
    w = World(page=2)
    for i in range(5):
        await w.send(provisioned(f"sub-{i}"))
    assert len([k for k in w.store.data if k.startswith("due|")]) == 5
    first = await w.tick(RENEWS - timedelta(days=30))
    second = await w.tick(RENEWS - timedelta(days=30))
    third = await w.tick(RENEWS - timedelta(days=30))
    assert [len(first), len(second), len(third)] == [2, 2, 1]
    assert await w.tick(RENEWS - timedelta(days=30)) == []
    assert len([k for k in w.store.data if k.startswith("due|")]) == 5  # one per subscription


async def test_a_scheduled_seat_reduction_and_cycle_change_apply_at_renewal_at_the_new_price():
    w = World()
    await w.send(provisioned())
    out = await w.send(request(quantity=101, billing_cycle=BillingCycle.MONTHLY))
    scheduled = out[0].event
    assert isinstance(scheduled, NextTermChangeScheduled)
    assert (scheduled.quantity, scheduled.billing_cycle) == (101, BillingCycle.MONTHLY)
    assert scheduled.unit_price_minor == 1_210  # the monthly list in force on renewal day
    assert w.scheduler.calls[0][1].quantity == 101
    notices = await w.tick(RENEWS - timedelta(days=7))
    assert isinstance(notices[0], RenewalNoticeIssued)
    assert notices[0].scheduled_change
    assert notices[0].quantity == 101
    renewed = [
        e for e in await w.tick(RENEWS + timedelta(hours=1)) if isinstance(e, SubscriptionRenewed)
    ]
    assert len(renewed) == 1
    r = renewed[0]
    assert (r.old_quantity, r.quantity, r.billing_cycle) == (200, 101, BillingCycle.MONTHLY)
    assert r.unit_price_minor == 1_210
    assert r.scheduled_change_applied
    assert r.term_start == RENEWS
    assert r.term_end == datetime(2027, 3, 1, tzinfo=UTC)
    # The next term gets its own notices, and the renewal is not repeated.
    assert await w.tick(RENEWS + timedelta(hours=2)) == []
    nxt = await w.tick(datetime(2027, 3, 1, tzinfo=UTC) - timedelta(days=30))
    assert [type(e) for e in nxt] == [RenewalNoticeIssued]


async def test_a_mid_term_seat_add_deletes_the_scheduled_change_and_tells_the_reseller():
    w = World()
    await w.send(provisioned())
    await w.send(request(quantity=101))
    out = await w.send(changed("change_quantity", 210))
    deleted = [e.event for e in out if isinstance(e.event, ScheduledChangesDeleted)]
    assert len(deleted) == 2  # one event, sent to two topics
    assert deleted[0] == deleted[1]
    assert {e.topic for e in out} == {
        TOPICS.name(Topic.RENEWAL_EVENTS),
        TOPICS.partner("contoso", PartnerTopic.STATUS),
    }
    assert "mid-term" in deleted[0].message
    renewed = [e for e in await w.tick(RENEWS) if isinstance(e, SubscriptionRenewed)]
    assert renewed[0].quantity == 210
    assert not renewed[0].scheduled_change_applied


async def test_a_change_with_nothing_scheduled_tells_nothing():
    w = World()
    await w.send(provisioned())
    assert await w.send(changed("change_quantity", 210)) == []


async def test_a_request_outside_the_family_is_refused_with_a_reason_and_nothing_sent():
    w = World()
    await w.send(provisioned())
    out = await w.send(request(product_id=OTHER.product_id, sku_id="0001", availability_id="AV9"))
    rejected = out[0].event
    assert isinstance(rejected, NextTermChangeRejected)
    assert rejected.code == "NotSameFamily"
    assert w.scheduler.calls == []


async def test_another_resellers_subscription_is_not_found():
    w = World()
    await w.send(provisioned())
    req = NextTermChangeRequested(
        **{**ids("x"), "reseller_id": "fabrikam"},
        change_id="x",
        customer_id="cust-1",
        subscription_id="sub-1",
        quantity=5,
        requested_at=datetime(2026, 2, 5, tzinfo=UTC),
    )
    out = await w.send(req)
    assert isinstance(out[0].event, NextTermChangeRejected)
    assert out[0].event.code == "SubscriptionNotFound"


async def test_a_retried_request_gets_the_same_answer_and_calls_microsoft_once():
    w = World()
    await w.send(provisioned())
    first = await w.send(request(quantity=101))
    again = await w.flow.handle(request(quantity=101))
    assert first[0].event == again[0].event
    assert len(w.scheduler.calls) == 1


async def test_partner_center_refusal_becomes_a_rejection_and_a_transient_error_is_raised():
    w = World()
    await w.send(provisioned())
    w.scheduler.fail = PartnerCenterError(
        "no", operation="UpdateSubscription", code="800002", description="not eligible"
    )
    out = await w.send(request("c-a", quantity=101))
    assert isinstance(out[0].event, NextTermChangeRejected)
    assert out[0].event.code == "PartnerCenterRefused"
    w.scheduler.fail = PartnerCenterError("busy", operation="UpdateSubscription", retriable=True)
    with pytest.raises(PartnerCenterError):
        await w.send(request("c-b", quantity=102))


async def test_auto_renew_off_expires_at_the_term_end_without_renewal():
    w = World()
    await w.send(provisioned())
    await w.send(changed("set_auto_renew", 200, auto_renew=False))
    assert await w.tick(RENEWS - timedelta(days=30)) == []
    assert await w.tick(RENEWS) == []
    assert not [k for k in w.store.data if k.startswith("due|")]


def transferred(side: str) -> Any:
    from hub.schemas.events.relationships import SubscriptionTransferred

    return SubscriptionTransferred(
        **{**ids(f"transfer-{side}"), "reseller_id": "contoso" if side == "from" else "fabrikam"},
        side=side,
        from_reseller_id="contoso",
        to_reseller_id="fabrikam",
        subscription_id="sub-1",
        customer_id="cust-1",
        effective_date=date(2025, 9, 1),
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.ANNUAL,
        currency="EUR",
        quantity=200,
        term_start=START,
        term_end=date(2026, 3, 1),
        auto_renew=True,
        unit_cost_minor=12_000,
        from_unit_price_minor=13_200,
        to_unit_price_minor=12_600,
        period_start=START,
        period_end=date(2026, 2, 28),
        from_period_minor=1,
        to_period_minor=1,
        released_commitment_minor=0,
        taken_commitment_minor=0,
    )


async def test_a_transfer_moves_the_notices_to_the_new_reseller_at_its_price():
    w = World()
    await w.send(provisioned())
    await w.send(request(quantity=101))
    await w.send(transferred("from"))
    await w.send(transferred("to"))
    assert w.state.record("contoso", "sub-1") is None
    record = w.state.record("fabrikam", "sub-1")
    assert record is not None
    assert (record.unit_price_minor, record.scheduled) == (12_600, None)
    notices = await w.tick(RENEWS - timedelta(days=30))
    assert [(n.reseller_id, n.current_unit_price_minor) for n in notices] == [("fabrikam", 12_600)]
    assert len([k for k in w.store.data if k.startswith("due|")]) == 1
    await w.send(transferred("to"))  # a redelivery changes nothing
    again = w.state.record("fabrikam", "sub-1")
    assert again is not None
    assert (again.sent, again.unit_price_minor) == ((30,), 12_600)


async def test_a_promotion_running_on_renewal_day_prices_the_notice_and_waits_for_loading():
    from hub.domain.price_lists import Promotion
    from hub.errors import RetriableError

    promo = Promotion(
        promotion_id="PROMO-1",
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.ANNUAL,
        discount_bps=2000,
        starts_on=date(2026, 3, 1),
        ends_on=date(2026, 3, 31),
    )
    loaded = [False]
    w = World()
    w.flow.promotions = lambda: (promo,)
    w.flow.promotions_ready = lambda: loaded[0]
    await w.send(provisioned())
    with pytest.raises(RetriableError, match="promotions"):
        await w.tick(RENEWS - timedelta(days=30))
    loaded[0] = True
    (notice,) = await w.tick(RENEWS - timedelta(days=30))
    # 13_200 less 20 % = 10_560 cost, plus 10 % markup.
    assert (notice.unit_price_minor, notice.promotion_id) == (11_616, "PROMO-1")
