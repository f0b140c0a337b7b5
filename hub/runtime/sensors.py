"""faust's Prometheus monitor, without its count of every table read and write, and with its
labelled children looked up once instead of per message.

faust's ``PrometheusMonitor`` increments a labelled counter (and its base monitor's per-table
tallies) on every table get, set and delete. A flow reads and writes its state many times a
message, and a profile of the consumption worker put that bookkeeping at 11% of its busy time.
The hub counts what matters of its state itself (``hub_journal_*``), and no dashboard or rule
reads faust's table counter, so those three hooks do nothing here; every other faust metric
(messages, commits, send latency, rebalances) is kept.

For every message faust's monitor also looks up the labelled children of its per-topic,
per-partition and per-stream series (``labels(...)``: a lock and a dict lookup each), 4% of a
ticket-routing worker at full load. Here each child is looked up once and kept until faust clears
the partition series at a rebalance; the series and their values are faust's own.
"""

from __future__ import annotations

import weakref
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP


class HubPrometheusMonitor(PrometheusMonitor):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._topic_children: dict[str, Any] = {}
        self._partition_children: dict[TP, Any] = {}
        self._stream_children: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        metrics = self._metrics
        metrics.messages_received.inc()
        metrics.active_messages.inc()
        topic = self._topic_children.get(tp.topic)
        if topic is None:
            topic = self._topic_children[tp.topic] = metrics.messages_received_per_topics.labels(
                topic=tp.topic
            )
        topic.inc()
        partition = self._partition_children.get(tp)
        if partition is None:
            partition = self._partition_children[tp] = (
                metrics.messages_received_per_topics_partition.labels(
                    topic=tp.topic, partition=tp.partition
                )
            )
        partition.set(offset)

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> Any:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        metrics = self._metrics
        metrics.total_events.inc()
        metrics.total_active_events.inc()
        child = self._stream_children.get(stream)
        if child is None:
            child = self._stream_children[stream] = metrics.total_events_per_stream.labels(
                stream=f"stream.{self._stream_label(stream)}.events"
            )
        child.inc()
        return state

    def _clear_partition_related_metrics(self) -> None:
        # faust removes the children: the next message looks them up (and so adds them) anew.
        self._topic_children.clear()
        self._partition_children.clear()
        self._stream_children.clear()
        super()._clear_partition_related_metrics()

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: Any, key: Any) -> None:
        return None


def without_table_counts(app: faust.App) -> None:
    """Swap the monitor ``setup_prometheus_sensors`` installed for one that skips table ops."""
    monitor = app.monitor
    assert isinstance(monitor, PrometheusMonitor), "call after setup_prometheus_sensors"
    app.monitor = HubPrometheusMonitor(metrics=monitor._metrics)
