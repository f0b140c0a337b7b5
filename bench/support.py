"""Support routing benchmark: TicketOpened -> TicketRouted through a real worker.

Measures on one broker in one run a burst (tickets/s) and a fixed offered rate (p50/p99 from
each ticket's send to its TicketRouted on the ops topic), next to a raw aiokafka passthrough
(``bench.baseline``) of the same count and rate. Prints Markdown, writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

from aiokafka import ConsumerRecord

from bench.baseline import Row, Run, markdown, passthrough_pair, row, save_rows
from bench.harness import (
    CODEC,
    TYPE_HEADER,
    Arrivals,
    envelope,
    fresh_topics,
    given_or_session_broker,
    send_timed,
)
from bench.runs import PARTITIONS, wait_reference
from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.events.support import TicketOpened
from hub.topics import Topic, TopicCatalog

RESULTS = Path(__file__).parent / "results"
RESELLER, CUSTOMER = "benchsupport", "bench-support-customer"
ROUTED = "TicketRouted"


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
        (Topic.RESELLERS, RESELLER, ResellerUpserted(**envelope(RESELLER), reseller=reseller)),
        (Topic.CUSTOMERS, CUSTOMER, CustomerUpserted(**envelope(RESELLER), customer=customer)),
    ]
    return [Outgoing(topics.name(t), key, event) for t, key, event in events]


def ticket(ticket_id: str) -> TicketOpened:
    return TicketOpened(
        **envelope(RESELLER),
        ticket_id=ticket_id,
        customer_id=CUSTOMER,
        title="How do I add a licence?",
        description="We need five more seats.",
        category=TicketCategory.QUESTIONS,
        severity=Severity.MINIMAL,
        language="en",
        service="m365",
    )


def _by_ticket(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str]:
    return dict(record.headers or ()).get(TYPE_HEADER, b"").decode(), (record.key or b"").decode()


async def measure(
    bootstrap: str, topics: TopicCatalog, arrivals: Arrivals, count: int, rate: float | None
) -> Run:
    ids = [f"T-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    start, sent = await send_timed(
        bootstrap, topics.name(Topic.TICKETS), RESELLER.encode(), ids, ticket, rate
    )
    end = await arrivals.wait(ROUTED, ids, 120 + count)
    return Run(count, end - start, tuple(arrivals.seen[(ROUTED, i)] - sent[i] for i in ids))


async def run(bootstrap: str, count: int, steady: int, rate: float, state: Path) -> list[Row]:
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    topics, loaded = await fresh_topics(bootstrap, prefix, [RESELLER], reference)
    worker = WorkerProcess(
        bootstrap, state, topic_prefix=prefix, app_id=f"bench-support-{uuid.uuid4().hex[:8]}"
    )
    arrivals = Arrivals(
        bootstrap,
        [topics.name(Topic.SUPPORT_EVENTS)],
        PARTITIONS,
        from_end=True,
        key=_by_ticket,
    )
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        await asyncio.to_thread(wait_reference, worker, loaded, 60)
        await arrivals.start()
        await measure(bootstrap, topics, arrivals, 5, None)  # warm-up
        burst = await measure(bootstrap, topics, arrivals, count, None)
        at_rate = await measure(bootstrap, topics, arrivals, steady, rate)
        payload = CODEC.encode(ticket("payload-size"))
        base_burst, base_rate = await passthrough_pair(
            bootstrap, prefix, count, steady, rate, payload
        )
    finally:
        await arrivals.stop()
        await asyncio.to_thread(worker.stop)
    return [
        row("raw aiokafka passthrough (baseline)", base_burst, base_rate, rate),
        row("TicketOpened -> TicketRouted", burst, at_rate, rate),
    ]


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
    with given_or_session_broker(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(run(bootstrap, args.tickets, args.steady, args.rate, Path(tmp)))
    report = markdown(rows, "tickets")
    print(report)
    path = save_rows(args.out, "support", rows)
    path.with_suffix(".md").write_text(report + "\n")
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
