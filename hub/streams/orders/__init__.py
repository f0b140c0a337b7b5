"""The orders flow's agents: intake (credit check and everything that moves a reseller's
exposure or orders), fulfilment (provisioning at Microsoft and the subscription lifecycle), and
the worker's order-state web view.

Each agent owns one journaled table and is its only writer (``hub/streams/orders/state.py``):
``orders.intake`` reads the orders, invoices, collections, ops-commands and provisioning topics
into ``orders-state``; ``orders.fulfilment`` reads the decisions and subscription-change topics
into ``fulfilment-state``. Every topic read here is keyed by ``reseller_id`` with the tables'
partition count, so a message's writes go to its own partition's changelog.

``register`` runs both agents in one worker (flow ``orders``); ``register_intake`` and
``register_fulfilment`` run one each (``HUB_FLOWS`` parts ``order-intake`` and ``fulfilment``,
``hub.app.flow_parts``), each part then in a flow group of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.domain.credit import CreditPolicy
from hub.runtime.dead_letter import SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.pipeline import FailureHandler, Handler, Outcome, ParkedRoute, Pipeline
from hub.runtime.state import FaustStore
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderRequested, OrderReviewDecided
from hub.streams import ingress
from hub.streams.context import Context
from hub.streams.lifecycle import close_at_shutdown
from hub.streams.orders.intake import OrderIntake
from hub.streams.orders.lifecycle import Lifecycle
from hub.streams.orders.provisioning import (
    PARKED_PAGE,
    PROVISIONING_RETRY,
    Provisioning,
    no_requests,
)
from hub.streams.orders.state import FulfilmentState, IntakeState
from hub.streams.orders.web import register_pages
from hub.topics import Topic, TopicCatalog

# The exposure takes its facts only from the hub's own topics: invoices and credit notes it
# issued, dunning it reached and payments finance confirmed (never from an ingress topic).
EXPOSURE_TOPICS = (Topic.INVOICES, Topic.COLLECTIONS, Topic.CONSUMPTION_ACCRUALS)

Route = Callable[[SourceMessage], Awaitable[Outcome]]


def raw_topics(app: faust.App, ctx: Context, topics: Sequence[Topic]) -> Any:
    """One faust topic over several raw topics: an agent that reads them all."""
    return app.topic(
        *(ctx.topics.name(topic) for topic in topics),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


async def run_routes(stream: Any, routes: dict[str, Route], pipeline: Pipeline) -> None:
    """Each message through the route of the topic it came from, in the batches of
    ``pipeline`` (whose journal every route writes)."""
    async for source in pipeline.messages(stream):
        await routes[source.topic](source)


def _through(
    pipeline: Pipeline, handler: Callable[[Event], Awaitable[Sequence[Emit]]], *failure: Any
) -> Route:
    async def route(source: SourceMessage) -> Outcome:
        return await pipeline.process(source, handler, *failure)

    return route


def _gated(pipeline: Pipeline, gate: ingress.IngressGate, handler: Any) -> Route:
    async def route(source: SourceMessage) -> Outcome:
        return await ingress.process(pipeline, source, gate, handler)

    return route


@dataclass(frozen=True)
class FulfilmentRoute:
    """How ``orders.fulfilment`` handles a topic: its pipeline, handler and failure report, and
    the ingress gate a reseller's topic goes through."""

    pipeline: Pipeline
    handler: Handler
    failure: FailureHandler | None = None
    gate: ingress.IngressGate | None = None

    def live(self) -> Route:
        if self.gate is not None:
            return _gated(self.pipeline, self.gate, self.handler)
        return _through(self.pipeline, self.handler, self.failure)

    def parked(self, original: SourceMessage) -> tuple[Handler, FailureHandler | None]:
        if self.gate is not None:
            return ingress.admission(original, self.gate, self.handler)
        return self.handler, self.failure


def parked_route(table: Mapping[str, FulfilmentRoute], fallback: str) -> ParkedRoute:
    """Where a tick sends a parked fulfilment message: the route of the topic it came from (a
    subscription change through its gate again), as the live routes send it. ``table`` is read
    when a tick comes, so it may be filled after the pipelines that take this are made."""

    def route(original: SourceMessage) -> tuple[Handler, FailureHandler | None]:
        return table.get(original.topic, table[fallback]).parked(original)

    return route


def intake_routes(
    topics: TopicCatalog,
    owner: Pipeline,
    observer: Pipeline,
    orders_gate: ingress.IngressGate,
    intake: OrderIntake,
) -> dict[str, Route]:
    """Where each topic ``orders.intake`` reads goes. Intake owns the outcome of the orders,
    invoices and collections topics; the ops commands (dispatched by hub.streams.ops_commands)
    and the provisioning topic (billing's) it only observes: their undecodable messages are
    their owners' to dead-letter. Both pipelines write the one intake journal."""
    routes = {
        topics.name(Topic.ORDERS): _gated(owner, orders_gate, intake.on_order),
        topics.name(Topic.OPS_COMMANDS): _through(observer, intake.on_review),
        topics.name(Topic.PROVISIONING): _through(observer, intake.on_provisioning),
    }
    for topic in EXPOSURE_TOPICS:
        routes[topics.name(topic)] = _through(owner, intake.on_exposure_event)
    return routes


