"""The Graph async v2 export of billed reconciliation ("Billed invoice reconciliation API v2"):
request, poll the operation, download the blobs; v1 pages for periods up to March 2025."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from conftest import TOKEN, PlaceOrder

from hub.commands.billing import fetch_lines
from hub.connectors.partner_center import PartnerCenterClient
from hub.connectors.partner_center.client import uses_v2_export
from hub.connectors.partner_center.models import ExportStatus, Invoice
from hub.errors import ValidationFailed
from hub.settings import Settings
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.server import SimulatorHandle


def _invoice(issued: datetime) -> Invoice:
    return Invoice(id="G1", invoice_date=issued, currency_code="USD", total_charges=Decimal(0))


def test_periods_after_march_2025_use_the_v2_export_and_older_ones_v1() -> None:
    assert not uses_v2_export(_invoice(datetime(2025, 4, 6, tzinfo=UTC)))  # bills March
    assert uses_v2_export(_invoice(datetime(2025, 5, 6, tzinfo=UTC)))  # bills April
    assert not uses_v2_export(_invoice(datetime(2025, 1, 7, tzinfo=UTC)))  # bills December


async def test_export_is_requested_polled_and_its_blobs_read_as_the_v1_lines(
    client: PartnerCenterClient,
    admin: SimulatorAdmin,
    place: PlaceOrder,
    sleeps: list[float],
) -> None:
    _, subscription_id = await place(quantity=4)
    await admin.advance(days=25)  # into April: March closes
    invoice = await admin.close_invoice()

    manifest = await client.request_billed_export(invoice.id, correlation_id="c")
    assert manifest.data_format == "compressedJSONLines"
    assert manifest.blob_count == len(manifest.blobs) == 1
    assert "sig=" in manifest.sas_token

    v2 = [ln async for ln in client.export_billed_reconciliation(invoice.id, correlation_id="c")]
    v1 = [ln async for ln in client.billed_line_items(invoice.id, correlation_id="c")]
    assert v2 == v1
    assert v2[0].subscription_id == subscription_id
    # The operation answered "running" once per export before it succeeded.
    assert await admin.requests("get_export_operation") == 4
    assert 1.0 in sleeps  # Retry-After of the running operation


async def test_billed_lines_take_the_export_for_an_invoice_after_march_2025(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    await place(quantity=2)
    await admin.advance(days=25)
    invoice = await admin.close_invoice()  # issued April 2025: v1
    lines = [ln async for ln in client.billed_lines(invoice, correlation_id="c")]
    assert await admin.requests("export_billed_reconciliation") == 0
    later = invoice.model_copy(update={"invoice_date": datetime(2025, 6, 6, tzinfo=UTC)})
    assert [ln async for ln in client.billed_lines(later, correlation_id="c")] == lines
    assert await admin.requests("export_billed_reconciliation") == 1


async def test_a_blob_is_refused_without_its_signature(
    client: PartnerCenterClient, admin: SimulatorAdmin, place: PlaceOrder, sim: SimulatorHandle
) -> None:
    import aiohttp

    await place(quantity=1)
    await admin.advance(days=25)
    invoice = await admin.close_invoice()
    manifest = await client.request_billed_export(invoice.id, correlation_id="c")
    url = manifest.blob_urls()[0]
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as ok:
            assert ok.status == 200
        async with session.get(url.split("?")[0] + "?sig=forged") as forged:
            assert forged.status == 403


async def test_an_unknown_invoice_is_not_exported(
    make_client: Callable[..., PartnerCenterClient],
) -> None:
    import pytest

    from hub.connectors.partner_center import PartnerCenterError

    async with make_client(max_attempts=1) as pc:
        with pytest.raises(PartnerCenterError) as caught:
            await pc.request_billed_export("G-missing", correlation_id="c")
    assert caught.value.status == 404
    assert ExportStatus.SUCCEEDED.value == "succeeded"


async def test_hub_billing_reconcile_with_an_invoice_reads_it_through_its_periods_source(
    sim: SimulatorHandle, admin: SimulatorAdmin, place: PlaceOrder
) -> None:
    """`hub billing reconcile --invoice` (fetch_lines) picks the source by the invoice's period
    and names the partner's invoices when the id is not one of them."""
    _, subscription_id = await place(quantity=3)
    await admin.advance(days=25)
    invoice = await admin.close_invoice()
    settings = Settings(partner_center_url=sim.url, partner_center_token=TOKEN)  # type: ignore[arg-type]
    lines = await fetch_lines(settings, invoice.id)
    assert [ln.subscription_id for ln in lines] == [subscription_id]
    with pytest.raises(ValidationFailed, match=f"latest: {invoice.id}"):
        await fetch_lines(settings, "G-NOT-THERE")
