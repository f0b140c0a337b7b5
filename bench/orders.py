"""Orders pipeline benchmark: orders/s and latency through a real worker and the simulator.

Measures, on one broker in one run: order intake (OrderRequested -> OrderAccepted) and the whole
order (-> SubscriptionProvisioned through the Partner Center simulator, no injected latency), as
a burst (orders/s) and at a fixed rate (p50/p99), next to a raw aiokafka passthrough
(``bench.baseline``). Prints a Markdown table and writes JSON to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.baseline import Run, paced, passthrough, percentile
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, producer, publish
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.local_kafka import free_port
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.orders import OrderLine, OrderRequested
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.streams.pipeline import event_headers
from hub.testing.broker import session_broker
from hub.testing.worker import WorkerProcess
from hub.topics import Topic, TopicCatalog

RESULTS = Path(__file__).parent / "results"
RESELLER, CUSTOMER = "benchco", "bench-customer"
ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("US",),
)
CODEC = Codec()


def _envelope(reseller_id: str | None) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"bench-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def reference(topics: TopicCatalog) -> list[Outgoing]:
    reseller = ResellerProfile(
        reseller_id=RESELLER,
        partner_id="4199999",
        name="Bench Co",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**15,
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
    price = PriceListEntry(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=600,
        effective_from=date(2020, 1, 1),
    )
    events: list[tuple[Topic, str, Event]] = [
        (Topic.RESELLERS, RESELLER, ResellerUpserted(**_envelope(RESELLER), reseller=reseller)),
        (Topic.CUSTOMERS, CUSTOMER, CustomerUpserted(**_envelope(RESELLER), customer=customer)),
        (Topic.CATALOG, ITEM.catalog_item_id, CatalogItemUpserted(**_envelope(None), item=ITEM)),
        (
            Topic.PRICES,
            ITEM.catalog_item_id,
            PriceListEntryUpserted(**_envelope(None), price_list_id="msft", entry=price),
        ),
    ]
    return [Outgoing(topics.name(t), key, event) for t, key, event in events]


def order(order_id: str) -> OrderRequested:
    line = OrderLine(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=1,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        **_envelope(RESELLER),
        order_id=order_id,
        customer_id=CUSTOMER,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


class Arrivals:
    """Watches decisions and provisioning from their current end; notes when each order shows."""

    def __init__(self, bootstrap: str, topics: TopicCatalog) -> None:
        self._names = [topics.name(Topic.ORDER_DECISIONS), topics.name(Topic.PROVISIONING)]
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.seen: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        partitions = [
            TopicPartition(name, p)
            for name in self._names
            for p in sorted(self._consumer.partitions_for_topic(name) or {0, 1, 2})
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self._consumer:
            headers = dict(message.headers or [])
            kind = headers.get("hub.event-type", b"").decode()
            event = CODEC.decode(message.value or b"")
            order_id = str(getattr(event, "order_id", ""))
            self.seen.setdefault((kind, order_id), time.monotonic())

    async def wait(self, kind: str, order_ids: list[str], timeout_s: float) -> float:
        """The arrival time of the last of ``order_ids`` as ``kind``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            times = [self.seen.get((kind, oid)) for oid in order_ids]
            if all(t is not None for t in times):
                return max(t for t in times if t is not None)
            await asyncio.sleep(0.05)
        missing = sum(1 for oid in order_ids if (kind, oid) not in self.seen)
        raise TimeoutError(f"{missing} of {len(order_ids)} orders never reached {kind}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


@dataclass(frozen=True)
class Row:
    pipeline: str
    orders_per_s: float
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


async def measure_hub(
    bootstrap: str, topics: TopicCatalog, arrivals: Arrivals, count: int, rate: float | None
) -> tuple[Run, Run]:
    """One batch of orders: (intake run, provisioned run), latencies from each order's send."""
    ids = [f"B-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    sent: dict[str, float] = {}
    orders_topic = topics.name(Topic.ORDERS)
    async with producer(bootstrap) as client:
        start = time.monotonic()

        async def send(index: int) -> None:
            event = order(ids[index])
            sent[ids[index]] = time.monotonic()
            await client.send(
                orders_topic,
                key=RESELLER.encode(),
                value=CODEC.encode(event),
                headers=event_headers(event),
            )

        await paced(count, rate, send)
        await client.flush()
    timeout = 120 + count
    accepted_end = await arrivals.wait("OrderAccepted", ids, timeout)
    provisioned_end = await arrivals.wait("SubscriptionProvisioned", ids, timeout)

    def latencies(kind: str) -> tuple[float, ...]:
        return tuple(arrivals.seen[(kind, oid)] - sent[oid] for oid in ids)

    return (
        Run(count, accepted_end - start, latencies("OrderAccepted")),
        Run(count, provisioned_end - start, latencies("SubscriptionProvisioned")),
    )


def _wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


def _reference_loaded(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/orders-reference/"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            loaded = json.loads(response.read())
    except OSError:
        return False
    return CUSTOMER in loaded["customers"] and ITEM.catalog_item_id in loaded["prices"]


def _wait_reference(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not _reference_loaded(port):
        if time.monotonic() > deadline:
            raise TimeoutError("the worker never loaded the bench's reference data")
        time.sleep(0.3)


@contextlib.contextmanager
def simulator() -> Iterator[str]:
    """The Partner Center simulator as its own process (no injected latency or faults)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "partner-center", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/admin/state")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def run(
    bootstrap: str, simulator_url: str, count: int, steady: int, rate: float, state: Path
) -> list[Row]:
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(bootstrap, topics.all([RESELLER]))
    await publish(bootstrap, CODEC, reference(topics))
    worker = WorkerProcess(
        bootstrap,
        state,
        topic_prefix=prefix,
        app_id=f"bench-{uuid.uuid4().hex[:8]}",
        env={"HUB_PARTNER_CENTER_URL": simulator_url},
    )
    arrivals = Arrivals(bootstrap, topics)
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        await asyncio.to_thread(_wait_reference, worker.web_port)
        await arrivals.start()
        await measure_hub(bootstrap, topics, arrivals, 5, None)  # warm-up: sessions, caches
        intake_burst, order_burst = await measure_hub(bootstrap, topics, arrivals, count, None)
        intake_rate, order_rate = await measure_hub(bootstrap, topics, arrivals, steady, rate)
        payload = CODEC.encode(order("payload-size"))
        base_burst = await passthrough(bootstrap, f"{prefix}base.burst.", count, None, payload)
        base_rate = await passthrough(bootstrap, f"{prefix}base.rate.", steady, rate, payload)
    finally:
        await arrivals.stop()
        await asyncio.to_thread(worker.stop)
    return [
        row("raw aiokafka passthrough (baseline)", base_burst, base_rate, rate),
        row("order intake -> OrderAccepted", intake_burst, intake_rate, rate),
        row("order -> SubscriptionProvisioned (simulator)", order_burst, order_rate, rate),
    ]


def markdown(rows: list[Row]) -> str:
    lines = [
        "| pipeline | orders/s (burst) | p50 ms | p99 ms | burst | rate/s | at rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.pipeline} | {r.orders_per_s} | {r.p50_ms} | {r.p99_ms} | {r.burst} | "
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
        prog="python -m bench.orders",
        description="Orders pipeline throughput and latency vs a raw aiokafka passthrough.",
    )
    parser.add_argument("--bootstrap", help="broker to use (default: start a local one)")
    parser.add_argument("--orders", type=int, default=200, help="orders in the burst")
    parser.add_argument("--steady", type=int, default=100, help="orders sent at the fixed rate")
    parser.add_argument("--rate", type=float, default=20.0, help="fixed rate, orders per second")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    with (
        _broker(args.bootstrap) as bootstrap,
        simulator() as simulator_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        rows = asyncio.run(
            run(bootstrap, simulator_url, args.orders, args.steady, args.rate, Path(tmp))
        )
    print(markdown(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"orders-{stamp}.json"
    path.write_text(json.dumps({"at": stamp, "rows": [asdict(r) for r in rows]}, indent=2))
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
