"""Azure plan daily rated usage through the real client against the simulator: shapes, paging
over continuation links, the 24 h+ lag, billed figures that differ, and injected faults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from hub.connectors.partner_center import PartnerCenterClient
from hub.connectors.partner_center.errors import PartnerCenterError
from hub.connectors.partner_center.usage_ingest import UsageSource, pull_usage
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind
from hub.simulator.partner_center.usage import UsagePlan

# The connectors' simulator starts on 2025-03-10 09:00 UTC (conftest.START).
PLAN = UsagePlan.model_validate(
    {
        "start": "2025-03-01",
        "subscriptions": [
            {"customer_id": "cust-a", "subscription_id": "sub-a", "reseller_mpn_id": "4812345"},
            {
                "customer_id": "cust-b",
                "subscription_id": "sub-b",
                "reseller_mpn_id": "4899999",
                "meters": 3,
            },
        ],
        "spikes": [{"subscription_id": "sub-a", "day": "2025-03-05", "factor": "8"}],
        "differences": [
            {"subscription_id": "sub-a", "meter": 0, "day": "2025-03-02", "factor": "1.5"}
        ],
        "billing_currency": "EUR",
        "pc_to_bc_exchange_rate": "0.92",
    }
)
MPN = {"4812345": "contoso"}


async def plan(admin: SimulatorAdmin) -> None:
    await admin._call("POST", "/admin/usage", PLAN.model_dump(mode="json"))


async def test_unbilled_usage_pages_through_continuations_and_lags_a_day(
    admin: SimulatorAdmin, client: PartnerCenterClient
) -> None:
    await plan(admin)
    lines = [
        item
        async for item in client.unbilled_usage_line_items(
            "EUR", "current", correlation_id="c", page_size=7
        )
    ]
    # 2025-03-10 09:00 minus 30 h of lag: days up to 2025-03-08 are reported.
    days = sorted({item.usage_date for item in lines})
    assert days[0] == date(2025, 3, 1)
    assert days[-1] == date(2025, 3, 8)
    assert len(lines) == 8 * (20 + 3)
    vm = next(
        i for i in lines if i.subscription_id == "sub-a" and i.meter_category == "Virtual Machines"
    )
    assert vm.pricing_currency == "USD"
    assert vm.billing_currency == "EUR"
    assert vm.billing_pre_tax_total == (vm.pricing_pre_tax_total * Decimal("0.92")).quantize(
        Decimal("0.000001")
    )
    assert vm.tags == {"env": "prod", "costCenter": "cust-a"}
    assert vm.resource_group == "rg-prod"
    assert isinstance(vm.quantity, Decimal)
    spike = [i for i in lines if i.subscription_id == "sub-a" and i.meter_id == vm.meter_id]
    by_day = {i.usage_date: i.quantity for i in spike}
    assert by_day[date(2025, 3, 5)] > 5 * by_day[date(2025, 3, 4)]


async def test_ingestion_maps_resellers_and_billed_figures_are_final_and_may_differ(
    admin: SimulatorAdmin, client: PartnerCenterClient
) -> None:
    await plan(admin)
    now = datetime(2025, 3, 10, 9, tzinfo=UTC)
    estimates = await pull_usage(
        client, MPN, UsageSource(currency="EUR", day=date(2025, 3, 2)), now=now, correlation_id="c"
    )
    assert {e.usage_date for e in estimates.events} == {date(2025, 3, 2)}
    assert {e.stage for e in estimates.events} == {"estimate"}
    assert {e.reseller_id for e in estimates.events} == {"contoso"}
    assert estimates.unknown_resellers == {"4899999": 3}
    await admin.advance(days=25)
    billed = await pull_usage(
        client,
        MPN,
        UsageSource(invoice_id="U-2025-03", day=date(2025, 3, 2)),
        now=now + timedelta(days=25),
        correlation_id="c",
    )
    assert {e.stage for e in billed.events} == {"final"}
    assert {e.invoice_number for e in billed.events} == {"U-2025-03"}
    est = {(e.meter_id): e.quantity for e in estimates.events}
    changed = [e for e in billed.events if e.quantity != est[e.meter_id]]
    assert len(changed) == 1
    expected = Decimal(est[changed[0].meter_id]) * Decimal("1.5")
    assert abs(Decimal(changed[0].quantity) - expected) <= Decimal("0.000001")


async def test_a_month_not_yet_billed_is_not_found_and_throttling_is_retried(
    admin: SimulatorAdmin, client: PartnerCenterClient, sleeps: list[float]
) -> None:
    await plan(admin)
    await admin.inject(Fault(kind=FaultKind.THROTTLE, count=2, operation="unbilled_line_items"))
    lines = [
        i async for i in client.unbilled_usage_line_items("EUR", "current", correlation_id="c")
    ]
    assert lines
    assert len(sleeps) >= 2
    with pytest.raises(PartnerCenterError, match="not billed yet"):
        _ = [i async for i in client.billed_usage_line_items("U-2025-03", correlation_id="c")]
