"""The credits flow's handlers without a broker: dict tables, reference data as dicts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from hub.domain.enums import BillingCycle, BillingMode, SubscriptionStatus, SupportMode
from hub.domain.orders import ReferenceView
from hub.domain.reference import Brand, CatalogItem, Customer, ResellerProfile
from hub.errors import BusinessRuleViolation, RetriableError
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.credits import (
    ServiceCreditAllocated,
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.credits import IndexHandler
from hub.streams.credits import allocation as credits_allocation
from hub.streams.credits.allocation import Allocator
from hub.streams.credits.index import CreditIndex
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support import crash_cut
from tests.support.samples import sample

CATALOG = TopicCatalog("t.")
ITEMS = {
    "exchange": CatalogItem(
        product_id="EXO",
        sku_id="0001",
        availability_id="A1",
        name="Exchange Online (Plan 1)",
        service="exchange",
        markets=("DE",),
    ),
    "teams": CatalogItem(
        product_id="TEAMS",
        sku_id="0001",
        availability_id="A1",
        name="Teams Essentials",
        service="teams",
        markets=("DE",),
    ),
}


def reseller(rid: str, mode: BillingMode) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=rid,
        partner_id="1234567",
        name=rid,
        country="DE",
        currency="EUR",
        languages=("de",),
        billing_mode=mode,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**9,
        payment_terms_days=30,
        brand=Brand(display_name=rid, signature=rid, reply_to=f"billing@{rid}.example"),
    )


def reference() -> ReferenceView:
    return ReferenceView(
        resellers={
            "r1": reseller("r1", BillingMode.RESELLER_BILLS),
            "r2": reseller("r2", BillingMode.DISTRIBUTOR_WHITE_LABEL),
        },
        customers={
            "c-far": Customer(
                customer_id="c-far",
                reseller_id="r2",
                name="Far",
                country="US",
                region="us-east",
                language="en",
                currency="EUR",
            )
        },
        catalogue={item.catalog_item_id: item for item in ITEMS.values()},
        prices={},
    )


def provisioned(
    sid: str,
    reseller_id: str,
    customer_id: str,
    *,
    service: str = "exchange",
    quantity: int = 10,
    unit: int = 600,
    currency: str = "EUR",
) -> SubscriptionProvisioned:
    item = ITEMS[service]
    base = sample("SubscriptionProvisioned")
    return SubscriptionProvisioned.model_validate(
        {
            **base.model_dump(),
            "event_id": uuid.uuid4(),
            "reseller_id": reseller_id,
            "customer_id": customer_id,
            "subscription_id": sid,
            "product_id": item.product_id,
            "sku_id": item.sku_id,
            "availability_id": item.availability_id,
            "quantity": quantity,
            "unit_price_minor": unit,
            "billing_cycle": BillingCycle.MONTHLY,
            "term_start": date(2025, 1, 1),
            "term_end": date(2025, 12, 31),
            "currency": currency,
        }
    )


def changed(
    sid: str, status: SubscriptionStatus, quantity: int, at: datetime
) -> SubscriptionChanged:
    base = sample("SubscriptionChanged")
    return SubscriptionChanged.model_validate(
        {
            **base.model_dump(),
            "event_id": uuid.uuid4(),
            "change_id": f"ch-{uuid.uuid4()}",
            "subscription_id": sid,
            "effective_at": at,
            "new_quantity": quantity,
            "status": status,
        }
    )


def approval(**over: Any) -> ServiceCreditApproved:
    doc: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_time": datetime(2025, 3, 20, tzinfo=UTC),
        "correlation_id": "credit-EX1",
        "credit_id": "EX1:exchange",
        "incident_id": "EX1",
        "service": "exchange",
        "window_start": datetime(2025, 3, 3, 8, tzinfo=UTC),
        "window_end": datetime(2025, 3, 3, 14, tzinfo=UTC),
        "amount_minor": 1000,
        "currency": "EUR",
    }
    doc.update(over)
    return ServiceCreditApproved.model_validate(doc)


class Flow:
    """The handlers wired as the worker wires them, each agent's state behind its journal."""

    def __init__(self) -> None:
        self.link_store, self.index_store = crash_cut.RecordingStore(), MemoryStore()
        self.linking = Journal(self.link_store, "credits-link")
        self.indexing = Journal(self.index_store, "credits-index")
        self.links = self.linking.view("links")
        self.index_table = self.indexing.view("index")
        self.approvals = self.indexing.view("approvals")
        self.lines = self.indexing.view("lines")
        self.index = CreditIndex(CATALOG, reference, self.links, self.index_table)
        self.allocator = Allocator(CATALOG, reference, self.index_table, self.approvals, self.lines)
        self.handler = IndexHandler(self.index, self.allocator)

    async def link(self, event: Event) -> Sequence[Emit]:
        """The link agent's message: through its journal, as the pipeline runs it."""
        return await self.linking.run(0, str(event.event_id), lambda: self.index.link(event))

    async def handle(self, event: Event, service: str) -> Sequence[Emit]:
        """The index agent's message: through its journal, as the pipeline runs it."""
        return await self.indexing.run(
            0, str(event.event_id), lambda: self.handler.handle(event, service)
        )

    async def feed(self, *events: Event) -> list[Emit]:
        """Push events through route/link into the index topic and handle what lands there."""
        out: list[Emit] = []
        for event in events:
            if isinstance(event, ServiceCreditApproved):
                out += await self.handle(event, event.service)
                continue
            routed = (
                await self.index.route(event)
                if isinstance(event, SubscriptionProvisioned)
                else [Emit("", "", event)]
            )
            for emit in routed:
                for to_index in await self.link(emit.event):
                    assert to_index.topic == CATALOG.name(Topic.CREDITS_INDEX)
                    out += await self.handle(to_index.event, to_index.key)
        return out


