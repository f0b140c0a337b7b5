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
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from aiokafka import ConsumerRecord

from bench.baseline import Row, Run, markdown, passthrough_pair, row, save_rows
from bench.harness import (
    CODEC,
    TYPE_HEADER,
    Arrivals,
    clean_env,
    envelope,
    fresh_topics,
    given_or_session_broker,
    send_timed,
)
from bench.runs import PARTITIONS, background_nice
from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.local_kafka import free_port
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderLine, OrderRequested
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
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


def reseller_reference(topics: TopicCatalog, rid: str, customer_id: str) -> list[Outgoing]:
    """A reseller without a credit worry and its one customer."""
    reseller = ResellerProfile(
        reseller_id=rid,
        partner_id="4199999",
        name=f"Bench {rid}",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**15,
        payment_terms_days=30,
    )
    customer = Customer(
        customer_id=customer_id,
        reseller_id=rid,
        name=f"Customer of {rid}",
        country="US",
        language="en",
        currency="USD",
    )
    events: list[tuple[Topic, str, Event]] = [
        (Topic.RESELLERS, rid, ResellerUpserted(**envelope(rid), reseller=reseller)),
        (Topic.CUSTOMERS, customer_id, CustomerUpserted(**envelope(rid), customer=customer)),
    ]
    return [Outgoing(topics.name(t), key, event) for t, key, event in events]


def reference(
    topics: TopicCatalog, resellers: Sequence[tuple[str, str]] = ((RESELLER, CUSTOMER),)
) -> list[Outgoing]:
    """Each (reseller, customer) of ``resellers``, plus the catalogue item and its price."""
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
    out = [o for rid, customer in resellers for o in reseller_reference(topics, rid, customer)]
    return [
        *out,
        Outgoing(
            topics.name(Topic.CATALOG),
            ITEM.catalog_item_id,
            CatalogItemUpserted(**envelope(None), item=ITEM),
        ),
        Outgoing(
            topics.name(Topic.PRICES),
            ITEM.catalog_item_id,
            PriceListEntryUpserted(**envelope(None), price_list_id="msft", entry=price),
        ),
    ]


def order(order_id: str, rid: str = RESELLER, customer_id: str = CUSTOMER) -> OrderRequested:
    line = OrderLine(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=1,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        **envelope(rid),
        order_id=order_id,
        customer_id=customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


def _by_order(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str]:
    kind = dict(record.headers or ()).get(TYPE_HEADER, b"").decode()
    return kind, str(getattr(CODEC.decode(record.value or b""), "order_id", ""))


def arrivals(bootstrap: str, topics: TopicCatalog) -> Arrivals:
    """Decisions and provisioning watched from their current end, by order id."""
    names = [topics.name(Topic.ORDER_DECISIONS), topics.name(Topic.PROVISIONING)]
    return Arrivals(bootstrap, names, PARTITIONS, from_end=True, key=_by_order)


async def measure_hub(
    bootstrap: str, topics: TopicCatalog, arrivals: Arrivals, count: int, rate: float | None
) -> tuple[Run, Run]:
    """One batch of orders: (intake run, provisioned run), latencies from each order's send."""
    ids = [f"B-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    start, sent = await send_timed(
        bootstrap, topics.name(Topic.ORDERS), RESELLER.encode(), ids, order, rate
    )
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
    """The Partner Center simulator as its own process (no injected latency or faults), at
    the background priority of the bench (``runs.background_nice``): Microsoft's side, which
    has hosts of its own, takes what the hub's workers leave of this machine's cores."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "partner-center", "--port", str(port)],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.setpriority(os.PRIO_PROCESS, proc.pid, background_nice())
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
    topics, _ = await fresh_topics(bootstrap, prefix, [RESELLER], reference)
    worker = WorkerProcess(
        bootstrap,
        state,
        topic_prefix=prefix,
        app_id=f"bench-{uuid.uuid4().hex[:8]}",
        env={"HUB_PARTNER_CENTER_URL": simulator_url},
    )
    watch = arrivals(bootstrap, topics)
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        await asyncio.to_thread(_wait_reference, worker.web_port)
        await watch.start()
        await measure_hub(bootstrap, topics, watch, 5, None)  # warm-up: sessions, caches
        intake_burst, order_burst = await measure_hub(bootstrap, topics, watch, count, None)
        intake_rate, order_rate = await measure_hub(bootstrap, topics, watch, steady, rate)
        payload = CODEC.encode(order("payload-size"))
        base_burst, base_rate = await passthrough_pair(
            bootstrap, prefix, count, steady, rate, payload
        )
    finally:
        await watch.stop()
        await asyncio.to_thread(worker.stop)
    return [
        row("raw aiokafka passthrough (baseline)", base_burst, base_rate, rate),
        row("order intake -> OrderAccepted", intake_burst, intake_rate, rate),
        row("order -> SubscriptionProvisioned (simulator)", order_burst, order_rate, rate),
    ]


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
        given_or_session_broker(args.bootstrap) as bootstrap,
        simulator() as simulator_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        rows = asyncio.run(
            run(bootstrap, simulator_url, args.orders, args.steady, args.rate, Path(tmp))
        )
    print(markdown(rows, "orders"))
    path = save_rows(args.out, "orders", rows)
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
