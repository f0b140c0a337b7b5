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


def test_message_series_are_faust_s_own_and_come_back_after_a_rebalance_clears_them() -> None:
    from faust.types import TP

    registry = CollectorRegistry()
    monitor = HubPrometheusMonitor(metrics=FaustMetrics.create(registry, "t"))
    tp = TP("orders", 3)

    class Owner:
        pass

    class Stream:  # faust keeps streams and their tasks in weak dictionaries
        shortlabel = "Stream: orders"
        task_owner = Owner()

    stream = Stream()
    for offset in (7, 8):
        monitor.on_message_in(tp, offset, SimpleNamespace())  # type: ignore[arg-type]
        monitor.on_stream_event_in(tp, offset, stream, None)  # type: ignore[arg-type]
    assert _sample(registry, "t_messages_received_per_topic_total", topic="orders") == 2.0
    assert (
        _sample(registry, "t_messages_received_per_topics_partition", topic="orders", partition="3")
        == 8.0
    )
    assert _sample(registry, "t_total_events_per_stream_total", stream="stream.orders.events") == 2

    monitor._clear_partition_related_metrics()  # faust does so at a rebalance
    assert _sample(registry, "t_messages_received_per_topic_total", topic="orders") is None
    monitor.on_message_in(tp, 9, SimpleNamespace())  # type: ignore[arg-type]
    assert _sample(registry, "t_messages_received_per_topic_total", topic="orders") == 1.0
    assert (
        _sample(registry, "t_messages_received_per_topics_partition", topic="orders", partition="3")
        == 9.0
    )
