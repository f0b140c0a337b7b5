"""The orders lifecycle's record follows a transfer between resellers: the old reseller can no
longer change or cancel the subscription at Partner Center, the new one can, and a
redelivered copy of either side changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest

from hub.connectors.partner_center import PartnerCenterClient
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.relationships import SubscriptionTransferred
from hub.schemas.events.subscriptions import SubscriptionChanged, SubscriptionChangeRejected
from hub.simulator.partner_center.server import SimulatorHandle
from hub.streams.orders.lifecycle import NOT_FOUND
from hub.streams.relationships.agreements import AGREEMENTS
from hub.topics import Topic
from tests.unit.streams.test_orders_handlers import (
    START,
    TOPICS,
    Flow,
    _change,
    _provisioned,
    client,  # noqa: F401  (fixture)
    sim,  # noqa: F401  (fixture)
)

OLD, NEW = "contoso", "fabrikam"
EFFECTIVE = START + timedelta(days=10)


@pytest.fixture(autouse=True)
def no_agreement_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AGREEMENTS, "reading", False)


def transferred(sub: SubscriptionProvisioned) -> SubscriptionTransferred:
    """Billing's copy for the old reseller, as it sends it on ``hub.subscriptions.commands``."""
    return SubscriptionTransferred(
        event_id=uuid.uuid4(),
        event_time=EFFECTIVE,
        correlation_id="transfer-1",
        causation_id=uuid.uuid4(),
        reseller_id=OLD,
        side="from",
        from_reseller_id=OLD,
        to_reseller_id=NEW,
        subscription_id=sub.subscription_id,
        customer_id=sub.customer_id,
        effective_date=EFFECTIVE.date(),
        product_id=sub.product_id,
        sku_id=sub.sku_id,
        availability_id=sub.availability_id,
        term=sub.term,
        billing_cycle=sub.billing_cycle,
        currency=sub.currency,
        quantity=sub.quantity,
        term_start=sub.term_start,
        term_end=sub.term_end,
        auto_renew=True,
        unit_cost_minor=600,
        from_unit_price_minor=600,
        to_unit_price_minor=660,
        period_start=sub.term_start,
        period_end=sub.term_start + timedelta(days=30),
        from_period_minor=2_000,
        to_period_minor=4_400,
        released_commitment_minor=30_000,
        taken_commitment_minor=33_000,
    )


async def command(flow: Flow, event: Event) -> Sequence[Emit]:
    """One message of ``orders.fulfilment`` from ``hub.subscriptions.commands``."""
    run = flow.lifecycle.on_command
    return await flow.fulfilment_journal.run(0, str(event.event_id), lambda: run(event))


async def test_the_record_moves_to_the_new_reseller_and_the_old_one_finds_nothing(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    old = flow.fulfilment.subscription(OLD, sub.subscription_id)
    assert old is not None

    (handed,) = await command(flow, transferred(sub))
    assert (handed.topic, handed.key) == (TOPICS.name(Topic.SUBSCRIPTION_COMMANDS), NEW)
    assert isinstance(handed.event, SubscriptionTransferred)
    assert handed.event.side == "to"
    assert handed.event.microsoft_customer_id == old.microsoft_customer_id
    assert flow.fulfilment.subscription(OLD, sub.subscription_id) is None
    assert await command(flow, handed.event) == []
    moved = flow.fulfilment.subscription(NEW, sub.subscription_id)
    assert moved is not None
    assert (moved.subscription.reseller_id, moved.unit_price_minor) == (NEW, 660)
    assert moved.subscription.quantity == old.subscription.quantity
    # The old reseller's seats are not the new one's to refund.
    assert moved.subscription.refundable_seats(EFFECTIVE) == 0
    assert flow.fulfilment.customers[f"{NEW}|{sub.customer_id}"] == old.microsoft_customer_id

    # The old reseller's cancellation finds no subscription; Microsoft's stays as it was.
    sim.simulator.state.advance(timedelta(days=11))
    cancel = _change(sub, EFFECTIVE + timedelta(days=1))
    refused = (await flow.change(cancel))[0].event
    assert isinstance(refused, SubscriptionChangeRejected)
    assert refused.code == NOT_FOUND

    # The new reseller adds seats: checked on its record, PATCHed at Partner Center.
    add = _change(
        sub,
        EFFECTIVE + timedelta(days=1),
        reseller_id=NEW,
        kind="change_quantity",
        new_quantity=sub.quantity + 2,
    )
    changed = [e.event for e in await flow.change(add)]
    assert isinstance(changed[0], SubscriptionChanged), changed
    assert changed[0].new_quantity == sub.quantity + 2
    at_microsoft = sim.simulator.state.subscriptions.records[sub.subscription_id]
    assert at_microsoft.quantity == sub.quantity + 2


async def test_redelivered_copies_of_either_side_change_nothing(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    first = transferred(sub)
    (handed,) = await command(flow, first)
    await command(flow, handed.event)
    moved = flow.fulfilment.subscription(NEW, sub.subscription_id)

    # Under new message ids (a replayed topic): nothing handed again, nothing reopened.
    again = first.model_copy(update={"event_id": uuid.uuid4()})
    assert await command(flow, again) == []
    assert await command(flow, handed.event.model_copy(update={"event_id": uuid.uuid4()})) == []
    assert flow.fulfilment.subscription(NEW, sub.subscription_id) == moved
    assert flow.fulfilment.subscription(OLD, sub.subscription_id) is None
