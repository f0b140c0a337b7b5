"""Profiles the consumption flow in process: decode, the book's handler, the journal, encode.

No broker and no worker: the bench's usage records (``bench.consumption.usage``) are encoded as
the ingestion sends them, then decoded, handled by ``ConsumptionHandler`` over a ``Journal`` on a
``MemoryStore`` in batches of ``--batch`` messages of one reseller (as the worker's pipeline
batches a partition), and their outputs encoded, under cProfile. Prints the time per record, the
journal's writes per record and the outputs per record by topic, then the top costs.
Usage: ``python -m bench.profile_consumption [--subscriptions 40 --meters 20 --days 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.consumption import RESELLERS, reference, usage
from hub.domain.consumption.anomaly import AnomalyRule
from hub.domain.orders import ReferenceView
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.codec import Codec
from hub.streams.consumption import VIEWS, ConsumptionHandler
from hub.streams.consumption.book import ConsumptionBook
from hub.streams.consumption.close import ConsumptionClose
from hub.topics import TopicCatalog


class CountingStore(MemoryStore):
    """A ``MemoryStore`` that counts its writes by view (the changelog records a worker makes)
    and the reads that reach it (in a worker: RocksDB reads, most of them of absent keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()

    def get(self, key: str) -> Any | None:
        self.gets[key.split("|", 1)[0]] += 1
        return super().get(key)

    def put(self, key: str, value: Any) -> None:
        self.puts[key.split("|", 1)[0]] += 1
        super().put(key, value)


def world(store: CountingStore) -> tuple[Journal, ConsumptionHandler]:
    topics = TopicCatalog()
    profiles = {o.key: o.event.reseller for o in reference(topics)}  # type: ignore[attr-defined]
    ref = ReferenceView(resellers=profiles, customers={}, catalogue={}, prices={})
    journal = Journal(store, "consumption")
    book = ConsumptionBook(
        {name: journal.view(name) for name in VIEWS},
        topics,
        lambda: ref,
        anomaly=AnomalyRule(),
        clock=lambda: datetime(2026, 12, 5, tzinfo=UTC),
    )
    return journal, ConsumptionHandler(book, ConsumptionClose(book))


async def run(
    journal: Journal,
    handler: ConsumptionHandler,
    records: list[tuple[str, bytes]],
    batch: int,
    outputs: Counter[str],
) -> None:
    codec = Codec()
    # One partition per reseller here: each reseller's messages batch together.
    by_reseller: dict[str, list[bytes]] = {}
    for rid, data in records:
        by_reseller.setdefault(rid, []).append(data)
    partitions = {rid: i for i, rid in enumerate(RESELLERS)}
    for rid, items in by_reseller.items():
        for start in range(0, len(items), batch):
            open_ = journal.open_batch(partitions[rid])
            sent: list[Emit] = []
            for data in items[start : start + batch]:
                event = codec.decode(data)

                async def handle(event: Any = event) -> Any:
                    return await handler.handle(event)

                sent += await journal.run(partitions[rid], str(event.event_id), handle)
            journal.end_batch(open_)
            for emit in sent:
                outputs[f"{type(emit.event).__name__} -> {emit.topic}"] += 1
                codec.encode(emit.event)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_consumption", description=__doc__
    )
    parser.add_argument("--subscriptions", type=int, default=40)
    parser.add_argument("--meters", type=int, default=20)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true", help="time only")
    args = parser.parse_args(argv)
    count = args.subscriptions * args.meters * args.days
    codec = Codec()
    records = []
    for i in range(count):
        event = usage(i, args.subscriptions, args.meters)
        records.append((event.reseller_id or "", codec.encode(event)))
    store = CountingStore()
    journal, handler = world(store)
    outputs: Counter[str] = Counter()
    profiler = cProfile.Profile()
    started = time.process_time()
    if not args.no_profile:
        profiler.enable()
    asyncio.run(run(journal, handler, records, args.batch, outputs))
    if not args.no_profile:
        profiler.disable()
    cpu = time.process_time() - started
    print(f"{count} records: {cpu:.2f} s CPU, {cpu / count * 1000:.3f} ms per record")
    print("state writes per record:")
    for view, n in store.puts.most_common():
        print(f"  {view:12s} {n / count:6.3f}")
    print(f"state reads reaching the store per record: {sum(store.gets.values()) / count:.3f}")
    for view, n in store.gets.most_common():
        print(f"  {view:12s} {n / count:6.3f}")
    print("outputs per record:")
    for what, n in outputs.most_common():
        print(f"  {what:70s} {n / count:6.3f}")
    if not args.no_profile:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