def allocated(emits: Sequence[Emit], topic: str) -> dict[str, ServiceCreditAllocated]:
    return {
        e.key: e.event
        for e in emits
        if e.topic == topic and isinstance(e.event, ServiceCreditAllocated)
    }


async def three_subscriptions(flow: Flow) -> None:
    await flow.feed(
        provisioned("s1", "r1", "c1", quantity=10),
        provisioned("s2", "r2", "c2", quantity=30),
        provisioned("s3", "r1", "c3", service="teams"),
    )


async def test_approval_allocates_each_affected_subscription_of_the_service() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    emits = await flow.feed(approval())
    everything = allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED))
    assert {k: v.amount_minor for k, v in everything.items()} == {"s1": 250, "s2": 750}
    s2 = everything["s2"]
    assert (s2.reseller_id, s2.customer_id, s2.currency, s2.basis_fee_minor) == (
        "r2",
        "c2",
        "EUR",
        18000,
    )
    assert s2.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL
    assert everything["s1"].billing_mode is BillingMode.RESELLER_BILLS


async def test_each_reseller_billing_topic_gets_only_its_own_customers() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    emits = await flow.feed(approval())
    assert set(allocated(emits, CATALOG.partner("r1", PartnerTopic.BILLING))) == {"s1"}
    assert set(allocated(emits, CATALOG.partner("r2", PartnerTopic.BILLING))) == {"s2"}
    partner_topics = {e.topic for e in emits if e.topic.startswith("t.partner.")}
    assert partner_topics == {"t.partner.r1.billing", "t.partner.r2.billing"}


async def test_event_ids_are_derived_from_the_approval_and_subscription() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    first = approval()
    emits = await flow.feed(first)
    ids = {e.event.event_id for e in emits if isinstance(e.event, ServiceCreditAllocated)}
    assert len(ids) == 2  # the same event on two topics shares its id


async def test_same_approval_again_re_emits_identical_events_and_allocates_nothing_new() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    first = approval()
    a = await flow.feed(first)
    b = await flow.feed(first)
    c = await flow.feed(first.model_copy(update={"event_id": uuid.uuid4()}))
    codec = Codec()
    assert [codec.encode(e.event) for e in a] == [codec.encode(e.event) for e in b]
    assert [codec.encode(e.event) for e in a] == [codec.encode(e.event) for e in c]
    assert len(flow.approvals) == 1


async def test_replay_after_the_index_changed_still_sends_the_first_result() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    first = approval()
    a = await flow.feed(first)
    await flow.feed(provisioned("s9", "r1", "c9", quantity=1000))
    b = await flow.feed(first)
    assert [e.event for e in a] == [e.event for e in b]


async def test_same_credit_id_with_other_terms_is_refused() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    await flow.feed(approval())
    with pytest.raises(BusinessRuleViolation, match="CreditAlreadyAllocated"):
        await flow.feed(approval(amount_minor=999))


async def test_remainder_is_on_the_audit_record_when_caps_are_reached() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    emits = await flow.feed(approval(amount_minor=30_000))
    reports = [e.event for e in emits if isinstance(e.event, ServiceCreditAllocationReported)]
    assert len(reports) == 1
    report = reports[0]
    assert (report.allocated_minor, report.remainder_minor, report.remainder_reason) == (
        24_000,
        6_000,
        "caps_reached",
    )
    assert [(ln.subscription_id, ln.amount_minor) for ln in report.lines] == [
        ("s1", 6000),
        ("s2", 18000),
    ]


