"""Python's cycle collector in a worker: what the worker holds once it is ready is not rescanned.

CPython's full collection (generation 2) walks every container object the process holds. A
worker holds a few hundred thousand of them before it handles its first message (faust, aiokafka,
pydantic's models, the Avro contracts, the app's agents and tables), and each full collection,
every five or six seconds at 1,000 orders a second, walked them all again: 86-127 ms in which the
worker handled nothing, and the order intake's p99 latency rose with each (bench/PROFILE.md).
``gc.freeze()`` moves what exists at that moment into a permanent generation the collector no
longer walks; the full collections that follow took 2-4 ms.

Done once, when the worker is first ready (its reference data read, its partitions assigned and
their tables recovered), so that little of what is frozen is passing through: what exists then is
mostly what the worker keeps for its life. Objects that die later are still freed by reference
counting; what freezing costs is that a reference cycle among frozen objects, should one be
dropped later, is never collected, with whatever it still refers to. Freezing once bounds that
to what existed at that moment; later objects are collected as always.

Each collection's pause is measured (``hub_gc_pause_seconds{generation}``), so a dashboard shows
whether a worker's pauses grow.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
from prometheus_client import Histogram

log = logging.getLogger(__name__)

GC_PAUSE = Histogram(
    "hub_gc_pause_seconds",
    "How long each of Python's cycle collections held the worker, by generation",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


class PauseTimer:
    """A ``gc.callbacks`` entry that times each collection into ``GC_PAUSE``."""

    def __init__(self) -> None:
        self._started = 0.0
        self._by_generation = [GC_PAUSE.labels(generation=str(g)) for g in range(3)]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)


def freeze_what_is_held() -> int:
    """Collect once, then move every object the process holds out of the collector's reach.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def register(app: faust.App, ready: Callable[[], bool], poll_s: float = 1.0) -> None:
    """Time every collection, and freeze what the worker holds once ``ready()`` (the worker's
    readiness: hub/runtime/health.py) is first true, checked every ``poll_s``."""
    if not any(isinstance(cb, PauseTimer) for cb in gc.callbacks):
        gc.callbacks.append(PauseTimer())

    async def freeze_when_ready() -> None:
        # faust has no one event for "assigned, not rebalancing, recovered" to wait on
        while not ready():  # noqa: ASYNC110
            await asyncio.sleep(poll_s)
        frozen = freeze_what_is_held()
        log.info("worker ready: %d objects kept out of the cycle collector's scans", frozen)

    app.task(freeze_when_ready)
