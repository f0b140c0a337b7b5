"""The orders flow's agents: intake and credit check, exposure feedback, review commands,
provisioning at Microsoft, subscription lifecycle, and the worker's order-state web view.

Every topic read here is keyed by ``reseller_id`` with the same partition count, and so are the
tables: a reseller's orders, exposure and subscriptions all live in one partition's state.
"""

from __future__ import annotations

from typing import Any

import faust
import mode

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.domain.credit import CreditPolicy
from hub.schemas.events.orders import OrderReviewDecided
from hub.streams import ingress
from hub.streams.context import Context
from hub.streams.orders_intake import OrderIntake
from hub.streams.orders_lifecycle import Lifecycle
from hub.streams.orders_provisioning import PROVISIONING_RETRY, Provisioning
from hub.streams.orders_state import OrderTables
from hub.streams.orders_web import register_pages
from hub.topics import Topic

# The exposure takes its facts only from the hub's own topics: invoices and credit notes it
# issued, dunning it reached and payments finance confirmed (never from an ingress topic).
EXPOSURE_TOPICS = (Topic.INVOICES, Topic.COLLECTIONS)


def build_tables(app: faust.App, partitions: int) -> OrderTables:
    def table(name: str) -> Any:
        return app.Table(f"orders-{name}", key_type=str, partitions=partitions)

    return OrderTables(
        exposure=table("exposure"),
        orders=table("orders"),
        applied=table("exposure-applied"),
        microsoft_customers=table("microsoft-customers"),
        subscriptions=table("subscriptions"),
        changes=table("subscription-changes"),
    )


def register(app: faust.App, ctx: Context) -> None:
    """Registers the orders flow's agents, tables, Partner Center client and web pages."""
    tables = build_tables(app, ctx.settings.kafka_partitions)
    client = PartnerCenterClient(PartnerCenterConfig.from_settings(ctx.settings))

    @app.service
    class PartnerCenterLifecycle(mode.Service):
        """One HTTP session per worker: opened at start (or first use), closed at shutdown."""

        async def on_start(self) -> None:
            await client.start()

        async def on_stop(self) -> None:
            await client.stop()

    policy = CreditPolicy(reject_on_hold_with_overdue=ctx.settings.credit_hold_rejects_orders)
    intake = OrderIntake(ctx.topics, tables, ctx.reference.view, policy)
    provisioning = Provisioning(ctx.topics, tables, ctx.reference.view, client)
    lifecycle = Lifecycle(ctx.topics, tables, ctx.reference.view, client)
    orders_pipeline = ctx.pipeline("orders")
    provisioning_pipeline = ctx.pipeline("provisioning", PROVISIONING_RETRY)
    lifecycle_pipeline = ctx.pipeline("subscriptions", PROVISIONING_RETRY)

    orders_gate = ingress.gate_for(ctx, Topic.ORDERS)
    changes_gate = ingress.gate_for(ctx, Topic.SUBSCRIPTION_CHANGES)

    @app.agent(ctx.source(Topic.ORDERS), name="orders.intake", concurrency=1)
    async def order_intake(stream: Any) -> None:
        await ingress.run(orders_pipeline, stream, orders_gate, intake.on_order)

    ctx.on_ops_command(OrderReviewDecided, intake.on_review)

    for topic in EXPOSURE_TOPICS:
        exposure_pipeline = ctx.pipeline("orders")

        @app.agent(ctx.source(topic), name=f"orders.exposure.{topic.value}", concurrency=1)
        async def exposure(stream: Any, pipeline: Any = exposure_pipeline) -> None:
            await pipeline.run(stream, intake.on_exposure_event)

    @app.agent(ctx.source(Topic.ORDER_DECISIONS), name="orders.provisioning", concurrency=1)
    async def provision(stream: Any) -> None:
        await provisioning_pipeline.run(stream, provisioning.on_decision, provisioning.on_failure)

    @app.agent(ctx.source(Topic.SUBSCRIPTION_CHANGES), name="orders.lifecycle", concurrency=1)
    async def change_subscription(stream: Any) -> None:
        await ingress.run(lifecycle_pipeline, stream, changes_gate, lifecycle.on_change)

    register_pages(app, tables, ctx)