async def test_no_affected_subscription_leaves_the_whole_credit_as_remainder() -> None:
    flow = Flow()
    emits = await flow.feed(approval())
    (report,) = [e.event for e in emits if isinstance(e.event, ServiceCreditAllocationReported)]
    assert (report.allocated_minor, report.remainder_minor) == (0, 1000)
    assert report.remainder_reason == "no_eligible_fees"


async def test_change_arriving_before_its_provisioning_is_held_then_applied() -> None:
    flow = Flow()
    await flow.feed(
        changed("s1", SubscriptionStatus.SUSPENDED, 10, datetime(2025, 3, 1, tzinfo=UTC))
    )
    assert flow.index_table == {}
    await flow.feed(provisioned("s1", "r1", "c1"), provisioned("s2", "r2", "c2"))
    emits = await flow.feed(approval())
    assert set(allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED))) == {"s2"}


async def test_changes_held_for_a_subscription_are_forwarded_again_when_its_link_is_replayed() -> (
    None
):
    """A crash after the link dropped the held change and before it was forwarded: the replay
    of the provisioning forwarded nothing, and a suspended subscription was credited. The
    link's journal now re-sends what it kept, whatever part of its writes landed."""
    flow = Flow()
    suspend = changed("s1", SubscriptionStatus.SUSPENDED, 10, datetime(2025, 3, 1, tzinfo=UTC))
    await flow.feed(suspend)
    s1 = provisioned("s1", "r1", "c1")
    start = len(flow.link_store.log)
    first = await flow.link(s1)
    assert [e.event for e in first] == [s1, suspend]
    for cut in range(start, len(flow.link_store.log) + 1):
        replayed = Flow()
        replayed.linking = Journal(crash_cut.landed(flow.link_store.log[:cut]), "credits-link")
        replayed.index.links = replayed.linking.view("links")
        assert await replayed.link(s1) == first, f"cut after {cut - start} writes"
    for emit in first:
        await flow.handle(emit.event, emit.key)
    # The index applies a change forwarded twice (under a new position) once:
    await flow.indexing.run(0, "again", lambda: flow.handler.handle(suspend, "exchange"))
    await flow.feed(provisioned("s2", "r2", "c2"))
    emits = await flow.feed(approval())
    assert set(allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED))) == {"s2"}


async def test_a_change_that_reaches_the_index_before_its_provisioning_waits_for_it() -> None:
    """After a crash the link knows the service but its forward of the provisioning is lost; a
    new change overtakes the link's replay. It used to be dead-lettered as "not indexed"."""
    flow = Flow()
    suspend = changed("s1", SubscriptionStatus.SUSPENDED, 10, datetime(2025, 3, 1, tzinfo=UTC))
    await flow.handle(suspend, "exchange")
    await flow.indexing.run(0, "again", lambda: flow.handler.handle(suspend, "exchange"))
    assert list(flow.index_table) == ["held|exchange|s1"]
    await flow.feed(provisioned("s1", "r1", "c1"), provisioned("s2", "r2", "c2"))
    assert sorted(flow.index_table) == ["exchange|s1", "exchange|s2"]
    emits = await flow.feed(approval())
    assert set(allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED))) == {"s2"}


async def test_subscription_cancelled_before_the_window_gets_nothing() -> None:
    flow = Flow()
    await three_subscriptions(flow)
    await flow.feed(changed("s2", SubscriptionStatus.DELETED, 30, datetime(2025, 3, 2, tzinfo=UTC)))
    emits = await flow.feed(approval())
    assert {
        k: v.amount_minor
        for k, v in allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED)).items()
    } == {"s1": 1000}


async def test_region_excludes_customers_known_to_be_elsewhere() -> None:
    flow = Flow()
    await flow.feed(provisioned("s1", "r1", "c1"), provisioned("s2", "r2", "c-far"))
    emits = await flow.feed(approval(region="eu-west"))
    assert set(allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED))) == {"s1"}


async def test_foreign_currency_subscription_is_excluded_and_reported() -> None:
    flow = Flow()
    await flow.feed(provisioned("s1", "r1", "c1"), provisioned("s2", "r2", "c2", currency="GBP"))
    emits = await flow.feed(approval())
    (report,) = [e.event for e in emits if isinstance(e.event, ServiceCreditAllocationReported)]
    assert [(x.subscription_id, x.reason) for x in report.excluded] == [("s2", "no_fx_rate")]
    assert report.allocated_minor == 1000


async def test_unknown_product_is_retried_not_dropped() -> None:
    flow = Flow()
    odd = provisioned("s1", "r1", "c1").model_copy(update={"product_id": "NOPE"})
    with pytest.raises(RetriableError):
        await flow.link(odd)


