"""What the end-to-end tests share: envelopes, reference data events, a worker on fresh topics,
reading topics back and waiting for a condition with the worker's log on failure.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.domain.reference import CatalogItem, Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.reference import CatalogItemUpserted, CustomerUpserted, ResellerUpserted
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo

CODEC = Codec()

EXCHANGE = CatalogItem(
    product_id="CFQ7TTC0LH16",
    sku_id="0001",
    availability_id="CFQ7TTC0EXO1",
    name="Exchange Online (Plan 1)",
    service="exchange",
    markets=("DE",),
)
TEAMS = CatalogItem(
    product_id="CFQ7TTC0TEAM",
    sku_id="0001",
    availability_id="CFQ7TTC0TEA1",
    name="Teams Essentials",
    service="teams",
    markets=("DE",),
)


def envelope(reseller_id: str | None, at: datetime | None = None) -> dict[str, Any]:
    """Envelope fields of a test event: a new event id, ``at`` (default now), a new correlation."""
    return {
        "event_id": new_event_id(),
        "event_time": at or datetime.now(UTC),
        "correlation_id": f"c-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def reference_events(
    catalog: TopicCatalog,
    resellers: Iterable[ResellerProfile] = (),
    customers: Iterable[Customer] = (),
    items: Iterable[CatalogItem] = (),
) -> list[Outgoing]:
    """Reseller, customer and catalog upserts on ``catalog``'s topics, keyed like the hub's."""
    out = [
        Outgoing(
            catalog.name(Topic.RESELLERS),
            r.reseller_id,
            ResellerUpserted(**envelope(r.reseller_id), reseller=r),
        )
        for r in resellers
    ]
    out += [
        Outgoing(
            catalog.name(Topic.CUSTOMERS),
            c.customer_id,
            CustomerUpserted(**envelope(c.reseller_id), customer=c),
        )
        for c in customers
    ]
    out += [
        Outgoing(
            catalog.name(Topic.CATALOG),
            item.catalog_item_id,
            CatalogItemUpserted(**envelope(None), item=item),
        )
        for item in items
    ]
    return out


def read_events(bootstrap: str, topic: str) -> list[Event]:
    """Every event on ``topic`` so far, decoded (records without a value are skipped)."""
    return [CODEC.decode(r.value) for r in asyncio.run(read_all(bootstrap, topic)) if r.value]


def wait_until(
    what: str, check: Callable[[], object], worker: WorkerProcess, timeout_s: float = 90
) -> None:
    """Poll ``check`` every half second; fail naming ``what`` with the worker's log tail."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"no {what}:\n{worker.log_tail()}"
        time.sleep(0.5)


def counter_total(worker: WorkerProcess, name: str, **labels: str) -> float:
    """The sum over every label set of the counter ``name`` on the worker's metrics page (those
    with ``labels``' values only, when given)."""
    wanted = [f'{label}="{value}"' for label, value in labels.items()]
    total = 0.0
    for line in worker.metrics().splitlines():
        if line.startswith(f"{name}{{") and all(w in line for w in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def events_in(worker: WorkerProcess, event_type: str) -> float:
    """How many ``event_type`` events the worker has consumed, from its metrics page."""
    total = 0.0
    for line in worker.metrics().splitlines():
        if line.startswith("hub_events_in_total{") and f'event_type="{event_type}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class WorkerHub:
    """One worker on its own prefixed topics of a real broker."""

    kafka: BrokerInfo
    catalog: TopicCatalog
    worker: WorkerProcess

    def publish(self, items: list[Outgoing]) -> None:
        asyncio.run(publish(self.kafka.bootstrap, CODEC, items))

    def read(self, topic: Topic | str) -> list[Event]:
        name = self.catalog.name(topic) if isinstance(topic, Topic) else topic
        return read_events(self.kafka.bootstrap, name)

    def partner(self, reseller_id: str, topic: PartnerTopic = PartnerTopic.BILLING) -> list[Event]:
        return self.read(self.catalog.partner(reseller_id, topic))

    def wait_for(self, what: str, check: Callable[[], object], timeout_s: float = 90) -> None:
        wait_until(what, check, self.worker, timeout_s)


def start_worker_hub(
    kafka: BrokerInfo,
    state_dir: Path,
    name: str,
    resellers: Sequence[str],
    reference: Callable[[TopicCatalog], list[Outgoing]],
) -> WorkerHub:
    """Fresh topics ``t.<name>.<random>.*``, the reference data on them, then a ready worker."""
    prefix = f"t.{name}.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all(resellers)))
    worker = WorkerProcess(
        kafka.bootstrap, state_dir, topic_prefix=prefix, app_id=f"{name}-{uuid.uuid4().hex[:8]}"
    )
    hub = WorkerHub(kafka, catalog, worker)
    hub.publish(reference(catalog))
    worker.start().wait_ready()
    return hub
