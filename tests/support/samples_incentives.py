"""One valid instance of every sales incentive event (test helper, not a test)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hub.schemas.envelope import Event
from hub.schemas.events import incentives as i

_T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
_IDS: dict[str, Any] = {
    "event_id": UUID("7d2c4e61-3a5b-4c8d-9e0f-1a2b3c4d5e6f"),
    "event_time": _T0,
    "correlation_id": "incentives-2025-03",
}
PLAN: dict[str, Any] = {
    "plan_id": "rebate-contoso",
    "payee": "contoso",
    "kind": "rebate",
    "resellers": ["contoso"],
    "currency": "EUR",
    "families": {"CFQ7TTC0LH18": "modern-work"},
    "effective_from": "2025-01",
    "tiers": [
        {"name": "base", "from_measure": 0, "rates_bps": {"*": 200}},
        {"name": "gold", "from_measure": 1_000_000, "rates_bps": {"*": 400}},
    ],
}

BUILDERS: dict[str, Callable[[], Event]] = {
    "IncentivePlanSet": lambda: i.IncentivePlanSet(
        **_IDS, plan_id="rebate-contoso", payee="contoso", plan_json=json.dumps(PLAN)
    ),
    "IncentiveFactNoted": lambda: i.IncentiveFactNoted(
        **_IDS,
        reseller_id="contoso",
        kind="revenue",
        plan_id="rebate-contoso",
        payee="contoso",
        source_id="rev:line-1:2025-03",
        charge_id="line-1",
        subscription_id="sub-1",
        product_id="CFQ7TTC0LH18",
        period="2025-03",
        amount_minor=12_000,
        currency="EUR",
    ),
    "IncentiveStatementRequested": lambda: i.IncentiveStatementRequested(
        **_IDS, payee="contoso", period="2025-03"
    ),
    "IncentiveWriteOffContinued": lambda: i.IncentiveWriteOffContinued(
        **_IDS,
        reseller_id="contoso",
        dunning_event_id="0b7e4f5c-1d2a-4e3b-9c8d-7a6b5c4d3e2f",
        stage="credit_hold",
        invoice_ids=("inv-1", "inv-2"),
        period="2025-03",
        after="inv-1|line-200",
        pages=2,
    ),
    "IncentiveLineBooked": lambda: i.IncentiveLineBooked(
        **_IDS,
        reseller_id="contoso",
        line_id="rebate-contoso|rev:line-1:2025-03|0",
        plan_id="rebate-contoso",
        payee="contoso",
        period="2025-03",
        kind="accrual",
        reason="recognised",
        source_id="rev:line-1:2025-03",
        charge_id="line-1",
        subscription_id="sub-1",
        family="modern-work",
        tier="base",
        rate_bps=200,
        revenue_minor="12000",
        amount_minor=240,
        currency="EUR",
    ),
    "IncentiveStatementIssued": lambda: i.IncentiveStatementIssued(
        **_IDS,
        reseller_id="contoso",
        statement_id="contoso|2025-03",
        payee="contoso",
        period="2025-03",
        plans=(
            i.PlanStatementPart(
                plan_id="rebate-contoso",
                kind="rebate",
                currency="EUR",
                accrued_minor=240,
                reversed_minor=40,
                reversed_by_reason=(i.ReasonAmount(reason="refund_7_day", amount_minor=40),),
                payable_minor=200,
                tier="base",
                measure="12000",
                tier_changes=(),
            ),
        ),
    ),
}
