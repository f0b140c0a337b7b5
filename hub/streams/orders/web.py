"""The worker's order-state pages: one order as ops see it, held orders, the reference loaded.

``GET /orders/{reseller_id}/{order_id}/`` answers the order's record from the intake journal and
its subscriptions from the fulfilment journal, each read by key (404 if there is no such order),
from whichever worker owns the reseller's partition (``served_by`` in the answer names it);
``GET /orders-held/`` lists held orders a page at a time (``?reseller=`` one reseller's, else
every reseller's, partition by partition; ``next`` says where the next page starts: see
``hub/streams/orders/held.py``); ``GET /orders-reference/`` lists the reference ids loaded.
With ``HUB_WORKER_WEB_TOKEN`` set each asks for the bearer token (``hub/web_access.py``).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from yarl import URL

from hub.settings import Settings
from hub.streams.context import Context
from hub.streams.ingress import home_partition
from hub.streams.orders.held import held_page, held_query, partition_orders
from hub.streams.orders.state import FulfilmentState, IntakeState
from hub.web_access import bearer_headers


def order_view(
    intake: IntakeState, fulfilment: FulfilmentState | None, reseller_id: str, order_id: str
) -> dict[str, Any] | None:
    """The order's record plus the current state of each subscription placed for it. Where
    fulfilment runs in a flow group of its own (``fulfilment``), this worker has no state of the
    subscriptions: ``subscriptions`` is null and the record's ``subscription_ids`` name them."""
    record = intake.order(reseller_id, order_id)
    if record is None:
        return None
    doc = record.model_dump(mode="json")
    if fulfilment is None:
        doc["subscriptions"] = None
        return doc
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


# Set on a forwarded request: its receiver answers from its own tables and never forwards again,
# so two workers whose views of the assignment differ during a rebalance cannot bounce a request.
FORWARDED_HEADER = "X-Hub-Forwarded-By"


async def forward(
    app: faust.App, settings: Settings, owner: str, view: View, request: Request
) -> Response:
    """Ask ``owner`` the same request and hand its answer back unchanged.

    Written here rather than faust's ``Router._route_req`` (private, and it drops our header):
    one GET through the app's own HTTP client."""
    target = URL(owner)
    url = request.url.with_host(target.host or "127.0.0.1").with_port(target.port)
    # The owner asks the same token of its callers as this worker did of ours.
    headers = {FORWARDED_HEADER: str(app.conf.canonical_url), **bearer_headers(settings)}
    async with app.http_client.get(url, headers=headers) as answer:
        return view.text(
            await answer.text(), content_type=answer.content_type, status=answer.status
        )


def _same_worker(app: faust.App, url: str) -> bool:
    mine, other = URL(str(app.conf.canonical_url)), URL(url)
    return (mine.host, mine.port) == (other.host, other.port)


def register_pages(
    app: faust.App,
    intake: IntakeState,
    fulfilment: FulfilmentState | None,
    ctx: Context,
    intake_table: Any,
) -> None:
    changelog = intake_table.changelog_topic.get_topic_name()
    partitions = ctx.settings.kafka_partitions

    # Asked of any worker, answered by the one that owns the reseller's partition: the request
    # is forwarded to the URL that worker gave the group (HUB_WORKER_URL). faust's own
    # ``table_route`` hashes the key with the producer's metadata of the changelog topic, which
    # a worker that has not written to it yet does not have (it failed with a TypeError).
    def elsewhere(request: Request, partition: int) -> str | None:
        """The owner of ``partition`` if another worker should answer ``request``."""
        owner = owner_url(app, changelog, partition)
        forwarded = FORWARDED_HEADER in request.headers
        if owner is not None and not forwarded and not _same_worker(app, owner):
            return owner
        return None

    @app.page("/orders/{reseller_id}/{order_id}/")
    async def show_order(self: View, request: Request, reseller_id: str, order_id: str) -> Response:
        owner = elsewhere(request, home_partition(reseller_id, partitions))
        if owner is not None:
            return await forward(app, ctx.settings, owner, self, request)
        served_by = str(app.conf.canonical_url)
        doc = order_view(intake, fulfilment, reseller_id, order_id)
        if doc is None:
            error = f"no order {order_id} of {reseller_id}"
            return self.json({"error": error, "served_by": served_by}, status=404)
        return self.json({**doc, "served_by": served_by})

    @app.page("/orders-held/")
    async def held_orders(self: View, request: Request) -> Response:
        try:
            query = held_query(request.query, partitions)
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=400)
        owner = elsewhere(request, query.partition)
        if owner is not None:
            return await forward(app, ctx.settings, owner, self, request)
        entries = partition_orders(
            intake.orders, intake_table, query.partition, partitions, query.prefix, query.after
        )
        page = held_page(entries, query.limit)
        return self.json(
            {
                "orders": page.orders,
                "partition": query.partition,
                "next": query.next_page(page.resume_after, partitions),
                "served_by": str(app.conf.canonical_url),
            }
        )

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
