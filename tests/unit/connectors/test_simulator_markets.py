"""The simulator bills each customer in its market's currency, at the reference file's prices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from conftest import BASIC, RESELLER, START, TOKEN, basic_line, new_customer

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterError
from hub.connectors.partner_center.models import Address, Cart, Customer, InvoiceLineItem
from hub.connectors.reference_files import load_reference_file
from hub.ops.paths import ops_dir
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.catalog import SAMPLE_CATALOG, catalog_from_reference
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.markets import MARKET_CURRENCIES, market_currency
from hub.simulator.partner_center.server import PartnerCenterSimulator, SimulatorHandle, serve


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    """Overrides conftest's: market currencies, priced from the hub's sample reference file."""
    catalog = catalog_from_reference(load_reference_file(ops_dir() / "sample" / "reference.yaml"))
    simulator = PartnerCenterSimulator(start=START, token=TOKEN, catalog=catalog, currency=None)
    handle = await serve("127.0.0.1", 0, simulator=simulator)
    yield handle
    await handle.close()


def customer_in(country: str) -> Customer:
    base = new_customer()
    address = Address(country=country)
    profile = base.billing_profile.model_copy(update={"default_address": address})
    return base.model_copy(update={"billing_profile": profile})


async def buy(client: PartnerCenterClient, country: str, quantity: int = 10) -> tuple[str, str]:
    """Order ``quantity`` Business Basic seats (P1Y monthly) for a new customer in ``country``;
    return (subscription id, the order's currency)."""
    customer = await client.create_customer(customer_in(country), correlation_id="c")
    assert customer.id is not None
    order = await client.place_order(
        customer.id, [basic_line(quantity)], correlation_id="c", idempotency_key=customer.id
    )
    assert order.line_items[0].subscription_id is not None
    return order.line_items[0].subscription_id, order.currency_code


async def unbilled(
    client: PartnerCenterClient, currency: str, period: str = "current"
) -> list[InvoiceLineItem]:
    return [line async for line in client.unbilled_line_items(currency, period, correlation_id="c")]


async def test_a_german_customer_is_billed_in_euros_at_the_reference_price(
    client: PartnerCenterClient,
) -> None:
    subscription_id, order_currency = await buy(client, "DE", quantity=10)

    (line,) = await unbilled(client, "EUR")

    assert order_currency == "EUR"
    assert line.subscription_id == subscription_id
    assert line.customer_country == "DE"
    assert (line.currency, line.pricing_currency) == ("EUR", "EUR")
    assert line.unit_price == Decimal("5.64")  # unit_cost_minor 564 in the reference file
    assert line.subtotal == Decimal("56.40")
    assert line.reseller_mpn_id == RESELLER
    assert await unbilled(client, "USD") == []


async def test_a_us_customer_in_the_same_simulator_is_billed_in_dollars(
    client: PartnerCenterClient,
) -> None:
    german, _ = await buy(client, "DE", quantity=10)
    american, order_currency = await buy(client, "US", quantity=10)

    (dollar_line,) = await unbilled(client, "USD")
    (euro_line,) = await unbilled(client, "EUR")

    assert order_currency == "USD"
    assert (dollar_line.subscription_id, euro_line.subscription_id) == (american, german)
    assert (dollar_line.currency, dollar_line.unit_price) == ("USD", Decimal("6.00"))
    assert dollar_line.subtotal == Decimal("60.00")


async def test_a_yen_customer_is_billed_in_whole_yen(client: PartnerCenterClient) -> None:
    await buy(client, "JP", quantity=10)

    (line,) = await unbilled(client, "JPY")

    assert (line.unit_price, line.subtotal) == (Decimal(900), Decimal(9000))


async def test_a_customer_in_an_unknown_market_is_refused_with_a_clear_400(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    with pytest.raises(PartnerCenterError) as caught:
        await client.create_customer(customer_in("XX"), correlation_id="c")

    error = caught.value
    assert error.status == 400
    assert error.retriable is False
    assert "'XX' is not a market" in (error.description or "")
    assert (await admin.state())["customers"] == 0


async def test_closing_the_month_gives_one_invoice_per_currency(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    await buy(client, "DE")
    await buy(client, "FR")
    await buy(client, "US")
    await buy(client, "JP")
    await admin.advance(days=25)  # into April: March's lines are due

    invoices = await admin.close_invoices()

    assert [invoice.currency_code for invoice in invoices] == ["EUR", "JPY", "USD"]
    assert len({invoice.id for invoice in invoices}) == 3
    for invoice in invoices:
        lines = [line async for line in client.billed_line_items(invoice.id, correlation_id="c")]
        assert {line.currency for line in lines} == {invoice.currency_code}
        assert {line.invoice_number for line in lines} == {invoice.id}
        assert invoice.total_charges == sum((line.total for line in lines), Decimal(0))
    by_currency = {invoice.currency_code: invoice.total_charges for invoice in invoices}
    assert by_currency == {"EUR": Decimal("112.80"), "JPY": Decimal(9000), "USD": Decimal(60)}
    for currency in ("EUR", "JPY", "USD"):
        assert await unbilled(client, currency, "previous") == []


async def test_closing_one_invoice_when_there_are_several_currencies_is_refused(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    await buy(client, "DE")
    await buy(client, "GB")
    await admin.advance(days=25)

    with pytest.raises(RuntimeError, match="one invoice per currency"):
        await admin.close_invoice()


async def test_an_offer_not_priced_in_the_customers_currency_cannot_be_ordered() -> None:
    simulator = PartnerCenterSimulator(start=START, catalog=SAMPLE_CATALOG, currency=None)
    customer = simulator.state.create_customer(customer_in("DE"), key=None)
    assert customer.id is not None

    with pytest.raises(SimError) as caught:
        simulator.state.create_cart(customer.id, Cart(line_items=[basic_line()]), key=None)

    assert caught.value.status == 400
    assert f"{BASIC} is not sold as P1Y billed monthly in EUR" in caught.value.description


def test_a_fixed_currency_bills_every_market_in_it() -> None:
    simulator = PartnerCenterSimulator(start=START, currency="EUR")

    customer = simulator.state.create_customer(customer_in("US"), key=None)

    assert customer.id is not None
    assert simulator.state.billing_currency(customer.id) == "EUR"


@pytest.mark.parametrize(("country", "currency"), [("DE", "EUR"), ("nl", "EUR"), ("GB", "GBP")])
def test_a_market_decides_the_currency(country: str, currency: str) -> None:
    assert market_currency(country) == currency


def test_every_market_currency_is_one_the_hub_knows() -> None:
    for country in MARKET_CURRENCIES:
        market_currency(country)  # raises on a currency without a known exponent
