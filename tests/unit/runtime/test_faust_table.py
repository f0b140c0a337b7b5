"""A table write before the consumer knows a topic's partitions is no partition mismatch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.exceptions import PartitionsMismatch

from hub.runtime.faust_table import HubTable
from hub.runtime.faust_transport import HubApp


def _table(monkeypatch: pytest.MonkeyPatch, counts: dict[str, int]) -> HubTable:
    app = HubApp("faust-table-test", broker="kafka://127.0.0.1:1", Table=HubTable)
    table = app.Table("state", partitions=12)
    assert isinstance(table, HubTable)
    # What the consumer's metadata says: 0 for a topic it has no metadata for yet (aiokafka).
    consumer = SimpleNamespace(topic_partitions=lambda t: counts.get(t, 0))
    monkeypatch.setattr(HubApp, "consumer", property(lambda _: consumer))
    return table


def test_an_unknown_count_is_checked_again_at_a_later_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = {"orders": 12}
    table = _table(monkeypatch, counts)
    table._verify_source_topic_partitions("orders")  # the changelog's metadata is not loaded
    assert "orders" not in table._verified_source_topics_for_partitions

    counts[table.changelog_topic_name] = 12
    table._verify_source_topic_partitions("orders")
    assert "orders" in table._verified_source_topics_for_partitions


def test_known_counts_that_differ_are_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(monkeypatch, {"orders": 3, "faust-table-test-state-changelog": 12})
    with pytest.raises(PartitionsMismatch):
        table._verify_source_topic_partitions("orders")
