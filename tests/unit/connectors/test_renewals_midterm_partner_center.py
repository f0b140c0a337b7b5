"""Mid-term changes through the client, at the simulator (with faults): a billing-frequency
PATCH starts a new term, a transition upgrades the offer; both delete scheduled instructions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import PlaceOrder
from test_renewals_partner_center import patch

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterError
from hub.connectors.partner_center.renewals_midterm import (
    TRANSITION,
    BillingCyclePatch,
    TermPatch,
    Transition,
)
from hub.domain.enums import BillingCycle, Term
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind
from hub.simulator.partner_center.server import SimulatorHandle

STANDARD = "CFQ7TTC0LDPB:0001:CFQ7TTC0K5BB"
EXCHANGE = "CFQ7TTC0LH0R:0001:CFQ7TTC0K1SS"


def test_the_bodies_use_partner_centers_field_names() -> None:
    assert BillingCyclePatch(billing_cycle=BillingCycle.ANNUAL).model_dump(by_alias=True) == {
        "billingCycle": "annual"
    }
    assert Transition(to_catalog_item_id=STANDARD, quantity=3).model_dump(by_alias=True) == {
        "toCatalogItemId": STANDARD,
        "quantity": 3,
        "transitionType": "transition_only",
    }


async def test_a_billing_frequency_change_starts_a_new_term_and_deletes_scheduled_changes(
    client: PartnerCenterClient, place: PlaceOrder, sim: SimulatorHandle
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await client.schedule_next_term(customer_id, subscription_id, patch(), correlation_id="c")
    sim.simulator.state.advance(timedelta(days=40))

    await client.patch_subscription(
        customer_id, subscription_id, BillingCyclePatch(billing_cycle=BillingCycle.ANNUAL), "c"
    )

    seen = await client.get_subscription(customer_id, subscription_id, correlation_id="c")
    assert seen.billing_cycle == BillingCycle.ANNUAL
    now = sim.simulator.state.now()
    assert seen.effective_start_date is not None
    assert seen.effective_start_date.date() == now.date()
    assert subscription_id not in sim.simulator.scheduled.instructions
    assert sim.simulator.scheduled.deleted == [subscription_id]


async def test_a_longer_term_starts_a_new_term_and_a_shorter_one_is_refused(
    client: PartnerCenterClient, place: PlaceOrder, sim: SimulatorHandle
) -> None:
    assert TermPatch(term_duration=Term.P3Y, billing_cycle=BillingCycle.ANNUAL).model_dump(
        by_alias=True
    ) == {"termDuration": "P3Y", "billingCycle": "annual"}
    customer_id, subscription_id = await place(quantity=3)
    await client.schedule_next_term(customer_id, subscription_id, patch(), correlation_id="c")
    sim.simulator.state.advance(timedelta(days=40))

    await client.patch_subscription(
        customer_id,
        subscription_id,
        TermPatch(term_duration=Term.P3Y, billing_cycle=BillingCycle.ANNUAL),
        "c",
    )

    seen = await client.get_subscription(customer_id, subscription_id, correlation_id="c")
    assert (seen.term_duration, seen.billing_cycle) == (Term.P3Y, BillingCycle.ANNUAL)
    assert seen.effective_start_date is not None
    assert seen.effective_start_date.date() == sim.simulator.state.now().date()
    assert seen.commitment_end_date is not None
    assert seen.commitment_end_date.year == seen.effective_start_date.year + 3
    assert sim.simulator.scheduled.deleted == [subscription_id]
    with pytest.raises(PartnerCenterError) as caught:
        await client.patch_subscription(
            customer_id,
            subscription_id,
            TermPatch(term_duration=Term.P1Y, billing_cycle=BillingCycle.ANNUAL),
            "c",
        )
    assert (caught.value.status, caught.value.retriable) == (400, False)
    record = sim.simulator.state.subscriptions.records[subscription_id]
    assert record.term is Term.P3Y


async def test_a_transition_upgrades_the_offer_and_keeps_the_term_end(
    client: PartnerCenterClient, place: PlaceOrder, sim: SimulatorHandle
) -> None:
    customer_id, subscription_id = await place(quantity=4)
    before = await client.get_subscription(customer_id, subscription_id, correlation_id="c")

    await client.transition_subscription(
        customer_id,
        subscription_id,
        Transition(to_catalog_item_id=STANDARD, quantity=4),
        TRANSITION,
        "c",
    )

    after = await client.get_subscription(customer_id, subscription_id, correlation_id="c")
    assert after.offer_id == STANDARD
    assert after.commitment_end_date == before.commitment_end_date
    assert after.quantity == 4


async def test_a_cheaper_offer_is_no_upgrade_path_and_is_refused_for_good(
    client: PartnerCenterClient, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place()
    with pytest.raises(PartnerCenterError) as caught:
        await client.transition_subscription(
            customer_id,
            subscription_id,
            Transition(to_catalog_item_id=EXCHANGE, quantity=10),
            TRANSITION,
            "c",
        )
    assert caught.value.status == 400
    assert caught.value.retriable is False


async def test_server_errors_on_either_change_are_retried(
    client: PartnerCenterClient, place: PlaceOrder, admin: SimulatorAdmin, sim: SimulatorHandle
) -> None:
    customer_id, subscription_id = await place()
    await admin.inject(
        Fault(kind=FaultKind.SERVER_ERROR, count=1, status=503, operation="update_subscription"),
        Fault(kind=FaultKind.THROTTLE, count=1, operation=TRANSITION),
    )
    await client.patch_subscription(
        customer_id, subscription_id, BillingCyclePatch(billing_cycle=BillingCycle.ANNUAL), "c"
    )
    await client.transition_subscription(
        customer_id,
        subscription_id,
        Transition(to_catalog_item_id=STANDARD, quantity=10),
        TRANSITION,
        "c",
    )
    assert sim.simulator.state.requests["update_subscription"] >= 2
    assert sim.simulator.state.requests[TRANSITION] == 2
    record = sim.simulator.state.subscriptions.records[subscription_id]
    assert (record.cycle, record.item.catalog_item_id) == (BillingCycle.ANNUAL, STANDARD)
