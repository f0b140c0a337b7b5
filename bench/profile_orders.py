"""Profiles order intake: the hub's faust app in this process under cProfile, fed through Kafka.

The app is built by ``hub.app.build_app`` (orders flow only) and run by a faust worker on the main
thread; a feeder thread publishes reference data and a burst of orders and waits for every
OrderAccepted. The profiler is switched on from inside the app's loop just for the burst.
Usage: ``python -m bench.profile_orders [--orders N]``; prints the top costs, writes .pstats.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import os
import pstats
import signal
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import faust

from bench import orders as o
from bench.__main__ import broker
from bench.harness import CODEC, Arrivals, Driver, message
from bench.runs import PARTITIONS, reference_loaded
from hub.app import build_app
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import publish
from hub.ops.local_kafka import free_port
from hub.settings import load_settings
from hub.streams import orders as orders_flow
from hub.topics import Topic, TopicCatalog

RESULTS = Path(__file__).parent / "results"


def batch_sizes() -> str:
    """Messages per journal entry, per flow, from the worker's own histogram."""
    from prometheus_client import REGISTRY

    parts = []
    for metric in REGISTRY.collect():
        if metric.name != "hub_journal_batch_messages":
            continue
        count = {s.labels["flow"]: s.value for s in metric.samples if s.name.endswith("_count")}
        total = {s.labels["flow"]: s.value for s in metric.samples if s.name.endswith("_sum")}
        for flow, n in sorted(count.items()):
            parts.append(f"{flow}: {n:.0f} entries, {total[flow] / max(n, 1):.1f} messages each")
    return "journal batches: " + ("; ".join(parts) or "none")


class Switch:
    """Turns the profiler on and off from the app's own loop (cProfile is per thread)."""

    def __init__(self) -> None:
        self.profiler = cProfile.Profile()
        self.wanted = False
        self.on = False
        self.seconds = 0.0
        self._since = 0.0

    def sync(self) -> None:
        if self.wanted and not self.on:
            self.profiler.enable()
            self.on, self._since = True, time.monotonic()
        elif not self.wanted and self.on:
            self.profiler.disable()
            self.on = False
            self.seconds += time.monotonic() - self._since


def _metrics(web_port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=2) as page:
            return str(page.read().decode())
    except OSError:
        return ""  # not up yet


async def feed(bootstrap: str, topics: TopicCatalog, web_port: int, switch: Switch, n: int) -> str:
    reference = o.reference(topics)
    await publish(bootstrap, CODEC, reference)
    deadline = time.monotonic() + 120
    while reference_loaded(await asyncio.to_thread(_metrics, web_port)) < len(reference):
        if time.monotonic() > deadline:
            raise TimeoutError("worker never loaded the reference data")
        await asyncio.sleep(0.3)
    tag = uuid.uuid4().hex[:8]
    inputs = [message(o.order(f"P-{i}"), f"profile-{tag}-{i}") for i in range(n + 20)]
    source = topics.name(Topic.ORDERS)
    arrivals = Arrivals(bootstrap, [topics.name(Topic.ORDER_DECISIONS)], PARTITIONS)
    async with Driver(bootstrap, arrivals, os.getpid()) as driver:
        await driver.measure(source, inputs[:20], ["OrderAccepted"], timeout_s=150)
        switch.wanted = True
        await asyncio.sleep(0.3)
        (burst,) = await driver.measure(source, inputs[20:], ["OrderAccepted"])
        switch.wanted = False
        await asyncio.sleep(0.3)
    levels = {
        name: logging.getLevelName(logging.getLogger(name).getEffectiveLevel())
        for name in ("", "aiokafka.producer.producer", "faust.topics")
    }
    rate = f"{burst.run.seconds:.2f}s = {burst.run.per_second:.1f}/s"
    return f"log levels {levels}; {n} orders to OrderAccepted in {rate}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_orders", description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=RESULTS / "profile-orders.pstats")
    args = parser.parse_args(argv)
    with broker() as bootstrap, o.simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        prefix = f"bench.profile.{uuid.uuid4().hex[:8]}."
        topics = TopicCatalog(prefix)
        asyncio.run(apply_topics(bootstrap, topics.all([o.RESELLER])))
        settings = load_settings(
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=prefix,
            app_id=f"bench-profile-{uuid.uuid4().hex[:6]}",
            state_dir=Path(tmp),
            worker_web_port=free_port(),
            partner_center_url=sim,
        )
        app = build_app(settings, modules=(orders_flow.register,))
        switch = Switch()

        @app.timer(interval=0.05)  # type: ignore[untyped-decorator]
        async def profiler_switch() -> None:
            switch.sync()

        outcome: list[str] = []

        def feeder() -> None:
            try:
                outcome.append(
                    asyncio.run(feed(bootstrap, topics, settings.web_port, switch, args.orders))
                )
            except Exception as exc:  # noqa: BLE001 - reported below, the worker must stop anyway
                outcome.append(f"feeder failed: {exc!r}")
            finally:
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=feeder, daemon=True).start()
        worker = faust.Worker(app, loglevel="warning", quiet=True)
        worker.spinner = None  # as hub/cli.py: else faust puts the root logger at DEBUG
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    switch.profiler.dump_stats(str(args.out))
    out = io.StringIO()
    stats = pstats.Stats(switch.profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())
    print("\n".join(outcome), f"(profiled {switch.seconds:.2f}s)", file=sys.stderr)
    print(batch_sizes(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
