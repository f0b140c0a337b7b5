"""The credits flow's agents: the subscription index by service, and allocation of approvals.

Topics and agents (all concurrency 1):
- ``credits.route``: ``hub.orders.provisioning`` -> ``hub.credits.subscriptions`` (by sub id).
- ``credits.link``: ``hub.credits.subscriptions`` + ``hub.subscriptions.events`` (both by sub
  id, co-partitioned with its state table ``credits-link-state``) -> ``hub.credits.index`` keyed
  by service.
- ``credits.approvals``: ``hub.credits.approved`` (by incident) -> ``hub.credits.index`` by service.
- ``credits.index``: ``hub.credits.index`` (by service): folds subscriptions into the index and
  allocates approvals against it (its one state table ``credits-index-state``: index, approvals,
  allocation lines), emitting ``ServiceCreditAllocated`` to ``hub.credits.allocated`` and to the
  reseller's own ``partner.<id>.billing``, and the audit to ``hub.credits.audit``.
Each state table is written by its one agent through the flow's journal (hub/runtime/journal.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.pipeline import RetryPolicy
from hub.schemas.envelope import Event
from hub.schemas.events.credits import ServiceCreditApproved
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.context import Context
from hub.streams.credits.allocation import Allocator
from hub.streams.credits.index import CreditIndex
from hub.topics import Topic, TopicCatalog

# Reference data (catalogue, resellers) loads beside the flows at start: give it time to arrive
# before a fact that needs it is dead-lettered.
REFERENCE_RETRY = RetryPolicy(max_attempts=8, base_s=0.5, cap_s=10.0)


class IndexHandler:
    """Dispatches the events of ``hub.credits.index``; the message key is the service."""

    def __init__(self, index: CreditIndex, allocator: Allocator) -> None:
        self.index = index
        self.allocator = allocator

    async def handle(self, event: Event, service: str) -> Sequence[Emit]:
        if isinstance(event, ServiceCreditApproved):
            return self.allocator.on_approval(event, service)
        if isinstance(event, SubscriptionProvisioned | SubscriptionChanged):
            self.index.apply(event, service)
            return []
        raise ValidationFailed("event", type(event).__name__, "not a credits index event")


def approvals_router(catalog: TopicCatalog) -> Any:
    index_topic = catalog.name(Topic.CREDITS_INDEX)

    async def route(event: Event) -> Sequence[Emit]:
        if not isinstance(event, ServiceCreditApproved):
            raise ValidationFailed("event", type(event).__name__, "not a ServiceCreditApproved")
        return [Emit(index_topic, event.service, event)]

    return route


def register(app: faust.App, ctx: Context) -> None:
    """Registers the credits agents and tables on ``app``."""
    catalog = ctx.topics

    # Two state tables, each written by one agent through its journal: the link's (keyed by
    # subscription id) and the index's (keyed by service: index, approvals, allocation lines).
    linking = ctx.journal("credits-link")
    indexing = ctx.journal("credits-index")
    index = CreditIndex(catalog, ctx.reference.view, linking.view("links"), indexing.view("index"))
    allocator = Allocator(
        catalog,
        ctx.reference.view,
        index.index,
        indexing.view("approvals"),
        indexing.view("lines"),
    )
    handler = IndexHandler(index, allocator)
    route_approval = approvals_router(catalog)
    # A subscription whose product is not in the catalogue yet is parked in the link's state
    # and retried on ticks sent to the link's own input topic, instead of holding the agent.
    link_parking = ctx.parking(Topic.CREDITS_SUBSCRIPTIONS, linking)
    linked = app.topic(
        catalog.name(Topic.CREDITS_SUBSCRIPTIONS),
        catalog.name(Topic.SUBSCRIPTION_EVENTS),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(ctx.source(Topic.PROVISIONING), name="credits.route", concurrency=1)
    async def route(stream: Any) -> None:
        # Billing owns the provisioning and lifecycle topics; credits only observes them.
        await ctx.pipeline("credits.route", observer=True).run(stream, index.route)

    @app.agent(linked, name="credits.link", concurrency=1)
    async def link(stream: Any) -> None:
        pipeline = ctx.pipeline(
            "credits.link", REFERENCE_RETRY, observer=True, journal=linking, parking=link_parking
        )
        await pipeline.run(stream, index.link)

    @app.agent(ctx.source(Topic.CREDITS_APPROVED), name="credits.approvals", concurrency=1)
    async def approvals(stream: Any) -> None:
        await ctx.pipeline("credits.approvals").run(stream, route_approval)

    @app.agent(ctx.source(Topic.CREDITS_INDEX), name="credits.index", concurrency=1)
    async def allocate(stream: Any) -> None:
        pipeline = ctx.pipeline("credits", REFERENCE_RETRY, journal=indexing)
        await pipeline.run_keyed(stream, handler.handle)
