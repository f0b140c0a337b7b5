"""Fixtures: a Partner Center simulator on a free 127.0.0.1 port and a client pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig, nce_line
from hub.connectors.partner_center.models import Address, BillingProfile, CompanyProfile, Customer
from hub.domain.enums import BillingCycle, Term
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.server import PartnerCenterSimulator, SimulatorHandle, serve

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
TOKEN = "sim-token"
RESELLER = "4812345"
BASIC = "CFQ7TTC0LH18:0001:CFQ7TTC0K5DL"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await serve("127.0.0.1", 0, simulator=PartnerCenterSimulator(start=START, token=TOKEN))
    yield handle
    await handle.close()


@pytest.fixture
async def admin(sim: SimulatorHandle) -> AsyncIterator[SimulatorAdmin]:
    async with SimulatorAdmin(sim.url) as client:
        yield client


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(
    sim: SimulatorHandle, registry: CollectorRegistry, sleeps: list[float]
) -> Callable[..., PartnerCenterClient]:
    """A client whose backoff sleeps are recorded (and skipped) so retries run fast."""

    async def recording_sleep(delay: float) -> None:
        sleeps.append(delay)
        await asyncio.sleep(0)

    def build(**overrides: object) -> PartnerCenterClient:
        options: dict[str, object] = {
            "base_url": sim.url,
            "token": SecretStr(TOKEN),
            "timeout_s": 2.0,
            "max_attempts": 5,
            "backoff_base_s": 0.01,
            "backoff_cap_s": 0.1,
        }
        options.update(overrides)
        config = PartnerCenterConfig.model_validate(options)
        return PartnerCenterClient(config, registry=registry, sleep=recording_sleep)

    return build


@pytest.fixture
async def client(
    make_client: Callable[..., PartnerCenterClient],
) -> AsyncIterator[PartnerCenterClient]:
    async with make_client() as pc:
        yield pc


def new_customer(reseller: str = RESELLER) -> Customer:
    return Customer(
        company_profile=CompanyProfile(domain="contoso-sim.onmicrosoft.com"),
        billing_profile=BillingProfile(
            company_name="Contoso GmbH",
            email="it@contoso.example",
            culture="de-DE",
            language="de",
            default_address=Address(country="DE", city="Berlin", postal_code="10115"),
        ),
        associated_partner_id=reseller,
    )


def basic_line(quantity: int = 10, cycle: BillingCycle = BillingCycle.MONTHLY):
    return nce_line(BASIC, quantity, Term.P1Y, cycle, RESELLER)


PlaceOrder = Callable[..., Awaitable[tuple[str, str]]]


@pytest.fixture
def place(client: PartnerCenterClient) -> PlaceOrder:
    """Create a customer and order ``quantity`` seats; return (customer id, subscription id)."""

    async def run(quantity: int = 10, key: str = "order-1", **line: object) -> tuple[str, str]:
        customer = await client.create_customer(new_customer(), correlation_id="corr-setup")
        assert customer.id is not None
        order = await client.place_order(
            customer.id,
            [basic_line(quantity, **line)],  # type: ignore[arg-type]
            correlation_id="corr-setup",
            idempotency_key=key,
        )
        subscription_id = order.line_items[0].subscription_id
        assert subscription_id is not None
        return customer.id, subscription_id

    return run
