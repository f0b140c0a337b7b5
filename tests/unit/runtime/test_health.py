"""Readiness names each condition: in the group, no rebalance or recovery, reference loaded."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from hub.runtime.health import readiness


def _app(generation: int, rebalancing: bool, recovered: bool, in_recovery: bool) -> SimpleNamespace:
    completed = asyncio.Event()
    if recovered:
        completed.set()
    recovery = SimpleNamespace(completed=completed, in_recovery=in_recovery)
    return SimpleNamespace(
        consumer_generation_id=generation,
        rebalancing=rebalancing,
        tables=SimpleNamespace(recovery=recovery),
    )


def test_a_worker_is_ready_only_when_every_condition_holds() -> None:
    ready = readiness(_app(3, False, True, False), lambda: True)
    assert ready == {
        "assigned": True,
        "not_rebalancing": True,
        "tables_recovered": True,
        "reference_loaded": True,
    }
    assert not readiness(_app(0, False, True, False), lambda: True)["assigned"]
    assert not readiness(_app(3, True, True, False), lambda: True)["not_rebalancing"]
    assert not readiness(_app(3, False, False, False), lambda: True)["tables_recovered"]
    assert not readiness(_app(3, False, True, True), lambda: True)["tables_recovered"]
    assert not readiness(_app(3, False, True, False), lambda: False)["reference_loaded"]
