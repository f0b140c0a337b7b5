"""The worker's order-state pages: one order as ops see it, and which reference data is loaded.

``GET /orders/{reseller_id}/{order_id}/`` answers the order's record from the intake journal and
its subscriptions from the fulfilment journal, each read by key (404 if there is no such order),
from whichever worker owns the reseller's partition; ``GET /orders-reference/`` lists the
reference ids loaded.
"""

from __future__ import annotations

import contextlib
from typing import Any

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View
from yarl import URL

from hub.streams.context import Context
from hub.streams.ingress import home_partition
from hub.streams.orders.state import FulfilmentState, IntakeState


def order_view(
    intake: IntakeState, fulfilment: FulfilmentState, reseller_id: str, order_id: str
) -> dict[str, Any] | None:
    """The order's record plus the current state of each subscription placed for it."""
    record = intake.order(reseller_id, order_id)
    if record is None:
        return None
    doc = record.model_dump(mode="json")
    placed = fulfilment.placed_order(reseller_id, order_id)
    # What provisioning placed is known before intake reads the outcome from its topic.
    ids = placed.subscription_ids if placed is not None else record.subscription_ids
    subscriptions = []
    for subscription_id in ids:
        sub = fulfilment.subscription(reseller_id, subscription_id)
        if sub is not None:
            subscriptions.append(sub.model_dump(mode="json"))
    doc["subscriptions"] = subscriptions
    return doc


def owner_url(app: faust.App, changelog: str, partition: int) -> str | None:
    """The URL of the worker that owns ``partition`` of the table with ``changelog``, as the
    group's last assignment says (None if it names none: then this worker answers)."""
    for url, topics in app.router.tables_metadata().items():
        if partition in topics.get(changelog, ()):
            return str(url)
    return None


def register_pages(
    app: faust.App,
    intake: IntakeState,
    fulfilment: FulfilmentState,
    ctx: Context,
    intake_table: Any,
) -> None:
    changelog = intake_table.changelog_topic.get_topic_name()
    partitions = ctx.settings.kafka_partitions

    # Asked of any worker, answered by the one that owns the reseller's partition: the request
    # is forwarded to the URL that worker gave the group (HUB_WORKER_URL). faust's own
    # ``table_route`` hashes the key with the producer's metadata of the changelog topic, which
    # a worker that has not written to it yet does not have (it failed with a TypeError).
    @app.page("/orders/{reseller_id}/{order_id}/")
    async def show_order(self: View, request: Request, reseller_id: str, order_id: str) -> Response:
        owner = owner_url(app, changelog, home_partition(reseller_id, partitions))
        if owner is not None:
            with contextlib.suppress(SameNode):
                router: Any = app.router  # faust's Router; _route_req is not on RouterT
                routed: Response = await router._route_req(URL(owner), self.web, request)
                return routed
        doc = order_view(intake, fulfilment, reseller_id, order_id)
        if doc is None:
            return self.json({"error": f"no order {order_id} of {reseller_id}"}, status=404)
        return self.json(doc)

    @app.page("/orders-reference/")
    async def reference_loaded(self: View, request: Request) -> Response:
        ref = ctx.reference
        return self.json(
            {
                "resellers": sorted(ref.resellers.keys()),
                "customers": sorted(ref.customers.keys()),
                "catalogue": sorted(ref.catalogue.keys()),
                "prices": sorted(ref.prices.keys()),
            }
        )
