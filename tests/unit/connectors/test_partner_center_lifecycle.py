"""New-commerce subscription rules at the simulator, driven through the adapter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import BASIC, RESELLER, PlaceOrder

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterError, nce_line
from hub.connectors.partner_center.models import InvoiceLineItem
from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.simulator.partner_center.admin import SimulatorAdmin


async def _unbilled(client: PartnerCenterClient) -> list[InvoiceLineItem]:
    return [line async for line in client.unbilled_line_items("USD", "current", correlation_id="c")]


async def test_cancel_on_day_three_is_accepted_with_prorated_refund(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await admin.advance(days=3)

    cancelled = await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")

    assert cancelled.status == SubscriptionStatus.DELETED
    lines = await _unbilled(client)
    refund = next(line for line in lines if line.charge_type == ChargeType.CANCEL_IMMEDIATE)
    # Period 10 Mar - 10 Apr is 31 days; 28 unused: 6.00 * 28 / 31 = 5.419355, down to 5.41.
    assert refund.effective_unit_price == Decimal("5.419355")
    assert refund.billable_quantity == -10
    assert refund.subtotal == Decimal("-54.10")
    new = next(line for line in lines if line.charge_type == ChargeType.NEW)
    assert new.subtotal == Decimal("60.00")


async def test_cancel_at_exactly_seven_days_is_accepted(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place()
    await admin.advance(days=7)

    cancelled = await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")

    assert cancelled.status == SubscriptionStatus.DELETED


async def test_cancel_on_day_eight_is_rejected(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place()
    await admin.advance(days=8)

    with pytest.raises(PartnerCenterError) as caught:
        await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")

    assert caught.value.status == 400
    assert caught.value.retriable is False
    assert caught.value.error_name == "CancellationWindowExpired"
    assert await admin.requests("update_subscription") == 1
    still = await client.get_subscription(customer_id, subscription_id, correlation_id="c")
    assert still.status == SubscriptionStatus.ACTIVE


async def test_retried_cancel_finds_the_work_done(
    client: PartnerCenterClient, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place()
    await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")

    again = await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")

    assert again.status == SubscriptionStatus.DELETED
    refunds = [x for x in await _unbilled(client) if x.charge_type == ChargeType.CANCEL_IMMEDIATE]
    assert len(refunds) == 1


async def test_seat_reduction_within_seven_days_is_refunded(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await admin.advance(days=2)

    reduced = await client.change_quantity(customer_id, subscription_id, 6, correlation_id="c")

    assert reduced.quantity == 6
    assert reduced.refundable_quantity is not None
    assert reduced.refundable_quantity.total_quantity == 6
    # Microsoft's two lines: the old 10 seats refunded (negative EffectiveUnitPrice), the new
    # total of 6 charged, both removeQuantity over the same dates.
    refund, charge = [
        x for x in await _unbilled(client) if x.charge_type == ChargeType.REMOVE_QUANTITY
    ]
    assert (refund.billable_quantity, charge.billable_quantity) == (10, 6)
    assert refund.effective_unit_price < 0 < charge.effective_unit_price
    assert refund.subtotal < 0 < charge.subtotal
    assert (refund.charge_start_date, refund.charge_end_date) == (
        charge.charge_start_date,
        charge.charge_end_date,
    )


async def test_seat_reduction_after_seven_days_is_rejected(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await admin.advance(days=8)

    with pytest.raises(PartnerCenterError) as caught:
        await client.change_quantity(customer_id, subscription_id, 9, correlation_id="c")

    assert caught.value.error_name == "SeatReductionWindowExpired"
    assert caught.value.retriable is False


async def test_added_seats_may_be_removed_within_seven_days_of_their_addition(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await admin.advance(days=10)
    grown = await client.change_quantity(customer_id, subscription_id, 15, correlation_id="c")
    assert grown.refundable_quantity is not None
    assert grown.refundable_quantity.total_quantity == 5
    await admin.advance(days=2)

    reduced = await client.change_quantity(customer_id, subscription_id, 12, correlation_id="c")
    assert reduced.quantity == 12
    with pytest.raises(PartnerCenterError) as caught:
        await client.change_quantity(customer_id, subscription_id, 9, correlation_id="c")

    assert caught.value.error_name == "SeatReductionWindowExpired"
    kinds = [line.charge_type for line in await _unbilled(client)]
    assert kinds == [
        ChargeType.NEW,
        *[ChargeType.ADD_QUANTITY] * 2,
        *[ChargeType.REMOVE_QUANTITY] * 2,
    ]


async def test_renewal_restarts_the_cancellation_window(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, _ = await place(quantity=3)
    customer_id, subscription_id = await _monthly_term(client, customer_id)
    await admin.advance(days=33)  # renewed on 10 Apr; now 12 Apr

    renewed = await client.get_subscription(customer_id, subscription_id, correlation_id="c")
    assert renewed.status == SubscriptionStatus.ACTIVE
    assert renewed.cancellation_allowed_until_date is not None
    assert renewed.cancellation_allowed_until_date.isoformat() == "2025-04-17T09:00:00+00:00"
    cancelled = await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")
    assert cancelled.status == SubscriptionStatus.DELETED
    kinds = {line.charge_type for line in await _unbilled(client)}
    assert {ChargeType.RENEW, ChargeType.CANCEL_IMMEDIATE} <= kinds


async def test_suspended_subscription_is_still_billed(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=4)
    suspended = await client.set_status(
        customer_id, subscription_id, SubscriptionStatus.SUSPENDED, correlation_id="c"
    )
    assert suspended.status == SubscriptionStatus.SUSPENDED
    await admin.advance(days=31)  # into the second monthly period of the annual term

    cycle = [x for x in await _unbilled(client) if x.charge_type == ChargeType.CYCLE_CHARGE]
    assert len(cycle) == 1
    assert cycle[0].subtotal == Decimal("24.00")
    active = await client.set_status(
        customer_id, subscription_id, SubscriptionStatus.ACTIVE, correlation_id="c"
    )
    assert active.status == SubscriptionStatus.ACTIVE


async def test_subscription_without_auto_renew_expires_at_term_end(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, _ = await place()
    customer_id, subscription_id = await _monthly_term(client, customer_id)
    await client.set_auto_renew(customer_id, subscription_id, False, correlation_id="c")
    await admin.advance(days=32)

    expired = await client.get_subscription(customer_id, subscription_id, correlation_id="c")

    assert expired.status == SubscriptionStatus.EXPIRED


async def test_suspending_a_deleted_subscription_is_refused(
    client: PartnerCenterClient, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place()
    await client.cancel_subscription(customer_id, subscription_id, correlation_id="c")

    with pytest.raises(PartnerCenterError) as caught:
        await client.set_status(
            customer_id, subscription_id, SubscriptionStatus.SUSPENDED, correlation_id="c"
        )

    assert caught.value.error_name == "SubscriptionNotModifiable"


async def _monthly_term(client: PartnerCenterClient, customer_id: str) -> tuple[str, str]:
    order = await client.place_order(
        customer_id,
        [nce_line(BASIC, 3, Term.P1M, BillingCycle.MONTHLY, RESELLER)],
        correlation_id="c",
        idempotency_key="monthly-term",
    )
    subscription_id = order.line_items[0].subscription_id
    assert subscription_id is not None
    return customer_id, subscription_id
