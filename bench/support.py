"""Support routing benchmark: TicketOpened -> TicketRouted through a real worker.

Measures on one broker in one run a burst (tickets/s) and a fixed offered rate (p50/p99 from
each ticket's send to its TicketRouted on the ops topic), next to a raw aiokafka passthrough
(``bench.baseline``) of the same count and rate. Prints Markdown, writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.baseline import Run, paced, passthrough, percentile
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, producer, publish
from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import Customer, ResellerProfile
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.events.support import TicketOpened
from hub.streams.pipeline import event_headers
from hub.testing.broker import session_broker
from hub.testing.worker import WorkerProcess
from hub.topics import Topic, TopicCatalog

RESULTS = Path(__file__).parent / "results"
RESELLER, CUSTOMER = "benchsupport", "bench-support-customer"
CODEC = Codec()


def _envelope() -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"bench-{uuid.uuid4().hex[:8]}",
        "reseller_id": RESELLER,
    }


def reference(topics: TopicCatalog) -> list[Outgoing]:
    reseller = ResellerProfile(
        reseller_id=RESELLER,
        partner_id="4199998",
        name="Bench Support",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=0,
        payment_terms_days=30,
    )
    customer = Customer(
        customer_id=CUSTOMER,
        reseller_id=RESELLER,
        name="Bench Customer",
        country="US",
        language="en",
        currency="USD",
    )
    events: list[tuple[Topic, str, Event]] = [
        (Topic.RESELLERS, RESELLER, ResellerUpserted(**_envelope(), reseller=reseller)),
        (Topic.CUSTOMERS, CUSTOMER, CustomerUpserted(**_envelope(), customer=customer)),
    ]
    return [Outgoing(topics.name(t), key, event) for t, key, event in events]


def ticket(ticket_id: str) -> TicketOpened:
    return TicketOpened(
        **_envelope(),
        ticket_id=ticket_id,
        customer_id=CUSTOMER,
        title="How do I add a licence?",
        description="We need five more seats.",
        category=TicketCategory.QUESTIONS,
        severity=Severity.MINIMAL,
        language="en",
        service="m365",
    )


class Arrivals:
    """Watches the support ops topic from its current end; notes when each ticket is routed."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        parts = self._consumer.partitions_for_topic(self._topic) or {0, 1, 2}
        partitions = [TopicPartition(self._topic, p) for p in sorted(parts)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self._consumer:
            if dict(message.headers or []).get("hub.event-type") == b"TicketRouted":
                self.seen.setdefault((message.key or b"").decode(), time.monotonic())

    async def wait(self, ids: list[str], timeout_s: float) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(i in self.seen for i in ids):
                return max(self.seen[i] for i in ids)
            await asyncio.sleep(0.05)
        missing = sum(1 for i in ids if i not in self.seen)
        raise TimeoutError(f"{missing} of {len(ids)} tickets were never routed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def measure(
    bootstrap: str, topics: TopicCatalog, arrivals: Arrivals, count: int, rate: float | None
) -> Run:
    ids = [f"T-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    sent: dict[str, float] = {}
    async with producer(bootstrap) as client:
        start = time.monotonic()

        async def send(index: int) -> None:
            event = ticket(ids[index])
            sent[ids[index]] = time.monotonic()
            await client.send(
                topics.name(Topic.TICKETS),
                key=RESELLER.encode(),
                value=CODEC.encode(event),
                headers=event_headers(event),
            )

        await paced(count, rate, send)
        await client.flush()
    end = await arrivals.wait(ids, 120 + count)
    return Run(count, end - start, tuple(arrivals.seen[i] - sent[i] for i in ids))


def _wait_reference(worker: WorkerProcess, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(
            line.startswith("hub_events_in_total{") and 'event_type="CustomerUpserted"' in line
            for line in worker.metrics().splitlines()
        ):
            return
        time.sleep(0.3)
    raise TimeoutError("the worker never loaded the bench's reference data")


@dataclass(frozen=True)
class Row:
    pipeline: str
    per_s_burst: float
    p50_ms: float
    p99_ms: float
    burst: int
    rate_per_s: float
    at_rate: int


def row(name: str, burst: Run, steady: Run, rate: float) -> Row:
    return Row(
        name,
        round(burst.per_second, 1),
        round(percentile(steady.latencies_s, 50) * 1000, 1),
        round(percentile(steady.latencies_s, 99) * 1000, 1),
        burst.messages,
        rate,
        steady.messages,
    )


async def run(bootstrap: str, count: int, steady: int, rate: float, state: Path) -> list[Row]:
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(bootstrap, topics.all([RESELLER]))
    await publish(bootstrap, CODEC, reference(topics))
    worker = WorkerProcess(
        bootstrap, state, topic_prefix=prefix, app_id=f"bench-support-{uuid.uuid4().hex[:8]}"
    )
    arrivals = Arrivals(bootstrap, topics.name(Topic.SUPPORT_EVENTS))
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        await asyncio.to_thread(_wait_reference, worker)
        await arrivals.start()
        await measure(bootstrap, topics, arrivals, 5, None)  # warm-up
        burst = await measure(bootstrap, topics, arrivals, count, None)
        at_rate = await measure(bootstrap, topics, arrivals, steady, rate)
        payload = CODEC.encode(ticket("payload-size"))
        base_burst = await passthrough(bootstrap, f"{prefix}base.burst.", count, None, payload)
        base_rate = await passthrough(bootstrap, f"{prefix}base.rate.", steady, rate, payload)
    finally:
        await arrivals.stop()
        await asyncio.to_thread(worker.stop)
    return [
        row("raw aiokafka passthrough (baseline)", base_burst, base_rate, rate),
        row("TicketOpened -> TicketRouted", burst, at_rate, rate),
    ]


def markdown(rows: list[Row]) -> str:
    lines = [
        "| pipeline | tickets/s (burst) | p50 ms | p99 ms | burst | rate/s | at rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.pipeline} | {r.per_s_burst} | {r.p50_ms} | {r.p99_ms} | {r.burst} | "
        f"{r.rate_per_s} | {r.at_rate} |"
        for r in rows
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def _broker(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    with session_broker(os.environ) as broker:
        yield broker.bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.support",
        description="Support ticket routing throughput and latency vs a raw aiokafka passthrough.",
    )
    parser.add_argument("--bootstrap", help="broker to use (default: start a local one)")
    parser.add_argument("--tickets", type=int, default=300, help="tickets in the burst")
    parser.add_argument("--steady", type=int, default=200, help="tickets at the fixed rate")
    parser.add_argument("--rate", type=float, default=40.0, help="fixed rate, tickets per second")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    with _broker(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(run(bootstrap, args.tickets, args.steady, args.rate, Path(tmp)))
    report = markdown(rows)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"support-{stamp}.md").write_text(report + "\n")
    path = args.out / f"support-{stamp}.json"
    path.write_text(json.dumps({"at": stamp, "rows": [asdict(r) for r in rows]}, indent=2))
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
