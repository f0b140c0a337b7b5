"""The worker's order-state pages: one order as ops see it, and which reference data is loaded.

``GET /orders/{reseller_id}/{order_id}/`` answers the order's record from the state table (404 if
the worker holds no such order); ``GET /orders-reference/`` lists the reference ids loaded.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View

from hub.streams.context import Context
from hub.streams.orders_state import OrderRecord, OrderTables, order_key


def order_view(record: OrderRecord, tables: OrderTables) -> dict[str, Any]:
    """The record plus the current state of each of its subscriptions."""
    doc = record.model_dump(mode="json")
    subscriptions = []
    for subscription_id in record.subscription_ids:
        sub = tables.subscription(subscription_id)
        if sub is not None:
            subscriptions.append(sub.model_dump(mode="json"))
    doc["subscriptions"] = subscriptions
    return doc


def register_pages(app: faust.App, tables: OrderTables, ctx: Context) -> None:
    @app.page("/orders/{reseller_id}/{order_id}/")
    async def show_order(self: View, request: Request, reseller_id: str, order_id: str) -> Response:
        record = tables.order(order_key(reseller_id, order_id))
        if record is None:
            return self.json({"error": f"no order {order_id} of {reseller_id}"}, status=404)
        return self.json(order_view(record, tables))

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
