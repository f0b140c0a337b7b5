"""The simulator's reconciliation lines in Microsoft's shapes: seat changes as two lines, a
second (pricing) currency with PCToBCExchangeRate, and customerCredit lines."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from conftest import TOKEN, PlaceOrder, basic_line, new_customer
from pydantic import SecretStr

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.connectors.partner_center.models import InvoiceLineItem
from hub.domain.enums import ChargeType
from hub.domain.reconciliation import line_cost
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.server import PartnerCenterSimulator, serve


async def _lines(client: PartnerCenterClient) -> list[InvoiceLineItem]:
    return [ln async for ln in client.unbilled_line_items("USD", "current", correlation_id="c")]


async def test_seat_increase_is_the_old_quantity_refunded_and_the_new_total_charged(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    customer_id, subscription_id = await place(quantity=10)
    await admin.advance(days=5)
    await client.change_quantity(customer_id, subscription_id, 12, correlation_id="c")
    refund, charge = [ln for ln in await _lines(client) if ln.charge_type == "addQuantity"]
    assert (refund.billable_quantity, charge.billable_quantity) == (10, 12)
    assert refund.effective_unit_price == -charge.effective_unit_price
    assert refund.charge_start_date == charge.charge_start_date
    assert refund.charge_end_date == charge.charge_end_date
    for ln in (refund, charge):
        expected = line_cost(ln.effective_unit_price, ln.billable_quantity, ln.currency)
        assert ln.subtotal == Decimal(expected) / 100


async def test_a_currency_priced_in_another_carries_the_exchange_rate(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    """USD billing priced in EUR at 1.25: the 6.00 USD seat is 4.80 EUR x 1.25."""
    await admin.set_exchange_rate("USD", "EUR", Decimal("1.25"))
    customer_id, subscription_id = await place(quantity=3)
    await admin.advance(days=10)
    await client.change_quantity(customer_id, subscription_id, 4, correlation_id="c")
    new, *changes = await _lines(client)
    assert (new.pricing_currency, new.currency) == ("EUR", "USD")
    assert new.pc_to_bc_exchange_rate == Decimal("1.25")
    assert new.unit_price == new.effective_unit_price == Decimal("4.80")
    assert new.subtotal == Decimal("18.00")
    for ln in changes:
        cost = line_cost(
            ln.effective_unit_price,
            ln.billable_quantity,
            ln.currency,
            exchange_rate=ln.pc_to_bc_exchange_rate,
        )
        assert ln.subtotal == Decimal(cost) / 100


async def test_microsoft_credit_is_a_negative_customer_credit_line_posted_once(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    _, subscription_id = await place(quantity=2)
    posted = await admin.credit(subscription_id, Decimal("1.50"), key="EX25194")
    again = await admin.credit(subscription_id, Decimal("1.50"), key="EX25194")
    assert posted.reference_id == again.reference_id
    (credit,) = [ln for ln in await _lines(client) if ln.charge_type == "customerCredit"]
    assert credit.charge_type is ChargeType.CUSTOMER_CREDIT
    assert (credit.subtotal, credit.total) == (Decimal("-1.50"), Decimal("-1.50"))
    assert credit.credit_reason_code == "Service level agreement credit"
    assert credit.subscription_id == subscription_id


async def test_monthly_cycles_of_a_purchase_on_the_30th_follow_microsofts_table() -> None:
    """Bought 30 January: cycles start 27 February and 30 March (Jan30-Feb26, Feb27-Mar29)."""
    start = datetime(2025, 1, 30, 9, 0, tzinfo=UTC)
    handle = await serve("127.0.0.1", 0, simulator=PartnerCenterSimulator(start=start, token=TOKEN))
    try:
        config = PartnerCenterConfig(base_url=handle.url, token=SecretStr(TOKEN))
        async with PartnerCenterClient(config) as pc, SimulatorAdmin(handle.url) as admin:
            customer = await pc.create_customer(new_customer(), correlation_id="c")
            assert customer.id is not None
            await pc.place_order(
                customer.id, [basic_line(2)], correlation_id="c", idempotency_key="k"
            )
            await admin.advance(days=60)  # 31 March
        lines = [line.render() for line in handle.simulator.state.ledger.lines]
    finally:
        await handle.close()
    starts = sorted(ln.charge_start_date.date().isoformat() for ln in lines)
    assert starts == ["2025-01-30", "2025-02-27", "2025-03-30"]
