"""The floor any flow is measured against: a raw aiokafka consume -> produce passthrough.

Same broker, same run, same message count and rate as the flow under test, no decoding and no
state: what is left when the hub's work is taken away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.connectors.kafka_admin import apply_topics
from hub.topics import DEFAULT_PARTITIONS, TopicSpec

# Producer batching for every baseline producer: a short linger lets a burst fill batches while
# adding at most a couple of milliseconds at low rates; bigger batches than the 16 KiB default.
PRODUCER_TUNING: dict[str, Any] = {"acks": "all", "linger_ms": 2, "max_batch_size": 256 * 1024}


@dataclass(frozen=True)
class Run:
    """One measured run: messages, seconds from first send to last arrival, per-message latency."""

    messages: int
    seconds: float
    latencies_s: tuple[float, ...]

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def percentile(values: tuple[float, ...] | list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100): the smallest value with ``pct``% at or below.

    0.0 for no values. (``round`` would round half to even and skip ranks.)
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


async def paced(count: int, rate: float | None, send: Callable[[int], Awaitable[None]]) -> None:
    """Call ``send(i)`` ``count`` times, at ``rate`` per second or as fast as possible."""
    start = time.monotonic()
    for index in range(count):
        if rate:
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await send(index)


async def passthrough(
    bootstrap: str, prefix: str, count: int, rate: float | None, payload: bytes
) -> Run:
    """Send ``count`` messages to ``<prefix>in``, copy them to ``<prefix>out``, time the trip."""
    source, sink = f"{prefix}in", f"{prefix}out"
    await apply_topics(
        bootstrap,
        [
            TopicSpec(source, "k", (), "bench in", partitions=DEFAULT_PARTITIONS),
            TopicSpec(sink, "k", (), "bench out", partitions=DEFAULT_PARTITIONS),
        ],
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_TUNING)
    relay_in = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=f"{prefix}relay", auto_offset_reset="earliest"
    )
    watch = AIOKafkaConsumer(
        sink, bootstrap_servers=bootstrap, group_id=f"{prefix}watch", auto_offset_reset="earliest"
    )
    await asyncio.gather(producer.start(), relay_in.start(), watch.start())
    sent: dict[bytes, float] = {}
    latencies: list[float] = []

    async def relay() -> None:
        async for message in relay_in:
            await producer.send(sink, key=message.key, value=message.value)

    async def observe() -> None:
        async for message in watch:
            if message.key in sent:
                latencies.append(time.monotonic() - sent[message.key])
            if len(latencies) >= count:
                return

    relay_task = asyncio.create_task(relay())
    try:
        await asyncio.sleep(3)  # let both groups join before the clock starts
        observer = asyncio.create_task(observe())
        start = time.monotonic()

        async def send(index: int) -> None:
            key = f"m{index}".encode()
            sent[key] = time.monotonic()
            await producer.send(source, key=key, value=payload)

        await paced(count, rate, send)
        # A large run (the consumption benchmark's 6,000,000) needs longer than 120 s to drain.
        await asyncio.wait_for(observer, timeout=120 + count / 2_000)
        return Run(count, time.monotonic() - start, tuple(latencies))
    finally:
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
        await asyncio.gather(relay_in.stop(), watch.stop(), producer.stop())


async def passthrough_pair(
    bootstrap: str, prefix: str, count: int, steady: int, rate: float, payload: bytes
) -> tuple[Run, Run]:
    """The baseline for a flow's two runs: a burst of ``count``, then ``steady`` at ``rate``."""
    burst = await passthrough(bootstrap, f"{prefix}base.burst.", count, None, payload)
    at_rate = await passthrough(bootstrap, f"{prefix}base.rate.", steady, rate, payload)
    return burst, at_rate


@dataclass(frozen=True)
class Row:
    """One line of a flow's table beside its baseline: burst throughput, latency at a rate."""

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


def markdown(rows: list[Row], unit: str) -> str:
    """The rows as a Markdown table; ``unit`` names what is counted (orders, tickets)."""
    lines = [
        f"| pipeline | {unit}/s (burst) | p50 ms | p99 ms | burst | rate/s | at rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.pipeline} | {r.per_s_burst} | {r.p50_ms} | {r.p99_ms} | {r.burst} | "
        f"{r.rate_per_s} | {r.at_rate} |"
        for r in rows
    ]
    return "\n".join(lines)


def save_rows(out: Path, name: str, rows: list[Row]) -> Path:
    """Write ``rows`` as ``<out>/<name>-<time>.json``; returns the path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"{name}-{stamp}.json"
    path.write_text(json.dumps({"at": stamp, "rows": [asdict(r) for r in rows]}, indent=2))
    return path
