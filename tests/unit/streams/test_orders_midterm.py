"""The orders lifecycle's record follows a mid-term change the renewals flow applied: a later seat
reduction is checked and refunded on the new billing cycle, term, SKU and price (and billing
rates that reduction on the same values), once however often the change is delivered."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from test_billing_ledger import TOPICS as BILLING_TOPICS
from test_billing_ledger import feed, ledger, of

from hub.connectors.partner_center import PartnerCenterClient
from hub.domain.enums import BillingCycle, ChargeType
from hub.domain.proration import prorate
from hub.domain.renewals_midterm import MidTermChange, change_billing_frequency, upgrade
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.renewals import MidTermChangeApplied, MidTermChargeLine
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.simulator.partner_center.server import SimulatorHandle
from hub.streams.orders.state import SubscriptionRecord
from hub.streams.relationships.agreements import AGREEMENTS
from hub.topics import Topic
from tests.unit.streams.test_orders_handlers import (
    ITEM,
    START,
    Flow,
    _change,
    _provisioned,
    client,  # noqa: F401  (fixture)
    sim,  # noqa: F401  (fixture)
)

AT = START + timedelta(days=2)  # 2025-03-12 09:00, the change; the reduction a day later
REDUCED_AT = START + timedelta(days=3)
STANDARD = ITEM.model_copy(update={"product_id": "CFQ7TTC0LDPB", "name": "Business Standard"})
ANNUAL_PRICE = 7_000  # per seat per year, today's list price without promotion
STANDARD_PRICE = 1_000  # per seat per month


@pytest.fixture(autouse=True)
def no_agreement_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders here are of reference-data customers: no agreements reader runs in this process."""
    monkeypatch.setattr(AGREEMENTS, "reading", False)


async def follow(flow: Flow, event: Event) -> Sequence[Emit]:
    """One message of ``orders.fulfilment`` from billing's inputs topic."""
    run = flow.lifecycle.on_mid_term
    return await flow.fulfilment_journal.run(0, str(event.event_id), lambda: run(event))


def record(flow: Flow, sub: SubscriptionProvisioned) -> SubscriptionRecord:
    found = flow.fulfilment.subscription(sub.reseller_id or "", sub.subscription_id)
    assert found is not None
    return found


def applied(
    sub: SubscriptionProvisioned, kind: str, change: MidTermChange, cost: int
) -> MidTermChangeApplied:
    """What the renewals flow sends once Partner Center made ``change``."""
    new = change.subscription
    return MidTermChangeApplied(
        event_id=uuid.uuid4(),
        event_time=AT,
        correlation_id=f"mid-{kind}",
        reseller_id=sub.reseller_id,
        change_id=f"mid-{kind}",
        customer_id=sub.customer_id,
        subscription_id=sub.subscription_id,
        kind=kind,
        product_id=new.product_id,
        sku_id=new.sku_id,
        availability_id=new.availability_id,
        quantity=new.quantity,
        term=new.term,
        billing_cycle=new.billing_cycle,
        term_start=new.term_start,
        term_end=new.term_end,
        currency=sub.currency,
        unit_price_minor=change.unit_price_minor,
        unit_cost_minor=cost,
        price_reset=True,
        lines=tuple(
            MidTermChargeLine(
                charge_type=ln.charge_type.value,
                catalog_item_id=ln.catalog_item_id,
                quantity=ln.quantity,
                unit_price_minor=ln.unit_price_minor,
                charge_start=ln.charge_start,
                charge_end=ln.charge_end,
                amount_minor=ln.amount_minor,
            )
            for ln in change.lines
        ),
    )


def to_annual(flow: Flow, sub: SubscriptionProvisioned) -> MidTermChangeApplied:
    rules = change_billing_frequency(
        record(flow, sub).subscription,
        AT,
        BillingCycle.ANNUAL,
        old_unit_price_minor=sub.unit_price_minor,
        new_unit_price_minor=ANNUAL_PRICE,
    )
    assert isinstance(rules, MidTermChange)
    return applied(sub, "billing_frequency", rules, cost=6_000)


def to_standard(flow: Flow, sub: SubscriptionProvisioned) -> MidTermChangeApplied:
    rules = upgrade(
        record(flow, sub).subscription,
        AT,
        current=ITEM,
        target=STANDARD,
        old_unit_price_minor=sub.unit_price_minor,
        new_unit_price_minor=STANDARD_PRICE,
    )
    assert isinstance(rules, MidTermChange)
    return applied(sub, "upgrade", rules, cost=850)


