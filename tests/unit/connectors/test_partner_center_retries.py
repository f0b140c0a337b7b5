"""Transport behaviour: retries on 429/5xx/timeouts/409, bounded attempts, headers, metrics."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import PlaceOrder, new_customer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.errors import ExternalServiceError
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind


async def test_throttling_storm_is_retried_after_retry_after_and_counted(
    client: PartnerCenterClient,
    admin: SimulatorAdmin,
    registry: CollectorRegistry,
    sleeps: list[float],
) -> None:
    await admin.inject(
        Fault(kind=FaultKind.THROTTLE, count=3, operation="create_customer", retry_after=2)
    )

    created = await client.create_customer(new_customer(), correlation_id="c")

    assert created.id
    assert await admin.requests("create_customer") == 4
    assert len(sleeps) == 3
    assert all(delay >= 2 for delay in sleeps)
    labels = {"operation": "create_customer"}
    assert registry.get_sample_value("hub_partner_center_throttled_total", labels) == 3
    outcomes = {
        outcome: registry.get_sample_value(
            "hub_partner_center_requests_total", {**labels, "outcome": outcome}
        )
        for outcome in ("throttled", "success")
    }
    assert outcomes == {"throttled": 3, "success": 1}
    assert (await admin.state())["customers"] == 1


async def test_server_error_burst_is_retried_until_success(
    client: PartnerCenterClient, admin: SimulatorAdmin, sleeps: list[float]
) -> None:
    await admin.inject(Fault(kind=FaultKind.SERVER_ERROR, count=2, status=500))

    created = await client.create_customer(new_customer(), correlation_id="c")

    assert created.id
    assert await admin.requests("create_customer") == 3
    assert len(sleeps) == 2
    assert all(0 <= delay <= 0.1 for delay in sleeps)


async def test_timeout_is_retried(
    make_client: Callable[..., PartnerCenterClient],
    admin: SimulatorAdmin,
    registry: CollectorRegistry,
) -> None:
    await admin.inject(Fault(kind=FaultKind.TIMEOUT, count=1, seconds=5))

    async with make_client(timeout_s=1.0) as client:
        created = await client.create_customer(new_customer(), correlation_id="c")

    assert created.id
    assert await admin.requests("create_customer") == 2
    timeouts = registry.get_sample_value(
        "hub_partner_center_requests_total",
        {"operation": "create_customer", "outcome": "timeout"},
    )
    assert timeouts == 1


async def test_attempts_are_bounded_by_max_attempts(
    make_client: Callable[..., PartnerCenterClient], admin: SimulatorAdmin, sleeps: list[float]
) -> None:
    await admin.inject(Fault(kind=FaultKind.SERVER_ERROR, count=10))

    async with make_client(max_attempts=3) as client:
        with pytest.raises(ExternalServiceError) as caught:
            await client.create_customer(new_customer(), correlation_id="c")

    assert caught.value.retriable is True
    assert caught.value.status == 503
    assert await admin.requests("create_customer") == 3
    assert len(sleeps) == 2


async def test_long_retry_after_is_handed_back_instead_of_slept(
    make_client: Callable[..., PartnerCenterClient], admin: SimulatorAdmin, sleeps: list[float]
) -> None:
    await admin.inject(Fault(kind=FaultKind.THROTTLE, retry_after=120))

    async with make_client(max_inline_wait_s=30) as client:
        with pytest.raises(ExternalServiceError) as caught:
            await client.create_customer(new_customer(), correlation_id="c")

    assert caught.value.retriable is True
    assert caught.value.retry_after == 120
    assert sleeps == []


async def test_wrong_token_is_refused_without_retry(
    make_client: Callable[..., PartnerCenterClient], admin: SimulatorAdmin
) -> None:
    async with make_client(token=SecretStr("wrong")) as client:
        with pytest.raises(ExternalServiceError) as caught:
            await client.create_customer(new_customer(), correlation_id="c")

    assert caught.value.status == 401
    assert caught.value.retriable is False
    assert await admin.requests("create_customer") == 1


async def test_every_call_carries_request_and_correlation_ids(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    await admin.inject(Fault(kind=FaultKind.SERVER_ERROR, count=1, operation="get_customer"))
    created = await client.create_customer(new_customer(), correlation_id="corr-A")
    assert created.id is not None

    await client.get_customer(created.id, correlation_id="corr-B")
    await client.get_customer(created.id, correlation_id="corr-C")

    recent = (await admin.state())["recentRequests"]
    assert [r["correlationId"] for r in recent] == ["corr-A", "corr-B", "corr-B", "corr-C"]
    assert all(r["requestId"] for r in recent)
    # A retry repeats its request id; a new call gets a new one.
    assert recent[1]["requestId"] == recent[2]["requestId"]
    assert recent[2]["requestId"] != recent[3]["requestId"]


async def test_conflict_during_renewal_is_retried(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=5)
    await admin.inject(Fault(kind=FaultKind.CONFLICT, count=2, operation="update_subscription"))

    updated = await client.change_quantity(customer_id, subscription_id, 8, correlation_id="c")

    assert updated.quantity == 8
    assert await admin.requests("update_subscription") == 3


async def test_accepted_patch_is_followed_to_its_location(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=5)
    await admin.inject(Fault(kind=FaultKind.ACCEPTED, operation="update_subscription"))

    updated = await client.set_auto_renew(customer_id, subscription_id, False, correlation_id="c")

    assert updated.auto_renew_enabled is False
    assert await admin.requests("get_subscription") == 1


def test_token_never_appears_in_config_text() -> None:
    config = PartnerCenterConfig(base_url="http://x", token=SecretStr("s3cr3t-value"))
    assert "s3cr3t-value" not in repr(config)
    assert "s3cr3t-value" not in str(config.model_dump())
