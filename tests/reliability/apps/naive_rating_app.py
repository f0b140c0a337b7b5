"""The control for the crash test: rating as it would be without the hub's guarantees.

Rates every ``SubscriptionProvisioned`` it reads into a ``ChargeRated`` with a fresh uuid4 event
id, keeps no record of what it rated, runs at least once with a long commit interval: a killed
worker re-rates everything since its last commit. The crash harness must catch the duplicates.
Run as ``python naive_rating_app.py worker``; configured from ``NAIVE_*`` variables.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from hub.runtime.faust_transport import HubApp
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.events.billing import ChargeRated
from hub.schemas.events.orders import SubscriptionProvisioned

CODEC = Codec()
# The hub's consumer fixes keep it from stalling after a restart; nothing here is idempotent.
app = HubApp(
    os.environ["NAIVE_APP_ID"],
    broker=f"kafka://{os.environ['NAIVE_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["NAIVE_DATADIR"],
    web_port=int(os.environ["NAIVE_WEB_PORT"]),
    web_host="127.0.0.1",
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    processing_guarantee="at_least_once",
    broker_commit_interval=30.0,
    autodiscover=False,
)
source = app.topic(os.environ["NAIVE_SOURCE"], key_serializer="raw", value_serializer="raw")
sink = app.topic(os.environ["NAIVE_SINK"], key_serializer="raw", value_serializer="raw")


def rate(event: SubscriptionProvisioned) -> ChargeRated:
    return ChargeRated.model_validate(
        {
            "event_id": uuid.uuid4(),  # the flaw: a replay is a new event
            "event_time": event.event_time,
            "correlation_id": event.correlation_id,
            "causation_id": event.event_id,
            "reseller_id": event.reseller_id,
            "charge_id": f"{event.subscription_id}:new",
            "customer_id": event.customer_id,
            "subscription_id": event.subscription_id,
            "charge_type": "new",
            "product_id": event.product_id,
            "sku_id": event.sku_id,
            "product_kind": "subscription",
            "billing_cycle": event.billing_cycle,
            "quantity": event.quantity,
            "period_start": event.term_start,
            "period_end": event.term_start,
            "cost_minor": event.quantity * event.unit_cost_minor,
            "price_minor": event.quantity * event.unit_price_minor,
            "currency": event.currency,
        }
    )


@app.agent(source)
async def rate_all(stream: Any) -> None:
    async for key, value in stream.items():
        event = CODEC.decode(value)
        if isinstance(event, SubscriptionProvisioned):
            charge = rate(event)
            await sink.send(key=key, value=CODEC.encode(charge), headers=event_headers(charge))


if __name__ == "__main__":
    app.main()
