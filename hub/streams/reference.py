"""Reference data: resellers, customers, catalogue and price lists, whole in every worker.

Each worker reads the compacted ``ref.*`` topics itself (``ReferenceReader``) into memory, and
flows read them through ``ReferenceView`` (plain mappings of domain models). No flow handles a
message before its worker has read them up to where they stood when it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
from prometheus_client import Counter, Gauge

from hub.connectors.kafka_auth import KafkaAuth, auth_from_settings
from hub.connectors.kafka_replay import replay
from hub.domain.orders import ReferenceView
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.streams.context import Context
from hub.topics import Topic

log = logging.getLogger(__name__)

LOADED = Gauge(
    "hub_reference_records",
    "Reference records this worker holds, by table",
    ["table"],
)
READY = Gauge(
    "hub_reference_ready",
    "1 once this worker has read every reference topic up to its end as of its start",
)
SKIPPED = Counter(
    "hub_reference_skipped_total",
    "Reference records this worker's reader could not take (the reference agent dead-letters "
    "them with the reason)",
    ["topic"],
)


def price_key(entry: PriceListEntry, price_list_id: str) -> str:
    """Identity of one price entry within its catalogue item's list."""
    return ":".join(
        (
            price_list_id,
            entry.term.value,
            entry.billing_cycle.value,
            entry.currency,
            entry.effective_from.isoformat(),
        )
    )


class ReferenceTables:
    """The whole reference set in this worker's memory, as parsed domain models.

    Filled by the worker's ``ReferenceReader`` (below); lookups are dictionary reads. Every
    model was validated when its event was decoded, so a record a flow would refuse (a
    white-label reseller without a brand) never gets here: the reference agent dead-letters it
    with the reason when it is loaded. Memory is about a kilobyte per customer.
    """

    def __init__(self) -> None:
        self.resellers: dict[str, ResellerProfile] = {}
        self.customers: dict[str, Customer] = {}
        self.catalogue: dict[str, CatalogItem] = {}
        self.prices: dict[str, tuple[PriceListEntry, ...]] = {}
        self._price_entries: dict[str, dict[str, PriceListEntry]] = {}
        self._view = ReferenceView(
            resellers=self.resellers,
            customers=self.customers,
            catalogue=self.catalogue,
            prices=self.prices,
        )
        self.loaded = asyncio.Event()

    def view(self) -> ReferenceView:
        # One view for every caller: its mappings are the live tables.
        return self._view

    def apply(self, event: Event) -> None:
        """Upsert one reference event into its table."""
        if isinstance(event, ResellerUpserted):
            self.resellers[event.reseller_id] = event.reseller
        elif isinstance(event, CustomerUpserted):
            self.customers[event.customer.customer_id] = event.customer
        elif isinstance(event, CatalogItemUpserted):
            key = event.item.catalog_item_id
            if event.active:
                self.catalogue[key] = event.item
            else:
                self.catalogue.pop(key, None)
        elif isinstance(event, PriceListEntryUpserted):
            key = event.entry.catalog_item_id
            entries = self._price_entries.setdefault(key, {})
            entries[price_key(event.entry, event.price_list_id)] = event.entry
            # A tuple: shared between lookups, so it must not be mutable.
            self.prices[key] = tuple(entries.values())
        else:
            raise SchemaError(f"{type(event).__name__} is not reference data")

    def counts(self) -> dict[str, int]:
        return {
            "resellers": len(self.resellers),
            "customers": len(self.customers),
            "catalogue": len(self.catalogue),
            "prices": len(self.prices),
        }


async def check(event: Event) -> Sequence[Emit]:
    """The reference agent's handler: a record that decoded is reference data or refused."""
    if not isinstance(event, _REFERENCE_EVENTS):
        raise SchemaError(f"{type(event).__name__} is not reference data")
    return ()


_REFERENCE_EVENTS = (
    ResellerUpserted,
    CustomerUpserted,
    CatalogItemUpserted,
    PriceListEntryUpserted,
)


class ReferenceReader:
    """This worker's own reader of the ``ref.*`` topics, outside the consumer group.

    Like Kafka Streams' GlobalKTable: every worker reads every partition of every reference
    topic from its start, with no group and no committed offsets, into its ``ReferenceTables``,
    and keeps reading for updates. ``tables.loaded`` is set once it has read up to each
    partition's end as it was at start: until then no flow handles a message (their pipelines
    wait on it), so no worker checks an order against half its reference data, whatever
    partitions it was given. (faust's global tables were filled by one worker's agent and read
    by the others from a changelog, with open upstream bugs when several workers run.)
    """

    def __init__(
        self,
        tables: ReferenceTables,
        codec: Codec,
        topics: Sequence[str],
        bootstrap: str,
        auth: KafkaAuth | None,
    ) -> None:
        self.tables = tables
        self.codec = codec
        self.topics = list(topics)
        self.bootstrap = bootstrap
        self.auth = auth

    async def run(self) -> None:
        started = time.monotonic()
        polls = replay(self.topics, self.bootstrap, self.auth, waiting=_waiting)
        async with contextlib.aclosing(polls):
            async for batch, caught_up in polls:
                for records in batch.values():
                    for record in records:
                        self._take(record.topic, record.value)
                if caught_up and not self.tables.loaded.is_set():
                    self._ready(time.monotonic() - started)
                if batch:
                    for table, count in self.tables.counts().items():
                        LOADED.labels(table=table).set(count)

    def _take(self, topic: str, value: bytes | None) -> None:
        if value is None:
            return  # a tombstone: reference data is retired by an upsert, never deleted so
        try:
            self.tables.apply(self.codec.decode(value))
        except Exception as exc:  # noqa: BLE001 - the reference agent dead-letters it
            SKIPPED.labels(topic=topic).inc()
            log.debug("reference record on %s not taken: %r", topic, exc)

    def _ready(self, seconds: float) -> None:
        self.tables.loaded.set()
        READY.set(1)
        counts = ", ".join(f"{n} {table}" for table, n in self.tables.counts().items())
        log.info("reference data loaded in %.1f s: %s", seconds, counts)


def _waiting(missing: list[str]) -> None:
    log.warning("reference topics not found yet: %s (waiting)", ", ".join(missing))


REFERENCE_TOPICS = (Topic.RESELLERS, Topic.CUSTOMERS, Topic.CATALOG, Topic.PRICES)


def register(app: faust.App, ctx: Context) -> None:
    """The worker's reader (every worker), and one agent per reference topic (in the group:
    one worker per partition) that gives each record its one outcome: taken, or dead-lettered
    with the reason when it does not decode as reference data."""
    names = [ctx.topics.name(topic) for topic in REFERENCE_TOPICS]
    reader = ReferenceReader(
        ctx.reference,
        ctx.codec,
        names,
        ctx.settings.kafka_bootstrap_servers,
        auth_from_settings(ctx.settings),
    )

    @app.task  # type: ignore[untyped-decorator]
    async def read_reference() -> None:
        await reader.run()

    pipeline = ctx.pipeline("reference", ready=False)
    for topic in REFERENCE_TOPICS:

        @app.agent(ctx.source(topic), name=f"reference.{topic.value}", concurrency=1)
        async def load(stream: Any) -> None:
            await pipeline.run(stream, check)
