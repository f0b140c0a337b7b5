"""Consumption benchmark: Azure plan usage ingested and rated through a real worker.

A month of daily usage for ``--subscriptions`` Azure plan subscriptions x ``--meters`` meters x
``--days`` days (the issue's full size: 10,000 x 20 x 30 = 6,000,000 UsageRecorded) is sent
to ``hub.consumption.inputs`` day by day, streamed in chunks (never held in memory at once), and
timed from the first send until the last UsageRated, next to a raw aiokafka passthrough of the
same count in the same run. ``--quick`` is the CI size (50 x 20 x 3 = 3,000). Prints Markdown,
writes JSON to bench/results/consumption.json. Usage: ``python -m bench.consumption --quick``.
In ``python -m bench`` the scenario "consumption: UsageRecorded -> UsageRated" runs at the
harness's burst size (``--only consumption``; add ``--only raw --only faust`` for the baselines).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from bench.baseline import passthrough
from bench.billing import count_until
from bench.harness import envelope
from bench.proc import usage as proc_usage
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, open_consumer, producer, publish
from hub.domain.enums import BillingMode, SupportMode
from hub.domain.reference import ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.events.consumption import UsageRecorded
from hub.schemas.events.reference import ResellerUpserted
from hub.topics import Topic, TopicCatalog
from tests.support.broker import session_broker

RESULTS = Path(__file__).parent / "results"
# Two resellers per partition of the default 12, so every partition has work.
RESELLERS = tuple(f"benchcons{i:02d}" for i in range(24))
FIRST_DAY = date(2026, 11, 1)
CODEC = Codec()
FULL = (10_000, 20, 30)
QUICK = (50, 20, 3)
CATEGORIES = ("Virtual Machines", "Storage", "Bandwidth", "SQL Database", "Azure App Service")


def reference(topics: TopicCatalog) -> list[Outgoing]:
    return [
        Outgoing(
            topics.name(Topic.RESELLERS),
            rid,
            ResellerUpserted(
                **envelope(rid),
                reseller=ResellerProfile(
                    reseller_id=rid,
                    partner_id=f"{4300000 + i}",
                    name=f"Bench Consumption {i}",
                    country="US",
                    currency="USD",
                    languages=("en",),
                    billing_mode=BillingMode.RESELLER_BILLS,
                    support_mode=SupportMode.RESELLER_OWN,
                    credit_limit_minor=100_000_000,  # 1,000,000.00: accruals in steps of 100.00
                    payment_terms_days=30,
                    markup_bps=1200,
                ),
            ),
        )
        for i, rid in enumerate(RESELLERS)
    ]


def usage(index: int, subscriptions: int = FULL[0], meters: int = FULL[1]) -> UsageRecorded:
    """The ``index``-th daily usage record, day by day: day, then subscription, then meter."""
    per_day = subscriptions * meters
    day = FIRST_DAY + timedelta(days=index // per_day)
    sub = (index // meters) % subscriptions
    meter = index % meters
    rid = RESELLERS[sub % len(RESELLERS)]
    quantity = Decimal(1 + (index * 7919) % 1000) / Decimal(1000) * 24
    unit = Decimal("0.096")
    total = (quantity * unit).quantize(Decimal("0.000001"))
    return UsageRecorded(
        **envelope(rid),
        customer_id=f"bc-cust-{sub // 3}",
        subscription_id=f"bc-sub-{sub:05d}",
        meter_id=f"meter-{meter:02d}",
        meter_category=CATEGORIES[meter % len(CATEGORIES)],
        usage_date=day,
        charge_start_date=day.replace(day=1),
        charge_end_date=day.replace(day=28),
        stage="estimate",
        quantity=str(quantity),
        unit_price=str(unit),
        effective_unit_price=str(unit),
        pricing_currency="USD",
        pricing_pre_tax_total=str(total),
        billing_currency="USD",
        billing_pre_tax_total=str(total),
        pc_to_bc_exchange_rate="1",
    )


async def rated_so_far(consumer: Any, topic: str) -> int:
    """Records on ``topic`` now: the sum of its partitions' end offsets (the worker is not
    transactional, so an end offset counts records, and no record is read to count it)."""
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not parts:
        await consumer._client.force_metadata_update()
        return 0
    return int(sum((await consumer.end_offsets(parts)).values()))


async def wait_rated(
    bootstrap: str, topic: str, count: int, timeout_s: float, pid: int, every_s: float = 30.0
) -> tuple[float, list[dict[str, Any]]]:
    """Wait until ``count`` records are on ``topic``; returns the time the last arrived and the
    progress windows, each also printed on stderr (a full-size run takes hours: its rate over
    time and the worker's memory show whether the cost per record grows with the state)."""
    windows: list[dict[str, Any]] = []
    async with open_consumer(bootstrap) as consumer:
        # The first window starts here, with what was rated while the records were sent.
        start = last_t = time.monotonic()
        last_n = await rated_so_far(consumer, topic)
        last_cpu = proc_usage(pid).cpu_s
        while True:
            now = time.monotonic()
            seen = await rated_so_far(consumer, topic)
            if seen >= count:
                return now, windows
            if now - start > timeout_s:
                raise TimeoutError(f"{topic}: {seen:,} of {count:,} after {timeout_s:.0f}s")
            if now - last_t >= every_s:
                used = proc_usage(pid)
                window = {
                    "elapsed_s": round(now - start, 1),
                    "rated": seen,
                    "per_second": round((seen - last_n) / (now - last_t), 1),
                    "worker_cpu_ms_per_record": round(
                        (used.cpu_s - last_cpu) * 1000 / max(seen - last_n, 1), 3
                    ),
                    "worker_peak_rss_mib": round(used.peak_rss_bytes / 2**20, 1),
                    "load_average": round(os.getloadavg()[0], 2),
                }
                windows.append(window)
                print(
                    f"bench.consumption: {seen:,} of {count:,} rated ({100 * seen / count:.1f}%), "
                    f"{window['per_second']:,}/s over the last {now - last_t:.0f} s, "
                    f"{window['worker_cpu_ms_per_record']} ms CPU/record, "
                    f"peak RSS {window['worker_peak_rss_mib']} MiB, load {window['load_average']}",
                    file=sys.stderr,
                    flush=True,
                )
                last_t, last_n, last_cpu = now, seen, used.cpu_s
            await asyncio.sleep(0.5)


def encoded(start: int, stop: int, subs: int, meters: int) -> Iterator[tuple[bytes, bytes, Any]]:
    for i in range(start, stop):
        event = usage(i, subs, meters)
        yield (event.reseller_id or "").encode(), CODEC.encode(event), event_headers(event)


async def ingest(
    bootstrap: str, subs: int, meters: int, days: int, state: Path, chunk: int = 10_000
) -> dict[str, Any]:
    count = subs * meters * days
    prefix = f"bench.cons.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(bootstrap, topics.all(RESELLERS))
    await publish(bootstrap, CODEC, reference(topics))
    # The consumption flow in its own group, as a distributor runs it at size
    # (BENCH_ALL_FLOWS=1: every flow in the worker).
    every = os.environ.get("BENCH_ALL_FLOWS", "").strip() == "1"
    worker = WorkerProcess(
        bootstrap,
        state,
        topic_prefix=prefix,
        app_id=f"bench-cons-{uuid.uuid4().hex[:6]}",
        env={} if every else {"HUB_FLOWS": "consumption"},
    ).start()
    source = topics.name(Topic.CONSUMPTION_INPUTS)
    rated = topics.name(Topic.CONSUMPTION_RATED)
    try:
        await asyncio.to_thread(worker.wait_ready)
        # Warm-up: one rated record proves the agent is assigned before the clock starts.
        warm = usage(0, subs, meters).model_copy(update={"meter_id": "warm-up"})
        await publish(bootstrap, CODEC, [Outgoing(source, warm.reseller_id or "", warm)])
        await count_until(bootstrap, rated, 1, 120)
        assert worker.proc is not None
        cpu_before = proc_usage(worker.proc.pid).cpu_s
        start = time.monotonic()
        async with producer(bootstrap) as client:
            for first in range(0, count, chunk):
                for key, value, headers in encoded(first, min(first + chunk, count), subs, meters):
                    await client.send(source, key=key, value=value, headers=headers)
            await client.flush()
        sent = time.monotonic()
        done, windows = await wait_rated(
            bootstrap, rated, count + 1, max(600.0, count / 50), worker.proc.pid
        )
        seconds = done - start
        used = proc_usage(worker.proc.pid)
        # The worker's own CPU per record: what the machine's other load does not change.
        cpu_ms = (used.cpu_s - cpu_before) * 1000 / count
        return {
            "messages": count,
            "send_seconds": sent - start,
            "seconds": seconds,
            "per_second": count / seconds,
            "worker_cpu_ms_per_record": round(cpu_ms, 3),
            "worker_peak_rss_mib": round(used.peak_rss_bytes / 2**20, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "windows": windows,
        }
    finally:
        worker.stop()


async def main(subs: int, meters: int, days: int) -> dict[str, Any]:
    count = subs * meters * days
    with session_broker(os.environ) as broker, tempfile.TemporaryDirectory() as tmp:
        # The baseline first: a failure shows in minutes, not after the hours of a full run.
        payload = CODEC.encode(usage(0, subs, meters))
        base = await passthrough(
            broker.bootstrap, f"bench.pass.{uuid.uuid4().hex[:8]}.", count, None, payload
        )
        print(
            f"bench.consumption: raw passthrough {base.per_second:,.0f}/s; now the worker",
            file=sys.stderr,
            flush=True,
        )
        rated = await ingest(broker.bootstrap, subs, meters, days, Path(tmp))
    return {
        "when": datetime.now(UTC).isoformat(),
        "subscriptions": subs,
        "meters": meters,
        "days": days,
        "count": count,
        "consumption": rated,
        "passthrough": {
            "messages": base.messages,
            "seconds": base.seconds,
            "per_second": base.per_second,
        },
    }


def report(result: dict[str, Any]) -> str:
    r, p = result["consumption"], result["passthrough"]
    return "\n".join(
        [
            f"Consumption benchmark: {result['subscriptions']:,} subscriptions x "
            f"{result['meters']} meters x {result['days']} days = {result['count']:,} records, "
            "one broker, one worker, one run",
            "",
            "| path | records/s | seconds | worker CPU ms / record |",
            "|---|---:|---:|---:|",
            f"| UsageRecorded -> UsageRated (worker) | {r['per_second']:.0f} | "
            f"{r['seconds']:.2f} | {r.get('worker_cpu_ms_per_record', '-')} |",
            f"| raw aiokafka passthrough | {p['per_second']:.0f} | {p['seconds']:.2f} | - |",
            "",
            f"load average at the end: {r.get('load_average')}",
        ]
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI size: 50 x 20 x 3")
    parser.add_argument("--subscriptions", type=int)
    parser.add_argument("--meters", type=int)
    parser.add_argument("--days", type=int)
    args = parser.parse_args()
    subs, meters, days = QUICK if args.quick else FULL
    subs = args.subscriptions or subs
    meters = args.meters or meters
    days = args.days or days
    result = asyncio.run(main(subs, meters, days))
    print(report(result))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "consumption.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    cli()
