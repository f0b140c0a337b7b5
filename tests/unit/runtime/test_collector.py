"""The worker's cycle collector: pauses measured, what is held at readiness frozen."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from hub.runtime import collector


def _count(generation: int) -> float:
    for metric in collector.GC_PAUSE.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["generation"] == str(generation):
                return sample.value
    return 0.0


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


class _App:
    """What ``register`` asks of a faust app: ``task`` keeps the coroutine function."""

    def __init__(self) -> None:
        self.tasks: list[Any] = []

    def task(self, fun: Any) -> Any:
        self.tasks.append(fun)
        return fun


@pytest.fixture
def no_timers() -> Iterator[None]:
    """The timers other tests' apps registered, taken away for the test and put back."""
    before = [cb for cb in gc.callbacks if isinstance(cb, collector.PauseTimer)]
    for timer in before:
        gc.callbacks.remove(timer)
    yield
    for cb in [cb for cb in gc.callbacks if isinstance(cb, collector.PauseTimer)]:
        gc.callbacks.remove(cb)
    gc.callbacks.extend(before)


def test_each_full_collection_is_timed_under_its_generation(no_timers: None) -> None:
    gc.callbacks.append(collector.PauseTimer())
    enabled = gc.isenabled()
    gc.disable()  # only the two collections asked for below
    try:
        before = _count(2), _count(0)
        gc.collect(2)
        gc.collect(2)
        after = _count(2), _count(0)
    finally:
        if enabled:
            gc.enable()
    assert after == (before[0] + 2, before[1])


def test_register_adds_one_timer_however_often_it_is_called(no_timers: None) -> None:
    collector.register(_App(), lambda: True)  # type: ignore[arg-type]
    collector.register(_App(), lambda: True)  # type: ignore[arg-type]
    assert sum(isinstance(cb, collector.PauseTimer) for cb in gc.callbacks) == 1


def test_what_is_held_is_frozen_only_once_the_worker_is_ready(
    unfrozen: None, no_timers: None
) -> None:
    gc.unfreeze()
    ready = False
    app = _App()
    collector.register(app, lambda: ready, poll_s=0.01)  # type: ignore[arg-type]
    (freeze_when_ready,) = app.tasks

    async def scenario() -> tuple[int, int]:
        nonlocal ready
        task = asyncio.ensure_future(freeze_when_ready())
        await asyncio.sleep(0.05)
        before = gc.get_freeze_count()  # still loading, rebalancing or recovering
        ready = True
        await asyncio.wait_for(task, 10)
        return before, gc.get_freeze_count()

    before, frozen = asyncio.run(scenario())
    assert before == 0
    assert frozen > 1000  # the modules, classes and objects of this process
