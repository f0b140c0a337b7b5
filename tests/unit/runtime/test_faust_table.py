"""A table write before the consumer knows a topic's partitions is no partition mismatch; a
delete goes to the current message's partition."""

from __future__ import annotations

import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.exceptions import PartitionsMismatch
from faust.streams import _current_event

from hub.runtime.faust_table import HubRocksDBStore, HubTable
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


class _Event:
    """What the store reads of the current event: its message's partition."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


class _FakeDB:
    def __init__(self) -> None:
        self.deleted: list[bytes] = []

    def delete(self, key: bytes) -> None:
        self.deleted.append(key)


def _rocksdb_table(tmp_path: Path) -> HubTable:
    app = HubApp(
        "faust-table-store", broker="kafka://127.0.0.1:1", Table=HubTable, store="rocksdb://"
    )
    app.conf.datadir = tmp_path
    table = app.Table("state", partitions=12)
    assert isinstance(table, HubTable)
    return table


def test_a_delete_goes_to_the_current_messages_partition_only(tmp_path: Path) -> None:
    """faust's store deletes a key its LRU key index has forgotten from every partition's
    database; ours deletes it where the message's partition keeps it."""
    store: Any = _rocksdb_table(tmp_path).data
    assert isinstance(store, HubRocksDBStore)
    dbs = {p: _FakeDB() for p in range(12)}
    store._dbs = dbs
    store._key_index.clear()  # the key was written long ago: the index has forgotten it
    event = _Event(3)
    token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        store._del(b"~j|3|e|old-message")
    finally:
        _current_event.reset(token)
    assert dbs[3].deleted == [b"~j|3|e|old-message"]
    assert all(not db.deleted for p, db in dbs.items() if p != 3)


def test_outside_a_message_a_delete_searches_every_partition(tmp_path: Path) -> None:
    store: Any = _rocksdb_table(tmp_path).data
    dbs = {p: _FakeDB() for p in range(12)}
    store._dbs = dbs
    store._del(b"key")  # no current event: faust's behaviour
    assert all(db.deleted == [b"key"] for db in dbs.values())
