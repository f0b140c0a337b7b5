"""The incentives router and the plans every worker holds: which plans a fact goes to."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.domain.enums import BillingCycle, ChargeType, ProductKind
from hub.errors import SchemaError
from hub.schemas.events import billing as b
from hub.schemas.events.incentives import IncentiveFactNoted, IncentivePlanSet
from hub.streams.incentives.plans import PlanBook
from hub.streams.incentives.route import IncentiveRouter
from hub.topics import Topic, TopicCatalog

TOPICS = TopicCatalog("t.")
T0 = datetime(2026, 11, 5, 9, tzinfo=UTC)


def plan_event(plan_id: str, payee: str, resellers: list[str], **over: Any) -> IncentivePlanSet:
    doc: dict[str, Any] = {
        "plan_id": plan_id,
        "payee": payee,
        "kind": "rebate" if resellers == [payee] else "commission",
        "resellers": resellers,
        "currency": "EUR",
        "effective_from": "2026-01",
        "tiers": [{"name": "base", "from_measure": 0, "rates_bps": {"*": 100}}],
        **over,
    }
    active = doc.pop("active", True)
    return IncentivePlanSet(
        event_id=uuid.uuid4(),
        event_time=T0,
        correlation_id="plans",
        plan_id=plan_id,
        payee=payee,
        plan_json=json.dumps(doc),
        active=active,
    )


def book(*events: IncentivePlanSet) -> PlanBook:
    plans = PlanBook()
    for e in events:
        plans.apply(e)
    plans.loaded.set()
    return plans


def charge(charge_type: ChargeType, quantity: int, price: int, **over: Any) -> b.ChargeRated:
    doc: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_time": T0,
        "correlation_id": "c",
        "reseller_id": "contoso",
        "charge_id": f"line-{uuid.uuid4().hex[:8]}",
        "customer_id": "cust",
        "subscription_id": "s1",
        "charge_type": charge_type,
        "product_id": "P1",
        "sku_id": "0001",
        "product_kind": ProductKind.SUBSCRIPTION,
        "billing_cycle": BillingCycle.MONTHLY,
        "quantity": quantity,
        "period_start": date(2026, 11, 5),
        "period_end": date(2026, 12, 4),
        "cost_minor": price,
        "price_minor": price,
        "currency": "EUR",
        **over,
    }
    return b.ChargeRated.model_validate(doc)


def test_a_plan_set_again_replaces_it_and_an_inactive_one_retires_it() -> None:
    plans = book(
        plan_event("rebate-contoso", "contoso", ["contoso"]),
        plan_event("am-alice", "alice", ["contoso", "fabrikam"]),
    )
    assert [p.plan_id for p in plans.covering("contoso")] == ["am-alice", "rebate-contoso"]
    assert [p.plan_id for p in plans.covering("fabrikam")] == ["am-alice"]
    plans.apply(plan_event("am-alice", "alice", ["fabrikam"]))
    assert [p.plan_id for p in plans.covering("contoso")] == ["rebate-contoso"]
    plans.apply(plan_event("rebate-contoso", "contoso", ["contoso"], active=False))
    assert plans.covering("contoso") == []
    with pytest.raises(SchemaError):
        plans.apply(charge(ChargeType.NEW, 1, 100))


def test_a_plan_event_whose_document_names_another_plan_is_refused() -> None:
    good = plan_event("rebate-contoso", "contoso", ["contoso"])
    with pytest.raises(ValueError, match="must match the plan document"):
        IncentivePlanSet.model_validate({**good.model_dump(), "plan_id": "other"})


async def test_a_monthly_charge_goes_to_every_plan_on_the_reseller_keyed_by_payee() -> None:
    plans = book(
        plan_event("rebate-contoso", "contoso", ["contoso"]),
        plan_event("am-alice", "alice", ["contoso"]),
        plan_event("rebate-fabrikam", "fabrikam", ["fabrikam"]),
    )
    router = IncentiveRouter(TOPICS, plans, {})
    emits = await router.handle(charge(ChargeType.NEW, 10, 7_000))
    assert {(e.topic, e.key) for e in emits} == {
        (TOPICS.name(Topic.INCENTIVE_LEDGER), "alice"),
        (TOPICS.name(Topic.INCENTIVE_LEDGER), "contoso"),
    }
    facts = [e.event for e in emits]
    assert all(isinstance(f, IncentiveFactNoted) and f.kind == "revenue" for f in facts)
    assert {f.amount_minor for f in facts if isinstance(f, IncentiveFactNoted)} == {7_000}


async def test_seats_go_only_to_seat_growth_plans_and_up_front_charges_wait_for_recognition() -> (
    None
):
    seat_plan = plan_event(
        "am-growth",
        "alice",
        ["contoso"],
        tier_basis="seat_growth",
        tiers=[
            {"name": "base", "from_measure": 0, "rates_bps": {"*": 100}},
            {"name": "growth", "from_measure": 10, "rates_bps": {"*": 200}},
        ],
    )
    plans = book(plan_event("rebate-contoso", "contoso", ["contoso"]), seat_plan)
    router = IncentiveRouter(TOPICS, plans, {})
    annual = charge(ChargeType.NEW, 12, 100_800, billing_cycle=BillingCycle.ANNUAL)
    kinds = sorted(
        (e.event.plan_id, e.event.kind)
        for e in await router.handle(annual)
        if isinstance(e.event, IncentiveFactNoted)
    )
    # Seats count now; the annual charge's revenue accrues as billing recognises it.
    assert kinds == [("am-growth", "seats")]


async def test_a_subscription_keeps_only_its_latest_monthly_charges_and_still_refunds_right() -> (
    None
):
    router = IncentiveRouter(TOPICS, book(plan_event("rebate-contoso", "contoso", ["contoso"])), {})
    starts = [date(2026, m, 5) for m in range(1, 13)]
    for k, start in enumerate(starts):
        await router.handle(
            charge(
                ChargeType.CYCLE_CHARGE, 10, 1_000 + k, period_start=start, charge_id=f"m{k:02d}"
            )
        )
    kept = sorted(k for k in router.t if k.startswith("monthly|contoso|s1|"))
    assert kept == ["monthly|contoso|s1|m10", "monthly|contoso|s1|m11"]
    cancel = charge(ChargeType.CANCEL_IMMEDIATE, -10, -1_011, period_start=date(2026, 12, 8))
    (refund,) = [e.event for e in await router.handle(cancel) if e.event.kind == "refund"]
    assert (refund.charge_id, refund.charge_minor, refund.amount_minor) == ("m11", 1_011, 1_011)
