"""The worker's faust monitor skips table reads and writes and keeps every other metric."""

from __future__ import annotations

from types import SimpleNamespace

from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry

from hub.runtime.sensors import HubPrometheusMonitor


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_table_operations_are_not_counted_and_messages_still_are() -> None:
    registry = CollectorRegistry()
    monitor = HubPrometheusMonitor(metrics=FaustMetrics.create(registry, "t"))
    table = SimpleNamespace(name="orders-state")

    monitor.on_table_get(table, "k")  # type: ignore[arg-type]
    monitor.on_table_set(table, "k", 1)  # type: ignore[arg-type]
    monitor.on_table_del(table, "k")  # type: ignore[arg-type]
    monitor.on_rebalance_start(SimpleNamespace(rebalancing_count=1))  # type: ignore[arg-type]

    assert (
        _sample(
            registry,
            "t_table_operations_total",
            table="table.orders-state",
            operation="keys_retrieved",
        )
        is None
    )
    assert _sample(registry, "t_total_rebalances") == 1.0
