"""Reconciliation lines: generated from what happened, paged, billed and unbilled."""

from __future__ import annotations

from decimal import Decimal

from conftest import RESELLER, basic_line, new_customer

from hub.connectors.partner_center import PartnerCenterClient
from hub.domain.enums import ChargeType
from hub.simulator.partner_center.admin import SimulatorAdmin


async def _five_orders(client: PartnerCenterClient) -> list[str]:
    subscription_ids = []
    for index in range(5):
        customer = await client.create_customer(new_customer(), correlation_id="c")
        assert customer.id is not None
        order = await client.place_order(
            customer.id,
            [basic_line(quantity=index + 1)],
            correlation_id="c",
            idempotency_key=f"o{index}",
        )
        subscription_ids.append(order.line_items[0].subscription_id or "")
    return subscription_ids


async def test_unbilled_lines_are_paged_and_every_line_returned(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    subscription_ids = await _five_orders(client)

    lines = [
        line
        async for line in client.unbilled_line_items(
            "USD", "current", correlation_id="c", page_size=2
        )
    ]

    assert [line.subscription_id for line in lines] == subscription_ids
    assert await admin.requests("unbilled_line_items") == 3
    first = lines[0]
    assert first.charge_type == ChargeType.NEW
    assert first.reseller_mpn_id == RESELLER
    assert first.partner_id == "5000000"
    assert first.unit_price == Decimal("6.00")
    assert first.term_and_billing_cycle == "1 Year - Monthly Billing"
    assert [line.subtotal for line in lines] == [Decimal(6 * n) for n in range(1, 6)]
    assert all(line.total == line.subtotal + line.tax_total for line in lines)


async def test_billed_invoice_lines_are_paged_after_the_month_closes(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    subscription_ids = await _five_orders(client)
    await admin.advance(days=25)  # into April
    previous = [
        line async for line in client.unbilled_line_items("USD", "previous", correlation_id="c")
    ]
    assert len(previous) == 5

    invoice = await admin.close_invoice()
    lines = [
        line async for line in client.billed_line_items(invoice.id, correlation_id="c", page_size=2)
    ]

    assert sorted(line.subscription_id for line in lines) == sorted(subscription_ids)
    assert {line.invoice_number for line in lines} == {invoice.id}
    assert invoice.total_charges == sum((line.total for line in lines), Decimal(0))
    invoices = await client.list_invoices(correlation_id="c")
    assert [i.id for i in invoices] == [invoice.id]
    after = [
        line async for line in client.unbilled_line_items("USD", "previous", correlation_id="c")
    ]
    assert after == []


async def test_injected_price_difference_shows_in_the_line(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    subscription_ids = await _five_orders(client)

    changed = await admin.set_line_price(
        Decimal("6.50"), subscription_id=subscription_ids[1], charge_type="new"
    )

    assert changed.subtotal == Decimal("13.00")
    lines = [
        line async for line in client.unbilled_line_items("USD", "current", correlation_id="c")
    ]
    by_subscription = {line.subscription_id: line for line in lines}
    assert by_subscription[subscription_ids[1]].unit_price == Decimal("6.50")
    assert by_subscription[subscription_ids[0]].unit_price == Decimal("6.00")


async def test_other_currency_has_no_unbilled_lines(client: PartnerCenterClient) -> None:
    await _five_orders(client)

    lines = [
        line async for line in client.unbilled_line_items("EUR", "current", correlation_id="c")
    ]

    assert lines == []
