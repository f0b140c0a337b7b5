"""One valid instance of every Azure plan consumption event (test helper, not a test)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from hub.schemas.envelope import Event
from hub.schemas.events import consumption as u

_T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
_IDS = {
    "event_id": UUID("5c0e9a51-7d4f-4b1e-8a3c-2f9d6e1b7a40"),
    "event_time": _T0,
    "correlation_id": "usage-2025-03-13",
    "reseller_id": "contoso",
}
_FACT: dict[str, Any] = {
    "customer_id": "a1b2c3d4-tenant",
    "subscription_id": "azure-plan-1",
    "meter_id": "8d5f2c1e-0000-4a7b-9c3d-meter",
    "usage_date": date(2025, 3, 13),
}

BUILDERS: dict[str, Callable[[], Event]] = {
    "UsageRecorded": lambda: u.UsageRecorded(
        **_IDS,
        **_FACT,
        meter_name="D2s v5",
        meter_category="Virtual Machines",
        meter_sub_category="Dsv5 Series",
        meter_region="EU West",
        unit_of_measure="1 Hour",
        resource_group="web-prod",
        resource_location="westeurope",
        tags=(u.UsageTag(key="env", value="prod"),),
        charge_start_date=date(2025, 3, 1),
        charge_end_date=date(2025, 3, 31),
        stage="estimate",
        quantity="24.000000",
        unit_price="0.096",
        effective_unit_price="0.0912",
        pricing_currency="USD",
        pricing_pre_tax_total="2.1888",
        billing_currency="EUR",
        billing_pre_tax_total="2.013696",
        pc_to_bc_exchange_rate="0.92",
        pc_to_bc_exchange_rate_date=date(2025, 2, 28),
    ),
    "ConsumptionBudgetSet": lambda: u.ConsumptionBudgetSet(
        **_IDS, scope="customer", customer_id="a1b2c3d4-tenant", amount_minor=50_000, currency="EUR"
    ),
    "ConsumptionMarkupSet": lambda: u.ConsumptionMarkupSet(
        **_IDS, meter_category="Storage", markup_bps=-500
    ),
    "ConsumptionCloseRequested": lambda: u.ConsumptionCloseRequested(**_IDS, period="2025-03"),
    "ConsumptionCloseContinued": lambda: u.ConsumptionCloseContinued(
        **_IDS, run_event_id=str(_IDS["event_id"]), period="2025-03", after="x", pages=1
    ),
    "UsageRated": lambda: u.UsageRated(
        **_IDS,
        **_FACT,
        meter_category="Virtual Machines",
        period="2025-03",
        stage="final",
        revision=0,
        outcome="replaced",
        quantity="24",
        cost="2.013696",
        price="2.2150656",
        delta_minor=3,
        currency="EUR",
    ),
    "ConsumptionAccrued": lambda: u.ConsumptionAccrued(
        **_IDS, currency="EUR", delta_minor=221, period="2025-03", cause="usage"
    ),
    "ConsumptionAdjusted": lambda: u.ConsumptionAdjusted(
        **_IDS,
        **_FACT,
        meter_category="Virtual Machines",
        period="2025-02",
        amount="-0.42",
        currency="EUR",
        reason="meter reading corrected",
    ),
    "ConsumptionBudgetThresholdReached": lambda: u.ConsumptionBudgetThresholdReached(
        **_IDS,
        scope="reseller",
        period="2025-03",
        threshold_percent=80,
        budget_minor=100_000,
        spent_minor=80_412,
        currency="EUR",
    ),
    "ConsumptionAnomalyDetected": lambda: u.ConsumptionAnomalyDetected(
        **_IDS,
        customer_id="a1b2c3d4-tenant",
        usage_date=date(2025, 3, 13),
        day_minor=91_000,
        trailing_median_minor="2300",
        factor="3",
        currency="EUR",
    ),
    "UsageMismatchFound": lambda: u.UsageMismatchFound(
        **_IDS, **_FACT, kind="quantity_differs", expected="24", billed="26", invoice_number="G01"
    ),
    "ConsumptionCharged": lambda: u.ConsumptionCharged(
        **_IDS,
        line_id="cons-1",
        customer_id="a1b2c3d4-tenant",
        subscription_id="azure-plan-1",
        meter_category="Virtual Machines",
        period="2025-03",
        kind="usage",
        quantity="744",
        amount_minor=6_866,
        cost_minor=6_242,
        currency="EUR",
    ),
}