async def test_large_allocations_report_in_bounded_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credits_allocation, "REPORT_LINES", 2)
    flow = Flow()
    await flow.feed(*(provisioned(f"s{i}", "r1", f"c{i}") for i in range(5)))
    emits = await flow.feed(approval())
    reports = [e.event for e in emits if isinstance(e.event, ServiceCreditAllocationReported)]
    assert [(r.part, r.parts, len(r.lines)) for r in reports] == [(0, 3, 2), (1, 3, 2), (2, 3, 1)]
    assert len({r.event_id for r in reports}) == 3


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def test_gbp_and_jpy_customers_are_credited_at_the_approvals_rates_usd_is_excluded() -> None:
    flow = Flow()
    await flow.feed(
        provisioned("s-eur", "r1", "c1"),
        provisioned("s-gbp", "r1", "c2", currency="GBP"),
        provisioned("s-jpy", "r2", "c3", currency="JPY", unit=90_000),
        provisioned("s-usd", "r2", "c4", currency="USD"),
    )
    rates = [
        {"currency": "GBP", "rate": "0.85", "rate_date": date(2025, 3, 19)},
        {"currency": "JPY", "rate": "162.5", "rate_date": date(2025, 3, 19)},
    ]
    emits = await flow.feed(approval(amount_minor=10_000, fx_rates=rates))
    (report,) = [e.event for e in emits if isinstance(e.event, ServiceCreditAllocationReported)]
    assert [(x.subscription_id, x.reason) for x in report.excluded] == [("s-usd", "no_fx_rate")]
    lines = {ln.subscription_id: ln for ln in report.lines}
    assert set(lines) == {"s-eur", "s-gbp", "s-jpy"}
    assert report.allocated_minor == sum(ln.amount_minor for ln in lines.values()) == 10_000
    assert report.remainder_minor == 0
    # Weights are the fees in EUR: 60.00 EUR, 60.00 GBP / 0.85, 900000 JPY / 162.5.
    weights = {
        "s-eur": Decimal(6000),
        "s-gbp": Decimal(6000) / Decimal("0.85"),
        "s-jpy": Decimal(900_000) * 100 / Decimal("162.5"),
    }
    total = sum(weights.values())
    for sid, w in weights.items():
        assert abs(lines[sid].amount_minor - 10_000 * w / total) < 1
    # Each customer's amount is the EUR share at the stated rate, half up in its minor unit.
    gbp, jpy = lines["s-gbp"], lines["s-jpy"]
    assert (gbp.customer_currency, jpy.customer_currency) == ("GBP", "JPY")
    assert gbp.customer_amount_minor == _half_up(gbp.amount_minor * Decimal("0.85"))
    assert jpy.customer_amount_minor == _half_up(jpy.amount_minor * Decimal("162.5") / 100)
    assert lines["s-eur"].customer_amount_minor == lines["s-eur"].amount_minor
    expected_fx = Decimal(gbp.amount_minor) - Decimal(gbp.customer_amount_minor) / Decimal("0.85")
    expected_fx += Decimal(jpy.amount_minor) - Decimal(jpy.customer_amount_minor) * 100 / Decimal(
        "162.5"
    )
    assert abs(Decimal(report.fx_difference_minor) - expected_fx) < Decimal("1e-20")
    # The pass-through carries the customer's currency and amount.
    credits = allocated(emits, CATALOG.name(Topic.CREDITS_ALLOCATED))
    assert (credits["s-gbp"].currency, credits["s-gbp"].amount_minor) == (
        "GBP",
        gbp.customer_amount_minor,
    )
    assert (credits["s-jpy"].currency, credits["s-jpy"].amount_minor) == (
        "JPY",
        jpy.customer_amount_minor,
    )
    assert "s-usd" not in credits


async def test_redelivered_approval_with_other_rates_is_refused_not_reallocated() -> None:
    flow = Flow()
    await flow.feed(provisioned("s-gbp", "r1", "c2", currency="GBP"))
    rates = [{"currency": "GBP", "rate": "0.85", "rate_date": date(2025, 3, 19)}]
    first = await flow.feed(approval(fx_rates=rates))
    assert await flow.feed(approval(fx_rates=rates)) == first
    other = [{"currency": "GBP", "rate": "0.86", "rate_date": date(2025, 3, 19)}]
    with pytest.raises(BusinessRuleViolation):
        await flow.feed(approval(fx_rates=other))


async def test_approval_stored_before_fx_rates_existed_still_matches_its_redelivery() -> None:
    flow = Flow()
    await flow.feed(provisioned("s1", "r1", "c1"))
    first = await flow.feed(approval())
    (record,) = flow.approvals.values()
    assert "fx_rates" not in record["terms"]
    assert await flow.feed(approval()) == first
