"""Scheduled next-term instructions through the adapter, at the simulator (with faults)."""

from __future__ import annotations

import pytest
from conftest import PlaceOrder

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterError
from hub.connectors.partner_center.renewals import ScheduledNextTermPatch, instructions_for
from hub.domain.enums import BillingCycle, Term
from hub.domain.renewals import NextTerm
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind
from hub.simulator.partner_center.server import SimulatorHandle

NEXT = NextTerm(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    quantity=4,
    term=Term.P1Y,
    billing_cycle=BillingCycle.MONTHLY,
)


def patch(next_term: NextTerm = NEXT) -> ScheduledNextTermPatch:
    return ScheduledNextTermPatch(scheduled_next_term_instructions=instructions_for(next_term))


def test_the_instructions_use_partner_centers_field_names():
    body = patch().model_dump(by_alias=True, exclude_none=True)
    assert body == {
        "scheduledNextTermInstructions": {
            "product": {
                "productId": "CFQ7TTC0LH18",
                "skuId": "0001",
                "availabilityId": "CFQ7TTC0K5DL",
                "billingCycle": "monthly",
                "termDuration": "P1Y",
            },
            "quantity": 4,
        }
    }


async def test_scheduled_instructions_are_kept_and_a_mid_term_seat_add_deletes_them(
    client: PartnerCenterClient, place: PlaceOrder, sim: SimulatorHandle
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await client.schedule_next_term(customer_id, subscription_id, patch(), correlation_id="c")
    held = sim.simulator.scheduled.instructions[subscription_id]
    assert held["quantity"] == 4
    assert held["product"]["billingCycle"] == "monthly"

    await client.change_quantity(customer_id, subscription_id, 12, correlation_id="c")

    assert subscription_id not in sim.simulator.scheduled.instructions
    assert sim.simulator.scheduled.deleted == [subscription_id]


async def test_without_auto_renew_microsoft_refuses_scheduled_changes(
    client: PartnerCenterClient, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place()
    await client.set_auto_renew(customer_id, subscription_id, False, correlation_id="c")
    with pytest.raises(PartnerCenterError) as caught:
        await client.schedule_next_term(customer_id, subscription_id, patch(), correlation_id="c")
    assert caught.value.status == 400
    assert caught.value.retriable is False


async def test_a_renewal_in_progress_and_server_errors_are_retried(
    client: PartnerCenterClient, place: PlaceOrder, admin: SimulatorAdmin, sim: SimulatorHandle
) -> None:
    customer_id, subscription_id = await place()
    await admin.inject(
        Fault(kind=FaultKind.CONFLICT, count=1, operation="update_subscription"),
        Fault(kind=FaultKind.SERVER_ERROR, count=1, status=503, operation="update_subscription"),
    )
    await client.schedule_next_term(customer_id, subscription_id, patch(), correlation_id="c")
    assert subscription_id in sim.simulator.scheduled.instructions