async def reduce_to_three(
    flow: Flow, handle: SimulatorHandle, sub: SubscriptionProvisioned
) -> SubscriptionChanged:
    handle.simulator.state.advance(timedelta(days=3))
    request = _change(sub, REDUCED_AT, kind="change_quantity", new_quantity=3)
    changed = (await flow.change(request))[0].event
    assert isinstance(changed, SubscriptionChanged)
    assert (changed.old_quantity, changed.new_quantity) == (5, 3)
    return changed


async def billed_reduction(
    sub: SubscriptionProvisioned, midterm: MidTermChangeApplied, changed: SubscriptionChanged
) -> list[b.ChargeRated]:
    """Billing's lines for the reduction, fed what its inputs topic carries (its reference
    data knows the customer as ``cust-de``)."""
    ldg = ledger()
    customer = {"customer_id": "cust-de"}
    await feed(ldg, [sub.model_copy(update=customer), midterm.model_copy(update=customer)])
    emits = await feed(ldg, [changed.model_copy(update=customer)])
    rated: list[b.ChargeRated] = of(emits, BILLING_TOPICS.name(Topic.CHARGES), b.ChargeRated)
    return [c for c in rated if c.charge_type is ChargeType.REMOVE_QUANTITY]


async def test_after_a_billing_frequency_change_a_seat_reduction_is_refunded_on_the_new_term(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    midterm = to_annual(flow, sub)

    assert await follow(flow, midterm) == []
    followed = record(flow, sub)
    assert followed.subscription.billing_cycle is BillingCycle.ANNUAL
    assert followed.subscription.term_start == datetime(2025, 3, 12, tzinfo=UTC)
    assert followed.subscription.term_end == datetime(2026, 3, 12, tzinfo=UTC)
    assert (followed.unit_price_minor, followed.unit_cost_minor) == (ANNUAL_PRICE, 6_000)

    changed = await reduce_to_three(flow, sim, sub)

    # Two seats of a year's price, from the reduction's day to the new annual period's end.
    period = (date(2025, 3, 12), date(2026, 3, 11))
    assert changed.refund_minor == prorate(ANNUAL_PRICE * 2, *period, date(2025, 3, 13))
    lines = await billed_reduction(sub, midterm, changed)
    assert {(c.period_start, c.period_end) for c in lines} == {(date(2025, 3, 13), period[1])}
    assert abs(sum(c.price_minor for c in lines) + changed.refund_minor) <= 1


async def test_after_an_upgrade_a_seat_reduction_is_refunded_at_the_new_skus_price(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    before = record(flow, sub).subscription
    midterm = to_standard(flow, sub)

    await follow(flow, midterm)
    followed = record(flow, sub)
    assert followed.subscription.catalog_item_id == STANDARD.catalog_item_id
    assert followed.unit_price_minor == STANDARD_PRICE
    # The term, its window and the seats' refund deadlines are the same after an upgrade.
    kept = ("term_start", "term_end", "window_start", "seat_batches", "billing_cycle")
    assert all(getattr(followed.subscription, f) == getattr(before, f) for f in kept)

    changed = await reduce_to_three(flow, sim, sub)

    period = (date(2025, 3, 10), date(2025, 4, 9))
    assert changed.refund_minor == prorate(STANDARD_PRICE * 2, *period, date(2025, 3, 13))
    lines = await billed_reduction(sub, midterm, changed)
    assert {c.product_id for c in lines} == {STANDARD.product_id}
    assert abs(sum(c.price_minor for c in lines) + changed.refund_minor) <= 1


async def test_a_redelivered_change_changes_nothing_even_after_the_record_moved_on(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    annual = to_annual(flow, sub)
    await follow(flow, annual)
    await reduce_to_three(flow, sim, sub)
    standard = to_standard(flow, sub)
    await follow(flow, standard)
    now = record(flow, sub)

    # The first change again, under a new message id (a replayed topic), then the second.
    assert await follow(flow, annual.model_copy(update={"event_id": uuid.uuid4()})) == []
    assert record(flow, sub) == now
    assert await follow(flow, standard.model_copy(update={"event_id": uuid.uuid4()})) == []
    assert record(flow, sub) == now
    assert now.subscription.quantity == 3
    assert now.subscription.catalog_item_id == STANDARD.catalog_item_id


async def test_other_events_on_billings_inputs_and_other_resellers_changes_are_left_alone(
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    before = record(flow, sub)
    midterm = to_annual(flow, sub)
    changed = _change(sub, AT, kind="change_quantity", new_quantity=3)

    assert await follow(flow, changed) == []
    assert await follow(flow, midterm.model_copy(update={"reseller_id": "fabrikam"})) == []
    assert await follow(flow, midterm.model_copy(update={"customer_id": "other-cust"})) == []

    assert record(flow, sub) == before