def register(app: faust.App, ctx: Context) -> None:
    """Registers the orders flow: intake and fulfilment in this worker, and the order pages,
    which show an order's record and its subscriptions' state."""
    intake_journal = ctx.journal("orders")
    intake_state = IntakeState.of(intake_journal)

    def request_of(reseller_id: str, order_id: str) -> OrderRequested | None:
        record = intake_state.order(reseller_id, order_id)  # a read: intake's only writer
        return None if record is None else record.order_requested()

    fulfilment_state = fulfilment_agent(app, ctx, requests=request_of)
    register_intake(app, ctx, fulfilment_state, intake_journal)


def register_intake(
    app: faust.App,
    ctx: Context,
    fulfilment_state: FulfilmentState | None = None,
    intake_journal: Journal | None = None,
) -> None:
    """Registers ``orders.intake`` and the order pages (flow ``order-intake`` alone: the pages
    list an order's subscription ids without their state, which the fulfilment group holds)."""
    intake_journal = intake_journal or ctx.journal("orders")
    intake_state = IntakeState.of(intake_journal)
    policy = CreditPolicy(reject_on_hold_with_overdue=ctx.settings.credit_hold_rejects_orders)
    intake = OrderIntake(ctx.topics, intake_state, ctx.reference.view, policy)
    owner = ctx.pipeline("orders", journal=intake_journal)
    observer = ctx.pipeline("orders", observer=True, journal=intake_journal)
    routes = intake_routes(ctx.topics, owner, observer, ingress.gate_for(ctx, Topic.ORDERS), intake)
    # The ops dispatcher leaves the review to intake, which owns the orders it moves.
    ctx.on_ops_command(OrderReviewDecided, leave_to_intake)

    @app.agent(
        raw_topics(
            app,
            ctx,
            (Topic.ORDERS, *EXPOSURE_TOPICS, Topic.OPS_COMMANDS, Topic.PROVISIONING),
        ),
        name="orders.intake",
        concurrency=1,
    )
    async def order_intake(stream: Any) -> None:
        await run_routes(stream, routes, owner)

    intake_table = cast(FaustStore, intake_journal.store).table
    register_pages(app, intake_state, fulfilment_state, ctx, intake_table)


def register_fulfilment(app: faust.App, ctx: Context) -> None:
    """Registers ``orders.fulfilment`` alone (flow ``fulfilment``, a group of its own): the
    decision carries the request it places (``OrderAccepted`` v2)."""
    fulfilment_agent(app, ctx)


def fulfilment_agent(
    app: faust.App,
    ctx: Context,
    requests: Callable[[str, str], OrderRequested | None] = no_requests,
) -> FulfilmentState:
    """Registers ``orders.fulfilment``: provisioning at Microsoft and the subscription
    lifecycle. ``requests`` reads intake's record of an order where intake runs in this
    worker."""
    client = PartnerCenterClient(PartnerCenterConfig.from_settings(ctx.settings))
    # One HTTP session per worker: opened at start (or first use), closed at shutdown.
    close_at_shutdown(app, client.stop, start=client.start)
    fulfilment_journal = ctx.journal("fulfilment")
    fulfilment_state = FulfilmentState.of(fulfilment_journal)
    provisioning = Provisioning(
        ctx.topics, fulfilment_state, ctx.reference.view, client, requests=requests
    )
    lifecycle = Lifecycle(ctx.topics, fulfilment_state, ctx.reference.view, client)

    # Not batched: its handlers place orders and changes with Microsoft. While Partner Center
    # is down or throttling, a placement or change waits parked in the fulfilment state instead
    # of in its partition (a few quick tries, then ticks on the commands topic, which only this
    # agent reads); after its last delay it fails for good as before. A tick retries a few at a
    # time: each retry calls Microsoft.
    parking = ctx.parking(Topic.SUBSCRIPTION_COMMANDS, fulfilment_journal, page=PARKED_PAGE)
    changes_gate = ingress.gate_for(ctx, Topic.SUBSCRIPTION_CHANGES)
    commands = ctx.topics.name(Topic.SUBSCRIPTION_COMMANDS)
    # One table for the live routes and for a parked message's retry.
    table: dict[str, FulfilmentRoute] = {}
    provisioning_pipeline, lifecycle_pipeline = (
        ctx.pipeline(
            flow,
            PROVISIONING_RETRY,
            journal=fulfilment_journal,
            parking=parking,
            parked_route=parked_route(table, commands),
            batched=False,
        )
        for flow in ("provisioning", "subscriptions")
    )
    table.update(
        {
            ctx.topics.name(Topic.ORDER_DECISIONS): FulfilmentRoute(
                provisioning_pipeline, provisioning.on_decision, provisioning.on_failure
            ),
            ctx.topics.name(Topic.SUBSCRIPTION_CHANGES): FulfilmentRoute(
                lifecycle_pipeline, lifecycle.on_change, gate=changes_gate
            ),
            # Hub-internal, keyed by reseller like the changes: the renewals flow's switch-off
            # of a renewal that needed approval and got none, and the parking's ticks.
            commands: FulfilmentRoute(lifecycle_pipeline, lifecycle.on_command),
        }
    )
    fulfilment_routes = {topic: route.live() for topic, route in table.items()}

    @app.agent(
        raw_topics(
            app,
            ctx,
            (
                Topic.ORDER_DECISIONS,
                Topic.SUBSCRIPTION_CHANGES,
                Topic.SUBSCRIPTION_COMMANDS,
            ),
        ),
        name="orders.fulfilment",
        concurrency=1,
    )
    async def fulfil(stream: Any) -> None:
        await run_routes(stream, fulfilment_routes, provisioning_pipeline)

    return fulfilment_state


async def leave_to_intake(event: Event) -> Sequence[Emit]:
    """``OrderReviewDecided`` on the ops dispatcher: handled (or dead-lettered) by intake."""
    return ()
