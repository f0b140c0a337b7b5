"""Every worker's own reader of the reference topics, against a real broker.

It reads every partition from the start with no consumer group, says "loaded" only once it has
read up to where each partition ended when it started, takes updates after that, and skips a
record that is no reference data (the group's reference agent dead-letters it).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.connectors.kafka_io import producer as kafka_producer
from hub.domain.enums import BillingCycle, Term
from hub.domain.reference import Customer, PriceListEntry
from hub.schemas.codec import Codec
from hub.schemas.events.reference import PriceListEntryUpserted
from hub.streams.reference import (
    REFERENCE_TOPICS,
    SKIPPED,
    ReferenceReader,
    ReferenceTables,
)
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import EXCHANGE, envelope, reference_events

CODEC = Codec()


def _customers(reseller_id: str, count: int) -> list[Customer]:
    return [
        Customer(
            customer_id=f"{reseller_id}-c{i}",
            reseller_id=reseller_id,
            name=f"Customer {i}",
            country="DE",
            language="de",
            currency="EUR",
        )
        for i in range(count)
    ]


def _price(effective: date) -> PriceListEntryUpserted:
    entry = PriceListEntry(
        product_id=EXCHANGE.product_id,
        sku_id=EXCHANGE.sku_id,
        availability_id=EXCHANGE.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        unit_cost_minor=400,
        effective_from=effective,
    )
    return PriceListEntryUpserted(**envelope(None), price_list_id="msft", entry=entry)


async def test_the_reader_is_loaded_only_with_everything_then_follows_updates(
    kafka: BrokerInfo,
) -> None:
    catalog = TopicCatalog(f"t.refreader.{uuid.uuid4().hex[:8]}.")
    await apply_topics(kafka.bootstrap, catalog.fixed())
    before = reference_events(catalog, customers=_customers("contoso", 2_000), items=[EXCHANGE])
    before += [
        Outgoing(catalog.name(Topic.PRICES), EXCHANGE.catalog_item_id, _price(date(2026, m, 1)))
        for m in (1, 2)
    ]
    await publish(kafka.bootstrap, CODEC, before)
    async with kafka_producer(kafka.bootstrap) as garbage:
        await garbage.send_and_wait(catalog.name(Topic.CUSTOMERS), b"not an event", key=b"x")

    tables = ReferenceTables()
    names = [catalog.name(t) for t in REFERENCE_TOPICS]
    reader = ReferenceReader(tables, CODEC, names, kafka.bootstrap, None)
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.wait_for(tables.loaded.wait(), 60)
        # Loaded means everything written before the start, not a first batch of it.
        assert len(tables.customers) == 2_000
        assert list(tables.catalogue) == [EXCHANGE.catalog_item_id]
        (prices,) = tables.prices.values()
        assert sorted(p.effective_from.month for p in prices) == [1, 2]
        skipped = SKIPPED.labels(topic=catalog.name(Topic.CUSTOMERS))._value.get()
        assert skipped == 1  # the record that is no event

        later = _customers("fabrikam", 1)[0]
        await publish(kafka.bootstrap, CODEC, reference_events(catalog, customers=[later]))
        for _ in range(100):
            if later.customer_id in tables.view().customers:
                break
            await asyncio.sleep(0.1)
        assert tables.view().customers[later.customer_id] == later
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
