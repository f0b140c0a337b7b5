"""Reference data as global tables: resellers, customers, catalogue and price lists.

Agents copy the compacted ``ref.*`` topics into faust global tables, so every worker holds the
whole reference set and flows read it through ``ReferenceView`` (plain mappings of domain models).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import faust

from hub.domain.orders import ReferenceView
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.runtime.tuning import ROCKSDB_OPTIONS
from hub.schemas.envelope import Event
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.streams.context import Context
from hub.topics import Topic

M = TypeVar("M")


class ModelView(Mapping[str, M]):
    """A read-only mapping of domain models over a table of JSON documents.

    Parsed models are cached per key with the stored bytes they came from, and reused while the
    table still holds those bytes: a lookup is a store read and a bytes comparison, with no JSON
    decoding or pydantic validation, and an update is seen at once. Models are frozen, so
    sharing is safe. On faust's RocksDB store the bytes are read from the store itself
    (``_get``): faust's mapping layer would decode the JSON and run its sensors on every read,
    about 100 microseconds a lookup and several lookups an order; any other store (tests' in-
    memory tables) is read through the table, comparing documents.
    """

    def __init__(self, table: Any, parse: Callable[[Any], M]) -> None:
        self._table = table
        self._parse = parse
        self._cache: dict[str, tuple[Any, M]] = {}
        data = getattr(table, "data", None)
        self._store = data if hasattr(data, "_get") and hasattr(data, "_encode_key") else None
        self._keys: dict[str, bytes] = {}

    def _stored(self, key: str) -> Any:
        """What the table holds under ``key``: its bytes (RocksDB) or its document."""
        if self._store is None:
            return self._table.get(key)
        raw_key = self._keys.get(key)
        if raw_key is None:
            raw_key = self._keys[key] = self._store._encode_key(key)
        return self._store._get(raw_key)

    def __getitem__(self, key: str) -> M:
        stored = self._stored(key)
        if stored is None:
            raise KeyError(key)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == stored:
            return hit[1]
        doc = stored if self._store is None else self._store._decode_value(stored)
        model = self._parse(doc)
        self._cache[key] = (stored, model)
        return model

    def __contains__(self, key: object) -> bool:
        # Membership needs no model: skip the parse Mapping.__contains__ would do.
        return isinstance(key, str) and self._stored(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._table.keys()))

    def __len__(self) -> int:
        return len(self._table)


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


def _prices(raw: Any) -> Sequence[PriceListEntry]:
    # A tuple: the parsed list is cached and shared between lookups, so it must not be mutable.
    return tuple(PriceListEntry.model_validate(doc) for doc in dict(raw).values())


class ReferenceTables:
    """The four global tables and the agents that fill them."""

    def __init__(self, app: faust.App, table_prefix: str = "") -> None:
        def table(name: str) -> Any:
            return app.GlobalTable(
                f"{table_prefix}{name}",
                key_type=str,
                partitions=1,
                options=ROCKSDB_OPTIONS,
            )

        self.resellers = table("ref-resellers")
        self.customers = table("ref-customers")
        self.catalogue = table("ref-catalogue")
        self.prices = table("ref-prices")
        self._views = ReferenceView(
            resellers=ModelView(self.resellers, ResellerProfile.model_validate),
            customers=ModelView(self.customers, Customer.model_validate),
            catalogue=ModelView(self.catalogue, CatalogItem.model_validate),
            prices=ModelView(self.prices, _prices),
        )

    def view(self) -> ReferenceView:
        # One view (and its parse caches) for every caller: a view holds no state of its own.
        return self._views

    async def apply(self, event: Event) -> Sequence[Emit]:
        """Upsert one reference event into its table; reference events produce nothing."""
        if isinstance(event, ResellerUpserted):
            self.resellers[event.reseller_id] = event.reseller.model_dump(mode="json")
        elif isinstance(event, CustomerUpserted):
            self.customers[event.customer.customer_id] = event.customer.model_dump(mode="json")
        elif isinstance(event, CatalogItemUpserted):
            key = event.item.catalog_item_id
            if event.active:
                self.catalogue[key] = event.item.model_dump(mode="json")
            elif key in self.catalogue:
                del self.catalogue[key]
        elif isinstance(event, PriceListEntryUpserted):
            key = event.entry.catalog_item_id
            entries = dict(self.prices.get(key) or {})
            entries[price_key(event.entry, event.price_list_id)] = event.entry.model_dump(
                mode="json"
            )
            self.prices[key] = entries
        else:
            raise SchemaError(f"{type(event).__name__} is not reference data")
        return ()


REFERENCE_TOPICS = (Topic.RESELLERS, Topic.CUSTOMERS, Topic.CATALOG, Topic.PRICES)


def register(app: faust.App, ctx: Context) -> None:
    """One agent per reference topic, each copying its topic into its table."""
    pipeline = ctx.pipeline("reference")
    for topic in REFERENCE_TOPICS:

        @app.agent(ctx.source(topic), name=f"reference.{topic.value}", concurrency=1)
        async def load(stream: Any) -> None:
            await pipeline.run(stream, ctx.reference.apply)
