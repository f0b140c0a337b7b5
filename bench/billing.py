"""Rating benchmark: SubscriptionProvisioned -> ChargeRated through a real worker.

Measures, on one broker in one run, a burst of provisioning events rated into charges
(charges/s, from the first send to the last ChargeRated on the charges topic), next to a raw
aiokafka passthrough (``bench.baseline``) of the same count. Prints Markdown, writes JSON to
bench/results/. Usage: ``python -m bench.billing --count 2000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.baseline import passthrough
from bench.harness import envelope
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, producer, publish
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import ResellerUpserted
from hub.topics import Topic, TopicCatalog
from tests.support.broker import session_broker

RESULTS = Path(__file__).parent / "results"
RESELLERS = tuple(f"benchbill{i}" for i in range(3))
CODEC = Codec()


def reference(topics: TopicCatalog) -> list[Outgoing]:
    return [
        Outgoing(
            topics.name(Topic.RESELLERS),
            rid,
            ResellerUpserted(
                **envelope(rid),
                reseller=ResellerProfile(
                    reseller_id=rid,
                    partner_id="4199997",
                    name="Bench Billing",
                    country="DE",
                    currency="EUR",
                    languages=("de",),
                    billing_mode=BillingMode.RESELLER_BILLS,
                    support_mode=SupportMode.RESELLER_OWN,
                    credit_limit_minor=10**12,
                    payment_terms_days=30,
                ),
            ),
        )
        for rid in RESELLERS
    ]


def provisioned(index: int) -> SubscriptionProvisioned:
    rid = RESELLERS[index % len(RESELLERS)]
    return SubscriptionProvisioned(
        **envelope(rid),
        order_id=f"o-{index}",
        line_index=0,
        customer_id=f"c-{index}",
        subscription_id=f"s-{index}-{uuid.uuid4().hex[:6]}",
        microsoft_order_id=f"ms-{index}",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=1 + index % 20,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=date(2026, 11, 1),
        term_end=date(2027, 11, 1),
        unit_cost_minor=600,
        unit_price_minor=700,
        currency="EUR",
    )


async def count_until(bootstrap: str, topic: str, count: int, timeout_s: float) -> float:
    """Read ``topic`` from the start until ``count`` records arrived; returns the arrival time."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {seen} of {count} after {timeout_s}s")
            batch = await consumer.getmany(timeout_ms=500)
            seen += sum(len(records) for records in batch.values())
        return time.monotonic()
    finally:
        await consumer.stop()


async def rating(bootstrap: str, count: int, state: Path) -> dict[str, float]:
    prefix = f"bench.billing.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    await apply_topics(bootstrap, topics.all(RESELLERS))
    await publish(bootstrap, CODEC, reference(topics))
    worker = WorkerProcess(
        bootstrap, state, topic_prefix=prefix, app_id=f"bench-billing-{uuid.uuid4().hex[:6]}"
    ).start()
    try:
        await asyncio.to_thread(worker.wait_ready)
        # Warm-up: one charge proves the agents are assigned before the clock starts.
        await publish(
            bootstrap,
            CODEC,
            [Outgoing(topics.name(Topic.PROVISIONING), RESELLERS[0], provisioned(0))],
        )
        await count_until(bootstrap, topics.name(Topic.CHARGES), 1, 90)
        events = [provisioned(i) for i in range(1, count + 1)]
        encoded = [(e.reseller_id or "", CODEC.encode(e), event_headers(e)) for e in events]
        source = topics.name(Topic.PROVISIONING)
        start = time.monotonic()
        async with producer(bootstrap) as client:
            for key, value, headers in encoded:
                await client.send(source, key=key.encode(), value=value, headers=headers)
            await client.flush()
        done = await count_until(bootstrap, topics.name(Topic.CHARGES), count + 1, 600)
        seconds = done - start
        return {"messages": count, "seconds": seconds, "per_second": count / seconds}
    finally:
        worker.stop()


async def main(count: int) -> dict[str, Any]:
    with session_broker(os.environ) as broker, tempfile.TemporaryDirectory() as tmp:
        rated = await rating(broker.bootstrap, count, Path(tmp))
        payload = CODEC.encode(provisioned(0))
        base = await passthrough(
            broker.bootstrap, f"bench.pass.{uuid.uuid4().hex[:8]}.", count, None, payload
        )
    return {
        "when": datetime.now(UTC).isoformat(),
        "count": count,
        "rating": rated,
        "passthrough": {
            "messages": base.messages,
            "seconds": base.seconds,
            "per_second": base.per_second,
        },
    }


def report(result: dict[str, Any]) -> str:
    r, p = result["rating"], result["passthrough"]
    return "\n".join(
        [
            f"Rating benchmark, {result['count']} messages, one broker, one run",
            "",
            "| path | messages/s | seconds |",
            "|---|---:|---:|",
            f"| SubscriptionProvisioned -> ChargeRated (worker) | {r['per_second']:.0f} | "
            f"{r['seconds']:.2f} |",
            f"| raw aiokafka passthrough | {p['per_second']:.0f} | {p['seconds']:.2f} |",
        ]
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(main(args.count))
    print(report(result))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "billing.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    cli()
