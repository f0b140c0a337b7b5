"""``python -m bench``: every scenario and both baselines in one run, one JSON, one table.

The scaling scenario (``--only scaling``) runs order intake and ticket routing each through 1, 2
and 3 workers of one hub and reports them in tables of their own.

Uses ``KAFKA_BOOTSTRAP_SERVERS`` if set, else starts a local broker in a temporary directory
(stopped at the end, and with this process if it dies). Writes ``bench/results/<time>.json`` and
``bench/results/latest.md``. ``--quick`` is CI-sized; the default is a real measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import orders as order_inputs
from bench.month_end import NAMES as MONTH_END
from bench.orders import simulator
from bench.report import FAUST, RAW, Kind, Result, markdown, to_json, unavailable
from bench.runs import FULL, QUICK, Bench, Sizes
from bench.scenarios import (
    BATCHES,
    HUB_FLOWS,
    SCALING,
    SCALING_WORKERS,
    Batch,
    HubFlow,
    Scaling,
)
from hub.ops import local_kafka

RESULTS = Path(__file__).parent / "results"
_ORDER = {Kind.BASELINE: 0, Kind.PIPELINE: 1, Kind.BATCH: 2, Kind.LATENCY: 3, Kind.SCALING: 4}


@contextlib.contextmanager
def broker() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        handle = local_kafka.start_broker(Path(tmp), die_with_parent=True)
        try:
            yield handle.bootstrap
        finally:
            local_kafka.stop_broker(Path(tmp))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _guarded(
    names: tuple[str, ...], kind: Kind, run: Callable[[], Awaitable[list[Result]]]
) -> list[Result]:
    """A scenario that fails is reported as failed; the run goes on with the next one."""
    started = time.monotonic()
    try:
        results = await run()
    except (ImportError, AttributeError) as exc:
        _say(f"  {names[0]}: not available ({exc})")
        return [unavailable(name, kind) for name in names]
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
        traceback.print_exc()
        return [unavailable(name, kind, f"failed: {type(exc).__name__}: {exc}") for name in names]
    _say(f"  {', '.join(names)}: {time.monotonic() - started:.0f}s")
    return results


async def _flow(bench: Bench, factory: Callable[[], HubFlow]) -> list[Result]:
    return await bench.hub_flow(factory())


async def _batch(bench: Bench, factory: Callable[[], Batch]) -> list[Result]:
    return [await bench.batch(factory())]


async def _scaling(bench: Bench, factory: Callable[[], Scaling]) -> list[Result]:
    return await bench.scaling(factory(), SCALING_WORKERS)


def selected(names: tuple[str, ...], only: tuple[str, ...]) -> bool:
    """Whether a scenario runs: every one if ``only`` is empty, else any name containing one."""
    return not only or any(word.lower() in name.lower() for name in names for word in only)


async def run_all(
    bench: Bench, only: tuple[str, ...] = (), detail: dict[str, Any] | None = None
) -> list[Result]:
    payload = order_inputs.order("payload-size")
    results: list[Result] = []
    month = selected(MONTH_END, only)
    for which in (RAW, FAUST):
        # The month end is reported beside the baselines of its own run.
        if selected((which,), only) or month:
            _say(f"{which} ...")
            run = partial(bench.baseline, which, payload)
            results += await _guarded((which,), Kind.BASELINE, run)
    for names, flow in HUB_FLOWS:
        if selected(names, only):
            _say(f"{names[0]} ...")
            results += await _guarded(names, Kind.PIPELINE, partial(_flow, bench, flow))
    for name, batch in BATCHES:
        if selected((name,), only):
            _say(f"{name} ...")
            results += await _guarded((name,), Kind.BATCH, partial(_batch, bench, batch))
    names, scaling = SCALING
    if selected(names, only):
        _say("scaling ...")
        results += await _guarded(names, Kind.SCALING, partial(_scaling, bench, scaling))
    if month:
        _say("month end ...")
        found = detail if detail is not None else {}
        results += await _guarded(MONTH_END, Kind.BATCH, partial(bench.month_end, found))
    return sorted(results, key=lambda r: _ORDER[r.kind])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI-sized run (under 2 minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results are written")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORD",
        help="run only the scenarios whose name contains WORD (repeatable; e.g. raw, faust, order, "
        "scaling)",
    )
    args = parser.parse_args(argv)
    sizes: Sizes = QUICK if args.quick else FULL
    if os.environ.get("BENCH_BURST", "").strip():
        # A longer burst: time to attach a profiler to a flow's worker (bench/PROFILE.md).
        sizes = replace(sizes, burst=int(os.environ["BENCH_BURST"]))
    if os.environ.get("BENCH_RATE_SECONDS", "").strip():
        # A longer run at the fixed rate: a profile of a worker at rate, or a steadier p99.
        sizes = replace(sizes, rate_seconds=float(os.environ["BENCH_RATE_SECONDS"]))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    with broker() as bootstrap, simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        _say(f"broker {bootstrap}, simulator {sim}, sizes {sizes}")
        bench = Bench(bootstrap, Path(tmp), stamp, sizes, sim)
        detail: dict[str, Any] = {}
        results = asyncio.run(run_all(bench, tuple(args.only), detail))
    table = markdown(results, os.cpu_count())
    meta = {
        "at": stamp,
        "mode": "quick" if args.quick else "full",
        "sizes": sizes.__dict__,
        "seconds": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # at the end; others share cores
        **({"month_end": detail} if detail else {}),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}.json").write_text(json.dumps(to_json(results, meta), indent=2) + "\n")
    heading = f"Benchmark {stamp} ({meta['mode']}, {meta['cpus']} CPUs, {meta['seconds']}s)\n\n"
    if not args.only:  # a partial run is not the latest full picture
        (args.out / "latest.md").write_text(heading + table + "\n")
    print(heading + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
