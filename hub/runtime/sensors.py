"""faust's Prometheus monitor, without its count of every table read and write.

faust's ``PrometheusMonitor`` increments a labelled counter (and its base monitor's per-table
tallies) on every table get, set and delete. A flow reads and writes its state many times a
message, and a profile of the consumption worker put that bookkeeping at 11% of its busy time.
The hub counts what matters of its state itself (``hub_journal_*``), and no dashboard or rule
reads faust's table counter, so those three hooks do nothing here; every other faust metric
(messages, commits, send latency, rebalances) is kept.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors.prometheus import PrometheusMonitor


class HubPrometheusMonitor(PrometheusMonitor):
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
