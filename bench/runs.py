"""How each kind of scenario is run: baselines, hub flows through a worker, in-process batches."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.harness import (
    Arrivals,
    Child,
    Driver,
    Measured,
    Message,
    clean_env,
    fresh_topics,
    message,
)
from bench.proc import usage
from bench.report import RAW, Kind, Result, measured, unavailable
from bench.scenarios import Batch, HubFlow, Scaling, scaling_row
from hub.connectors.kafka_admin import apply_topics
from hub.ops.local_kafka import free_port
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.topics import DEFAULT_PARTITIONS, TopicSpec

PARTITIONS = DEFAULT_PARTITIONS  # the hub's (HUB_KAFKA_PARTITIONS); baselines use the same
WARMUP_TIMEOUT_S = 150.0
IDLE_SAMPLE_S = 2.0


@dataclass(frozen=True)
class Sizes:
    burst: int
    warmup: int
    rate: float
    rate_seconds: float
    subscriptions: int
    # The month end (bench/month_end.py): the white-label reseller's subscriptions, and how
    # many other resellers of how many subscriptions.
    month_big: int = 5_000
    month_resellers: int = 5
    month_each: int = 200
    # Each scaling flow's burst, spread over every partition (250 events a partition): longer
    # than a one-partition burst so that 3 workers on 2 cores still run for several seconds.
    scaling_burst: int = 3_000

    @property
    def at_rate(self) -> int:
        return int(self.rate * self.rate_seconds)


QUICK = Sizes(
    burst=200,
    warmup=10,
    rate=1000.0,
    rate_seconds=1.0,
    subscriptions=1_000_000,
    scaling_burst=480,
)
FULL = Sizes(
    burst=2000,
    warmup=20,
    rate=1000.0,
    rate_seconds=5.0,
    subscriptions=1_000_000,
    month_big=100_000,
    month_resellers=100,
    month_each=1_000,
)


def flow_groups(flow: HubFlow) -> list[dict[str, str]]:
    """Each worker's ``HUB_FLOWS`` for ``flow``, one worker per flow group (``|`` between
    groups); none: one worker of every flow, as with BENCH_ALL_FLOWS=1."""
    if not flow.flows or os.environ.get("BENCH_ALL_FLOWS", "").strip() == "1":
        return [{}]
    return [{"HUB_FLOWS": group} for group in flow.flows.split("|")]


def background_nice() -> int:
    """The nice value of a flow's background group (``HubFlow.background``): 19, the OS's
    lowest priority, unless ``BENCH_BACKGROUND_NICE`` says otherwise (0: as equals)."""
    return int(os.environ.get("BENCH_BACKGROUND_NICE", "").strip() or 19)


def reference_loaded(metrics: str) -> float:
    """How many reference events the worker has consumed, from its Prometheus page."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("hub_events_in_total{") and 'flow="reference"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def events_in(metrics: str, flow: str, event_type: str) -> float:
    """How many ``event_type`` events ``flow`` has consumed, from a worker's Prometheus page."""
    total = 0.0
    for line in metrics.splitlines():
        if (
            line.startswith("hub_events_in_total{")
            and f'flow="{flow}"' in line
            and f'event_type="{event_type}"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def idle_cpu(pids: Sequence[int], seconds: float) -> list[float]:
    """Each process's CPU over ``seconds`` with nothing sent, in ms per second: what a worker
    spends polling, heartbeating and reading reference topics however few events come."""
    before = [usage(pid) for pid in pids]
    time.sleep(seconds)
    after = [usage(pid) for pid in pids]
    return [(a.cpu_s - b.cpu_s) / seconds * 1000 for a, b in zip(after, before, strict=True)]


def wait_settled(
    workers: Sequence[WorkerProcess], hold_s: float = 3.0, timeout_s: float = 120.0
) -> None:
    """Block until every worker's ``/readyz`` has answered 200 on every poll for ``hold_s``: the
    group has settled after the last one joined (a rebalance it started would show within a
    heartbeat as a 503 on the others)."""
    deadline = time.monotonic() + timeout_s
    since: float | None = None
    while True:
        for worker in workers:
            if not worker.running():
                raise RuntimeError(f"a worker exited while the group settled:\n{worker.log_tail()}")
        now = time.monotonic()
        if all(worker.ready() for worker in workers):
            since = now if since is None else since
            if now - since >= hold_s:
                return
        else:
            since = None
        if now > deadline:
            raise TimeoutError(f"the {len(workers)} workers never were all ready for {hold_s}s")
        time.sleep(0.3)


def wait_reference(worker: WorkerProcess, expected: int, timeout_s: float = 90) -> None:
    """Block until ``worker`` has consumed ``expected`` reference events."""
    deadline = time.monotonic() + timeout_s
    while reference_loaded(worker.metrics()) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker never loaded the {expected} reference events")
        time.sleep(0.3)


class Bench:
    """One benchmark run: a broker, a scratch directory, a run id that names every topic."""

    def __init__(
        self, bootstrap: str, work: Path, run_id: str, sizes: Sizes, simulator_url: str
    ) -> None:
        self.bootstrap, self.work, self.run_id = bootstrap, work, run_id
        self.sizes, self.simulator_url = sizes, simulator_url

    def prefix(self, slug: str) -> str:
        return f"bench.{self.run_id}.{slug}."

    def split(self, slug: str, events: Sequence[Event]) -> tuple[list[Message], ...]:
        """Inputs tagged with unique correlation ids, cut into warm-up, burst and fixed-rate."""
        tagged = [message(e, f"{self.run_id}-{slug}-{i}") for i, e in enumerate(events)]
        warm, burst = self.sizes.warmup, self.sizes.warmup + self.sizes.burst
        return tagged[:warm], tagged[warm:burst], tagged[burst:]

    # -- baselines ------------------------------------------------------------------------

    async def baseline(self, which: str, payload: Event) -> list[Result]:
        """The raw relay or the bare faust agent: a burst, then the fixed offered load."""
        slug = "raw" if which == RAW else "faust"
        prefix = self.prefix(slug)
        source, sink = f"{prefix}in", f"{prefix}out"
        await apply_topics(
            self.bootstrap,
            [
                TopicSpec(source, "reseller", (), "bench in", partitions=PARTITIONS),
                TopicSpec(sink, "reseller", (), "out", partitions=PARTITIONS),
            ],
        )
        child = self._baseline_child(which, prefix, source, sink)
        kind = type(payload).__name__
        sizes = self.sizes
        warm, burst, steady = self.split(
            slug, [payload] * (sizes.warmup + sizes.burst + sizes.at_rate)
        )
        try:
            child.start()
            async with Driver(
                self.bootstrap, Arrivals(self.bootstrap, [sink], PARTITIONS), child.pid
            ) as d:
                await d.measure(source, warm, [kind], timeout_s=WARMUP_TIMEOUT_S)
                (b,) = await d.measure(source, burst, [kind])
                (s,) = await d.measure(source, steady, [kind], rate=sizes.rate)
        finally:
            child.stop()
        return [
            measured(which, Kind.BASELINE, b.run, b.cpu_s, b.worker.peak_rss_bytes),
            _at_rate(which, s, sizes.rate),
        ]

    def _baseline_child(self, which: str, prefix: str, source: str, sink: str) -> Child:
        log = self.work / f"{prefix}log"
        if which == RAW:
            argv = [
                sys.executable,
                "-m",
                "bench.relay",
                "--bootstrap",
                self.bootstrap,
                "--source",
                source,
                "--sink",
                sink,
                "--group",
                f"{prefix}relay",
            ]
            return Child(argv, clean_env(), log)
        env = {
            **clean_env(),
            "BENCH_FAUST_APP_ID": f"{prefix}app",
            "BENCH_FAUST_BOOTSTRAP": self.bootstrap,
            "BENCH_FAUST_DATADIR": str(self.work / f"{prefix}data"),
            "BENCH_FAUST_WEB_PORT": str(free_port()),
            "BENCH_FAUST_SOURCE": source,
            "BENCH_FAUST_SINK": sink,
        }
        return Child([sys.executable, "-m", "bench.faust_bare", "worker", "-l", "warn"], env, log)

    # -- hub flows --------------------------------------------------------------------------

    async def hub_flow(self, flow: HubFlow) -> list[Result]:
        """One worker: reference data in, a warm-up, a burst, and the fixed load if asked."""
        prefix = self.prefix(flow.slug)
        topics, loaded = await fresh_topics(self.bootstrap, prefix, flow.resellers, flow.reference)
        sizes = self.sizes
        total = sizes.warmup + sizes.burst + (sizes.at_rate if flow.latency_run else 0)
        warm, burst, steady = self.split(flow.slug, [flow.make(i) for i in range(total)])
        groups = flow_groups(flow)
        workers = [
            WorkerProcess(
                self.bootstrap,
                self.work / flow.slug / f"w{k}",
                topic_prefix=prefix,
                app_id=f"bench-{flow.slug}-{self.run_id}",
                env={"HUB_PARTNER_CENTER_URL": self.simulator_url, **group},
            )
            for k, group in enumerate(groups)
        ]
        sinks = sorted({topics.name(m.topic) for m in flow.milestones})
        kinds = [m.event_type for m in flow.milestones]
        source = topics.name(flow.source)
        try:
            for worker in workers:
                await asyncio.to_thread(worker.start().wait_ready)
                if worker.proc is not None and worker.env.get("HUB_FLOWS") == flow.background:
                    os.setpriority(os.PRIO_PROCESS, worker.proc.pid, background_nice())
            for worker in workers:
                await asyncio.to_thread(wait_reference, worker, loaded)
            pids = [worker.proc.pid for worker in workers if worker.proc is not None]
            arrivals = Arrivals(self.bootstrap, sinks, PARTITIONS)
            async with Driver(self.bootstrap, arrivals, pids) as d:
                await d.measure(source, warm, kinds, timeout_s=WARMUP_TIMEOUT_S)
                bursts = await d.measure(source, burst, kinds)
                steady_runs = (
                    await d.measure(source, steady, kinds[:1], rate=sizes.rate)
                    if flow.latency_run
                    else []
                )
        finally:
            for worker in workers:
                await asyncio.to_thread(worker.stop)
        results = [
            measured(
                m.scenario,
                Kind.PIPELINE,
                b.run,
                b.cpu_s,
                b.worker.peak_rss_bytes,
                note=flow.note if i == 0 else "",
            )
            for i, (m, b) in enumerate(zip(flow.milestones, bursts, strict=True))
        ]
        results += [_at_rate(flow.milestones[0].scenario, s, sizes.rate) for s in steady_runs]
        return results

    # -- scaling ----------------------------------------------------------------------------

    async def scaling(self, scaling: Scaling, counts: Sequence[int]) -> list[Result]:
        """Each of ``scaling``'s flows through 1, 2, ... workers of one hub, every flow and count
        on its own fresh topics and workers; one that fails is a failed row and the rest run."""
        results: list[Result] = []
        for flow in scaling.flows:
            for n in counts:
                _say(f"  {flow.slug}, {n} worker(s) ...")
                try:
                    results.append(await self._scaled(scaling, flow, n))
                except Exception as exc:  # noqa: BLE001 - one failing must not hide the others
                    traceback.print_exc()
                    why = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
                    group = flow.milestones[0].scenario
                    row = scaling_row(n, flow.slug)
                    results.append(unavailable(row, Kind.SCALING, why, workers=n, group=group))
        if results and scaling.note:  # said once, on the first row
            results[0] = replace(results[0], note=f"{scaling.note}. {results[0].note}".strip())
        return results

    async def _scaled(self, scaling: Scaling, flow: HubFlow, n: int) -> Result:
        """N workers of one group (one app id and prefix, each its own state dir and port):
        all ready and settled, a warm-up touching every reseller, then the measured burst. On
        a failure the workers log their consumer state and each one's log tail is printed."""
        slug = f"{scaling.slug}-{flow.slug}{n}"
        prefix = self.prefix(slug)
        topics, _ = await fresh_topics(self.bootstrap, prefix, scaling.resellers, scaling.reference)
        warmup = max(self.sizes.warmup, 2 * len(scaling.resellers))
        tagged = [
            message(flow.make(i), f"{self.run_id}-{slug}-{i}")
            for i in range(warmup + self.sizes.scaling_burst)
        ]
        warm, burst = tagged[:warmup], tagged[warmup:]
        workers = [
            WorkerProcess(
                self.bootstrap,
                self.work / slug / f"w{k}",
                topic_prefix=prefix,
                app_id=f"bench-{slug}-{self.run_id}",
                env={"HUB_PARTNER_CENTER_URL": self.simulator_url},
                name=f"w{k}",
            )
            for k in range(n)
        ]
        (milestone,) = flow.milestones
        kinds = [milestone.event_type]
        source = topics.name(flow.source)
        arrivals = Arrivals(self.bootstrap, [topics.name(milestone.topic)], PARTITIONS)
        try:
            for worker in workers:
                worker.start()
            await asyncio.gather(*(asyncio.to_thread(w.wait_ready) for w in workers))
            await asyncio.to_thread(wait_settled, workers)
            pids = [w.proc.pid for w in workers if w.proc is not None]
            idle = await asyncio.to_thread(idle_cpu, pids, IDLE_SAMPLE_S)
            async with Driver(self.bootstrap, arrivals, pids) as d:
                await d.measure(source, warm, kinds, timeout_s=WARMUP_TIMEOUT_S)
                before = await asyncio.gather(*(asyncio.to_thread(w.metrics) for w in workers))
                load = os.getloadavg()[0]
                (b,) = await d.measure(source, burst, kinds)
                after = await asyncio.gather(*(asyncio.to_thread(w.metrics) for w in workers))
        except Exception:
            for worker in workers:
                worker.request_report()
            await asyncio.sleep(2)
            for worker in workers:
                _say(f"--- {worker.log_path.name}, its last lines ---\n{worker.log_tail(3000)}")
            raise
        finally:
            await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
        return _scaled_result(flow, n, b, idle, load, before, after)

    # -- month end ------------------------------------------------------------------------

    async def month_end(self, detail: dict[str, Any]) -> list[Result]:
        """The month-end scenario (bench/month_end.py) at this run's size, or ``BENCH_MONTH``."""
        from bench import month_end

        default = month_end.Shape(
            self.sizes.month_big, self.sizes.month_resellers, self.sizes.month_each
        )
        return await month_end.run(
            self.bootstrap,
            self.work,
            self.run_id,
            month_end.shape_from_env(default),
            PARTITIONS,
            {"HUB_PARTNER_CENTER_URL": self.simulator_url},
            detail,
        )

    # -- batches ----------------------------------------------------------------------------

    async def batch(self, batch: Batch) -> Result:
        """``batch`` in a child process: its own timing, and the child's CPU and peak RSS."""
        n = self.sizes.subscriptions
        log = self.work / f"batch-{batch.target.replace(':', '.')}.log"
        argv = [
            sys.executable,
            "-m",
            "bench.batch_child",
            batch.target,
            str(n),
            json.dumps(batch.kwargs),
        ]
        child = Child(argv, clean_env(), log).start()
        # wait4 gives exactly this child's rusage at exit; /proc would lose VmHWM at exit.
        _, status, rusage = await asyncio.to_thread(os.wait4, child.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        assert child.proc is not None
        child.proc.returncode = code
        lines = log.read_text(errors="replace").strip().splitlines()
        if code != 0 or not lines:
            tail = " | ".join(lines[-3:])
            return unavailable(batch.scenario, Kind.BATCH, f"failed: exit {code}: {tail}")
        numbers = json.loads(lines[-1])
        return Result(
            scenario=batch.scenario,
            kind=Kind.BATCH,
            events=n,
            seconds=float(numbers[batch.seconds]),
            cpu_s_per_1k=(rusage.ru_utime + rusage.ru_stime) / n * 1000,
            peak_rss_mib=rusage.ru_maxrss / 1024,  # KiB on Linux
            note=batch.note(numbers),
        )


def _scaled_result(
    flow: HubFlow,
    n: int,
    b: Measured,
    idle: Sequence[float],
    load: float,
    before: Sequence[str],
    after: Sequence[str],
) -> Result:
    """One scaling row: the burst, and a note on the load, the spread and the idle CPU."""
    kind = type(flow.make(0)).__name__
    shares = [
        events_in(a, flow.handled_by, kind) - events_in(h, flow.handled_by, kind)
        for h, a in zip(before, after, strict=True)
    ]
    note = (
        f"load average {load:.2f} as the burst began; {kind} handled per worker in the "
        f"burst: {', '.join(f'{s:,.0f}' for s in shares)}; idle CPU per worker before the "
        f"warm-up: {', '.join(f'{ms:.0f}' for ms in idle)} ms/s, over the burst's "
        f"{b.run.seconds:.1f} s ~{sum(idle) * b.run.seconds / b.run.messages:.2f} of its CPU "
        "ms/event"
    )
    return measured(
        scaling_row(n, flow.slug),
        Kind.SCALING,
        b.run,
        b.cpu_s,
        b.worker.peak_rss_bytes,
        note=note,
        workers=n,
        peak_rss_each_bytes=tuple(u.peak_rss_bytes for u in b.workers),
        group=flow.milestones[0].scenario,
    )


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _at_rate(scenario: str, s: Measured, rate: float) -> Result:
    return measured(
        scenario, Kind.LATENCY, s.run, s.cpu_s, s.worker.peak_rss_bytes, offered_per_s=rate
    )
