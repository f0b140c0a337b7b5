"""Orders through the adapter against the simulator: partner of record, idempotency, errors."""

from __future__ import annotations

import pytest
from conftest import BASIC, RESELLER, PlaceOrder, basic_line, new_customer
from prometheus_client import CollectorRegistry

from hub.connectors.partner_center import (
    PartnerCenterClient,
    PartnerCenterConfig,
    PartnerCenterError,
    nce_line,
)
from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.errors import ExternalServiceError
from hub.settings import load_settings
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind, LostResponseMode
from hub.simulator.partner_center.server import SimulatorHandle


async def test_customer_is_created_for_the_indirect_reseller(client: PartnerCenterClient) -> None:
    created = await client.create_customer(new_customer(), correlation_id="c1")
    assert created.id
    assert created.associated_partner_id == RESELLER
    fetched = await client.get_customer(created.id, correlation_id="c1")
    assert fetched.billing_profile.company_name == "Contoso GmbH"


async def test_order_yields_active_subscription_with_reseller_as_partner_on_record(
    client: PartnerCenterClient, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=12)

    subscription = await client.get_subscription(customer_id, subscription_id, correlation_id="c")
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.partner_id == RESELLER
    assert subscription.quantity == 12
    assert subscription.offer_id == BASIC
    assert subscription.cancellation_allowed_until_date is not None
    assert (subscription.cancellation_allowed_until_date - subscription.creation_date).days == 7
    assert subscription.refundable_quantity is not None
    assert subscription.refundable_quantity.total_quantity == 12
    order = await client.get_order(customer_id, subscription.order_id, correlation_id="c")
    assert order.status == "completed"
    assert order.line_items[0].partner_id_on_record == RESELLER
    listed = await client.list_subscriptions(customer_id, correlation_id="c")
    assert [s.id for s in listed] == [subscription_id]


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        (LostResponseMode.DROP, "connection_error"),
        (LostResponseMode.SERVICE_UNAVAILABLE, "server_error"),
    ],
)
async def test_lost_checkout_response_leaves_exactly_one_order_and_subscription(
    client: PartnerCenterClient,
    admin: SimulatorAdmin,
    registry: CollectorRegistry,
    mode: LostResponseMode,
    outcome: str,
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    await admin.inject(Fault(kind=FaultKind.LOSE_RESPONSE, operation="checkout", mode=mode))

    order = await client.place_order(
        customer.id, [basic_line()], correlation_id="c", idempotency_key="order-42"
    )

    state = await admin.state()
    assert state["requests"]["checkout"] == 2
    assert state["orders"] == 1
    assert state["subscriptions"] == 1
    checkouts = [r for r in state["recentRequests"] if r["operation"] == "checkout"]
    assert {r["idempotencyKey"] for r in checkouts} == {"order-42"}
    assert len({r["requestId"] for r in checkouts}) == 1
    subscriptions = await client.list_subscriptions(customer.id, correlation_id="c")
    assert [s.order_id for s in subscriptions] == [order.id]
    lost = registry.get_sample_value(
        "hub_partner_center_requests_total", {"operation": "checkout", "outcome": outcome}
    )
    assert lost == 1


async def test_placing_the_same_order_again_returns_the_first_order(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    first = await client.place_order(
        customer.id, [basic_line()], correlation_id="c", idempotency_key="order-7"
    )
    again = await client.place_order(
        customer.id, [basic_line()], correlation_id="c", idempotency_key="order-7"
    )

    assert again.id == first.id
    state = await admin.state()
    assert (state["orders"], state["subscriptions"], state["carts"]) == (1, 1, 1)
    found = await client.find_order_by_idempotency_key(customer.id, "order-7", correlation_id="c")
    assert found is not None
    assert found.id == first.id


async def test_unknown_catalog_item_fails_permanently_with_partner_center_code(
    client: PartnerCenterClient, admin: SimulatorAdmin, registry: CollectorRegistry
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    line = nce_line("NOPE:0001:NOPE", 1, Term.P1Y, BillingCycle.MONTHLY, RESELLER)

    with pytest.raises(ExternalServiceError) as caught:
        await client.place_order(customer.id, [line], correlation_id="c", idempotency_key="o-x")

    error = caught.value
    assert isinstance(error, PartnerCenterError)
    assert error.retriable is False
    assert error.service == "partner_center"
    assert error.status == 400
    assert error.code == "10001"
    assert error.error_name == "CatalogItemIdIsNotValid"
    assert "NOPE:0001:NOPE" in (error.description or "")
    assert await admin.requests("create_cart") == 1
    errors = registry.get_sample_value(
        "hub_partner_center_errors_total", {"operation": "create_cart", "code": "10001"}
    )
    assert errors == 1


async def test_order_without_reseller_participant_is_refused(
    client: PartnerCenterClient,
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    line = basic_line().model_copy(update={"participants": []})

    with pytest.raises(PartnerCenterError) as caught:
        await client.place_order(customer.id, [line], correlation_id="c", idempotency_key="o-y")

    assert caught.value.error_name == "PartnerOnRecordRequired"
    assert caught.value.retriable is False


async def test_quantity_over_the_offer_limit_is_quota_not_available(
    client: PartnerCenterClient,
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None

    with pytest.raises(PartnerCenterError) as caught:
        await client.place_order(
            customer.id, [basic_line(quantity=301)], correlation_id="c", idempotency_key="o-z"
        )

    assert caught.value.code == "10002"


async def test_lookup_ignores_orders_that_do_not_carry_the_key(
    client: PartnerCenterClient, sim: SimulatorHandle
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    await client.place_order(customer.id, [basic_line()], correlation_id="c", idempotency_key="a")
    # As real Partner Center would answer: an order listed, but without our key on it.
    for record in sim.simulator.state.orders.values():
        record.order.attributes.clear()

    found = await client.find_order_by_idempotency_key(customer.id, "a", correlation_id="c")

    assert found is None


async def test_unknown_customer_is_not_found_and_not_retried(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    with pytest.raises(PartnerCenterError) as caught:
        await client.get_customer("no-such-customer", correlation_id="c")

    assert caught.value.status == 404
    assert caught.value.retriable is False
    assert await admin.requests("get_customer") == 1


def test_config_comes_from_hub_settings() -> None:
    settings = load_settings(partner_center_url="http://pc.local", partner_center_max_attempts=3)

    config = PartnerCenterConfig.from_settings(settings)

    assert config.base_url == "http://pc.local"
    assert config.max_attempts == 3
    assert config.token.get_secret_value() == settings.partner_center_token.get_secret_value()
