"""The demo's incentives story: finance applies the month's incentive plans before the first
order, and the story ends with one reseller's rebate statement on what the hub recognised."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hub.domain.money import Money

if TYPE_CHECKING:
    from hub.demo.environment import DemoEnvironment
    from hub.demo.scenario import DemoState, Step

PAYEE = "contoso-de"
FAMILIES = {
    "CFQ7TTC0LH18": "business",
    "CFQ7TTC0LDPB": "business",
    "CFQ7TTC0LFLZ": "enterprise",
    "CFQ7TTC0LH0R": "exchange",
}


def plans(period: str) -> dict[str, Any]:
    """Contoso's and Fabrikam's rebates and their account manager's commission (in EUR, on
    Northwind's GBP revenue too, at a stated rate), from the demo's month on."""
    return {
        "plans": [
            {
                "plan_id": "rebate-contoso-de",
                "payee": "contoso-de",
                "kind": "rebate",
                "resellers": ["contoso-de"],
                "currency": "EUR",
                "families": FAMILIES,
                "effective_from": period,
                "tiers": [
                    {"name": "base", "from_measure": 0, "rates_bps": {"*": 200, "enterprise": 300}},
                    {"name": "gold", "from_measure": 100_000, "rates_bps": {"*": 300}},
                ],
            },
            {
                "plan_id": "rebate-fabrikam-fr",
                "payee": "fabrikam-fr",
                "kind": "rebate",
                "resellers": ["fabrikam-fr"],
                "currency": "EUR",
                "effective_from": period,
                "tiers": [{"name": "base", "from_measure": 0, "rates_bps": {"*": 250}}],
            },
            {
                "plan_id": "commission-am-lena",
                "payee": "am-lena",
                "kind": "commission",
                "resellers": ["contoso-de", "fabrikam-fr", "northwind-gb"],
                "currency": "EUR",
                "fx_rates": {"GBP": "1.17"},
                "fx_source": "finance's rate for the month, stated in the plan",
                "families": FAMILIES,
                "effective_from": period,
                "cap_minor": 50_000,
                "tiers": [{"name": "base", "from_measure": 0, "rates_bps": {"*": 100}}],
            },
        ]
    }


async def incentive_plans(env: DemoEnvironment, state: DemoState) -> str:
    path = env.state_dir / "incentive-plans.json"
    path.write_text(json.dumps(plans(state.period), indent=2), encoding="utf-8")
    await env.hub("incentives", "plans", "apply", str(path))
    return "2 reseller rebates and an account manager's commission applied for the month"


async def rebate_statement(env: DemoEnvironment, state: DemoState) -> str:
    from hub.demo.scenario import _settled
    from hub.schemas.events.incentives import IncentiveLineBooked
    from hub.topics import Topic

    lines = await _settled(env, Topic.INCENTIVE_STATEMENTS, IncentiveLineBooked)
    out = await env.hub(
        "incentives",
        "statement",
        "--payee",
        PAYEE,
        "--period",
        state.period,
        "-o",
        "json",
    )
    (plan,) = json.loads(out)["plans"]

    def money(minor: int) -> Decimal:
        return Money.of(minor, plan["currency"]).to_decimal()

    return (
        f"{PAYEE}'s rebate for {state.period} ({lines} incentive lines booked in all): accrued "
        f"{money(plan['accrued_minor'])}, reversed {money(plan['reversed_minor'])}, payable "
        f"{money(plan['payable_minor'])} {plan['currency']}, tier {plan['tier']}"
    )


def around(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The story with the plans first and the rebate statement last."""
    return (
        ("incentive plans for the month", incentive_plans),
        *steps,
        ("a reseller's rebate statement", rebate_statement),
    )
