"""The drift sweep with a fake Partner Center: a portal change is reported once, adopted or
corrected by ops, and the sweep pages through customers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.connectors.partner_center.errors import PartnerCenterError
from hub.connectors.partner_center.models import Subscription, SubscriptionPatch
from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.errors import BusinessRuleViolation
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.relationships import (
    RelationshipSweepTick,
    SubscriptionDriftDetected,
    SubscriptionDriftResolution,
    SubscriptionDriftResolved,
)
from hub.streams.relationships.drift import DriftSweep
from hub.topics import TopicCatalog

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


class FakePartnerCenter:
    def __init__(self) -> None:
        self.subs: dict[str, dict[str, Subscription]] = {}
        self.listed: list[str] = []
        self.patches: list[tuple[str, SubscriptionPatch]] = []
        self.down_for: set[str] = set()  # customers whose listing fails as if unreachable

    async def list_subscriptions(self, ms_id: str, **_: str) -> list[Subscription]:
        self.listed.append(ms_id)
        if ms_id in self.down_for:
            raise PartnerCenterError(
                "list_subscriptions: connection refused",
                operation="list_subscriptions",
                retriable=True,
                attempts=5,
            )
        return list(self.subs.get(ms_id, {}).values())

    async def update_subscription(
        self, ms_id: str, sub_id: str, patch: SubscriptionPatch, **_: str
    ) -> None:
        self.patches.append((sub_id, patch))
        sub = self.subs[ms_id][sub_id]
        self.subs[ms_id][sub_id] = sub.model_copy(update={"quantity": patch.quantity})


def _pc_sub(sub_id: str, quantity: int, status: SubscriptionStatus = SubscriptionStatus.ACTIVE):
    return Subscription(
        id=sub_id,
        offer_id="CFQ7TTC0LH18:0001",
        quantity=quantity,
        creation_date=NOW,
        effective_start_date=NOW,
        commitment_end_date=datetime(2027, 3, 10, tzinfo=UTC),
        auto_renew_enabled=True,
        status=status,
        order_id="o-1",
        term_duration=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )


def _provisioned(customer: str, sub_id: str, quantity: int = 10) -> SubscriptionProvisioned:
    return SubscriptionProvisioned(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="p",
        reseller_id="A",
        order_id=f"o-{sub_id}",
        line_index=0,
        customer_id=customer,
        subscription_id=sub_id,
        microsoft_order_id="ms-o",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=quantity,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=date(2026, 3, 10),
        term_end=date(2027, 3, 10),
        unit_cost_minor=600,
        unit_price_minor=700,
        currency="EUR",
    )


def _sweep(
    page: int = 10, unknown: str = ""
) -> tuple[DriftSweep, FakePartnerCenter, dict[str, object]]:
    pc = FakePartnerCenter()
    state: dict[str, object] = {}

    async def microsoft_id(reseller_id: str, customer_id: str, cause: Event) -> str:
        if customer_id == unknown:
            raise BusinessRuleViolation("CustomerNotFound", f"customer {customer_id!r}")
        return f"ms-{customer_id}"

    return (
        DriftSweep(TopicCatalog(), state, pc, microsoft_id, page=page, clock=lambda: NOW),
        pc,
        state,
    )


def _tick() -> RelationshipSweepTick:
    return RelationshipSweepTick(
        event_id=new_event_id(), event_time=NOW, correlation_id="t", partition=0
    )


def _resolve(resolution: str) -> SubscriptionDriftResolution:
    return SubscriptionDriftResolution(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="ops",
        reseller_id="A",
        customer_id="c1",
        subscription_id="s1",
        resolution=resolution,
    )


async def test_a_portal_change_is_reported_once_and_adopted():
    sweep, pc, _ = _sweep()
    sweep.on_provisioned(_provisioned("c1", "s1"))
    pc.subs["ms-c1"] = {"s1": _pc_sub("s1", 10)}
    assert await sweep.on_tick(_tick()) == []
    pc.subs["ms-c1"]["s1"] = _pc_sub("s1", 14)
    (emit,) = await sweep.on_tick(_tick())
    detected = emit.event
    assert isinstance(detected, SubscriptionDriftDetected)
    assert (detected.kind, [(f.name, f.hub, f.microsoft) for f in detected.fields]) == (
        "changed",
        [("quantity", "10", "14")],
    )
    assert await sweep.on_tick(_tick()) == []  # once
    (done,) = await sweep.on_resolution(_resolve("adopt"))
    assert isinstance(done.event, SubscriptionDriftResolved)
    assert done.event.outcome == "adopted"
    assert await sweep.on_tick(_tick()) == []  # the hub now agrees


async def test_correct_sends_the_hubs_values_back():
    sweep, pc, _ = _sweep()
    sweep.on_provisioned(_provisioned("c1", "s1"))
    pc.subs["ms-c1"] = {"s1": _pc_sub("s1", 3)}
    await sweep.on_tick(_tick())
    (done,) = await sweep.on_resolution(_resolve("correct"))
    assert done.event.outcome == "corrected"
    assert [(s, p.quantity) for s, p in pc.patches] == [("s1", 10)]
    assert await sweep.on_tick(_tick()) == []


async def test_suspension_and_unknown_subscriptions_cannot_be_corrected():
    sweep, pc, _ = _sweep()
    sweep.on_provisioned(_provisioned("c1", "s1"))
    pc.subs["ms-c1"] = {
        "s1": _pc_sub("s1", 10, SubscriptionStatus.SUSPENDED),
        "s9": _pc_sub("s9", 5),
    }
    kinds = {e.event.subscription_id: e.event.kind for e in await sweep.on_tick(_tick())}
    assert kinds == {"s1": "suspended_by_microsoft", "s9": "unknown_to_hub"}
    (done,) = await sweep.on_resolution(_resolve("correct"))
    assert done.event.outcome == "refused"
    assert pc.patches == []


async def test_each_tick_looks_at_one_page_of_customers():
    sweep, pc, _ = _sweep(page=2)
    for n in range(5):
        sweep.on_provisioned(_provisioned(f"c{n}", f"s{n}"))
    for _ in range(3):
        await sweep.on_tick(_tick())
    assert [len(batch) for batch in (pc.listed[:2], pc.listed[2:4], pc.listed[4:])] == [2, 2, 1]
    assert sorted(pc.listed) == [f"ms-c{n}" for n in range(5)]


async def test_partner_center_down_stops_the_page_and_the_next_tick_resumes_there():
    sweep, pc, state = _sweep(page=3)
    for n in range(3):
        sweep.on_provisioned(_provisioned(f"c{n}", f"s{n}"))
    pc.subs["ms-c0"] = {"s0": _pc_sub("s0", 12)}  # a portal change the sweep reports
    pc.down_for = {"ms-c1"}
    out = await sweep.on_tick(_tick())  # processed, not raised: no retry of the whole tick
    assert [e.event.subscription_id for e in out] == ["s0"]
    assert pc.listed == ["ms-c0", "ms-c1"]  # c2 not asked while Partner Center fails
    pc.down_for = set()
    pc.listed.clear()
    assert await sweep.on_tick(_tick()) == []
    assert pc.listed == ["ms-c1", "ms-c2"]  # resumed at the failed customer, c0 not again
    pc.listed.clear()
    await sweep.on_tick(_tick())
    assert pc.listed == ["ms-c0", "ms-c1", "ms-c2"]  # the page wrapped: from the start again
    assert "driftcursor|0" in state


async def test_a_customer_the_sweep_cannot_place_is_skipped_not_the_whole_sweep():
    sweep, pc, _ = _sweep(page=3, unknown="c1")
    for n in range(3):
        sweep.on_provisioned(_provisioned(f"c{n}", f"s{n}"))
    pc.subs["ms-c2"] = {"s2": _pc_sub("s2", 12)}
    out = await sweep.on_tick(_tick())
    assert [e.event.subscription_id for e in out] == ["s2"]
    assert pc.listed == ["ms-c0", "ms-c2"]
