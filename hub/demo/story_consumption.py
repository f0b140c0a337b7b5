"""The demo's Azure story: a customer's Azure plan usage pulled from Partner Center, its budget
alert, and the month's consumption on the reseller's invoice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from hub.domain.consumption.invoice_lines import AZURE_PLAN_PRODUCT_ID
from hub.domain.money import Money
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.usage import PlannedSubscription, UsagePlan
from hub.topics import PartnerTopic, Topic

if TYPE_CHECKING:
    from hub.demo.environment import DemoEnvironment
    from hub.demo.scenario import DemoState, Step

RESELLER = "contoso-de"
MPN = "4815162"  # contoso-de's PartnerID in ops/sample/reference.yaml
CUSTOMER = "hamburg-logistik"
BUDGET = "250.00"


def _periods(today: date) -> tuple[str, ...]:
    previous = today.replace(day=1) - timedelta(days=1)
    return (f"{previous:%Y-%m}", f"{today:%Y-%m}")


async def azure_usage(env: DemoEnvironment, state: DemoState) -> str:
    from hub.demo.scenario import _settled, decoded
    from hub.schemas.events.consumption import ConsumptionBudgetThresholdReached, UsageRated

    today = datetime.now(UTC).date()
    plan = UsagePlan(
        start=today - timedelta(days=12),
        subscriptions=[
            PlannedSubscription(
                customer_id=CUSTOMER,
                subscription_id=f"azure-plan-{state.run_id[:8]}",
                reseller_mpn_id=MPN,
                meters=8,
                daily_cost=Decimal(40),
            )
        ],
        billing_currency="EUR",
        pc_to_bc_exchange_rate=Decimal("0.92"),
    )
    async with SimulatorAdmin(env.simulator_url) as admin:
        await admin._call("POST", "/admin/usage", plan.model_dump(mode="json"))
    await env.hub(
        "consumption",
        "budget",
        RESELLER,
        "--customer",
        CUSTOMER,
        "--amount",
        BUDGET,
        "--currency",
        "EUR",
    )
    for period in ("previous", "current"):
        await env.hub("consumption", "ingest", "--currency", "EUR", "--period", period)
    rated = await _settled(env, Topic.CONSUMPTION_RATED, UsageRated)
    status = await decoded(env, env.topics.partner(RESELLER, PartnerTopic.STATUS))
    alerts = sorted(
        {e.threshold_percent for e in status if isinstance(e, ConsumptionBudgetThresholdReached)}
    )
    reached = ", ".join(f"{t}%" for t in alerts) or "none yet"
    return (
        f"{CUSTOMER}'s Azure plan: {rated} days x meters of usage rated for {RESELLER}; its "
        f"{BUDGET} EUR monthly budget alerted at {reached} on partner.{RESELLER}.status"
    )


async def azure_close(env: DemoEnvironment, state: DemoState) -> str:
    from hub.demo.scenario import _settled
    from hub.schemas.events.consumption import ConsumptionCharged

    for period in _periods(datetime.now(UTC).date()):
        await env.hub("consumption", "close", "--period", period, "--reseller", RESELLER)
    lines = await _settled(env, Topic.CONSUMPTION_RATED, ConsumptionCharged)
    return f"{lines} summarised consumption lines handed to billing for {RESELLER}"


async def azure_on_invoice(env: DemoEnvironment, state: DemoState) -> str:
    from hub.demo.scenario import decoded
    from hub.schemas.events.billing import InvoiceIssued

    topic = env.topics.partner(RESELLER, PartnerTopic.BILLING)
    invoices = [e for e in await decoded(env, topic) if isinstance(e, InvoiceIssued)]
    lines = [ln for inv in invoices for ln in inv.lines if AZURE_PLAN_PRODUCT_ID in ln.description]
    total = sum(ln.amount_minor for ln in lines)
    return (
        f"{RESELLER}'s invoice carries {len(lines)} Azure plan lines, "
        f"{Money.of(total, 'EUR')} before tax"
    )


def around(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The Azure usage and its close just before the month-end close; the invoice after it."""
    out: list[Step] = []
    for step in steps:
        if step[0] == "month-end close":
            out += [
                ("a customer's Azure usage and its budget alert", azure_usage),
                ("Azure consumption handed to billing", azure_close),
                step,
                ("Azure consumption on the month's invoice", azure_on_invoice),
            ]
        else:
            out.append(step)
    return tuple(out)
