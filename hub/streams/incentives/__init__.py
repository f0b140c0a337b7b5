"""The incentives flow: plans in every worker, a router by reseller, a ledger by payee.

Topics and agents (all concurrency 1):
- ``incentives.plans``: ``hub.incentives.plans`` (compacted): dead-letters what is not a plan;
  every worker's ``PlanReader`` reads the whole topic into its ``PlanBook``.
- ``incentives.route``: billing's ``hub.billing.charges``, ``hub.billing.revenue``,
  ``hub.billing.invoices`` and ``hub.billing.collections`` (all keyed by reseller, read as an
  observer, co-partitioned with ``incentives-route-state``), and its own write-off pages on
  ``hub.incentives.inputs`` -> ``hub.incentives.ledger``, one ``IncentiveFactNoted`` per plan
  paying on the fact, keyed by the plan's payee.
- ``incentives.ledger``: ``hub.incentives.ledger`` (by payee, with ``incentives-state``) ->
  ``IncentiveLineBooked`` and, on request, ``IncentiveStatementIssued`` to
  ``hub.incentives.statements``; a rebate's statement also to the reseller's billing topic.
"""

from __future__ import annotations

from typing import Any

import faust

from hub.connectors.kafka_auth import auth_from_settings
from hub.domain.incentives.book import IncentiveBook
from hub.runtime.pipeline import RetryPolicy
from hub.streams.context import Context
from hub.streams.incentives.ledger import IncentiveLedger
from hub.streams.incentives.plans import PlanBook, PlanReader, check
from hub.streams.incentives.route import IncentiveRouter
from hub.topics import Topic

# A revenue event may arrive before the charge it recognises is seen rated (two topics).
ROUTE_RETRY = RetryPolicy(max_attempts=8, base_s=0.5, cap_s=10.0)
# Billing's facts, and the router's own write-off pages (all keyed by reseller).
ROUTER_INPUTS = (
    Topic.CHARGES,
    Topic.REVENUE,
    Topic.INVOICES,
    Topic.COLLECTIONS,
    Topic.INCENTIVE_INPUTS,
)


def register(app: faust.App, ctx: Context) -> None:
    """Registers the incentives agents, tables and plan reader on ``app``."""
    catalog = ctx.topics
    plans = PlanBook()
    reader = PlanReader(
        plans,
        ctx.codec,
        [catalog.name(Topic.INCENTIVE_PLANS)],
        ctx.settings.kafka_bootstrap_servers,
        auth_from_settings(ctx.settings),
    )

    @app.task  # type: ignore[untyped-decorator]
    async def read_plans() -> None:
        await reader.run()

    routing = ctx.journal("incentives-route")
    router = IncentiveRouter(catalog, plans, routing.view("route"))
    booking = ctx.journal("incentives")
    entries = booking.view("book")
    ledger = IncentiveLedger(catalog, plans, IncentiveBook(entries, entries.scan))
    facts = app.topic(
        *(catalog.name(t) for t in ROUTER_INPUTS),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    # All three agents report as one flow ("incentives"): its metrics' series stay few.
    @app.agent(ctx.source(Topic.INCENTIVE_PLANS), name="incentives.plans", concurrency=1)
    async def check_plans(stream: Any) -> None:
        await ctx.pipeline("incentives", ready=False).run(stream, check)

    @app.agent(facts, name="incentives.route", concurrency=1)
    async def route(stream: Any) -> None:
        # Billing owns these topics (and dead-letters for them); incentives only observes.
        pipeline = ctx.pipeline("incentives", ROUTE_RETRY, observer=True, journal=routing)
        await pipeline.run(stream, router.handle)

    @app.agent(ctx.source(Topic.INCENTIVE_LEDGER), name="incentives.ledger", concurrency=1)
    async def book(stream: Any) -> None:
        await ctx.pipeline("incentives", journal=booking).run(stream, ledger.handle)
