"""faust's table with its source-partition check made safe while a topic's metadata loads.

Before a table's first write from a topic, faust compares the partition counts of that source
topic and of the table's changelog as the consumer's metadata knows them, and raises
``PartitionsMismatch`` if they differ. The consumer reports a topic it has no metadata for yet
as having 0 partitions (aiokafka's ``partitions_for_topic(...) or []``), and a changelog topic
faust has just created is such a topic: the write raised, inside a journal commit, and the
agent died with its message unacknowledged (its partition then stalled for good; seen in the
e2e tests with 12 partitions, where creating topics takes longer). Here an unknown count is no
verdict: the check is made again at the next write, once both counts are known. A worker also
refuses keyed topics partitioned otherwise than its tables before it starts
(``hub.connectors.kafka_admin.ensure_topics``).

Deletes go to the current message's partition. faust's RocksDB store writes a key into the
database of the message's partition, but deletes it from the database its key index names, and
that index is an LRU cache of 1,000 keys: a key written longer ago is deleted from *every*
partition's database (12 deletes, and a tombstone in 11 databases that never held it). The
journal deletes each kept output thousands of messages after writing it, so at a month of
consumption's size (6,000,000 records) those deletes were 10% of the worker's CPU. Outside a
message (no current event) faust's own search of every database stands.

(The reached changelog offset is still written on every changelog record's acknowledgement, as
faust does: faust detects a wiped broker by a persisted offset above the changelog's end, and
tests/integration/test_fresh_broker_tables.py showed an offset written at most once a second
missed it.)
"""

from __future__ import annotations

from typing import Any

import faust
from faust.stores.rocksdb import Store as RocksDBStore
from yarl import URL


class HubRocksDBStore(RocksDBStore):
    def _del(self, key: bytes) -> None:
        event = faust.current_event()
        if event is None or self.table.is_global or self.table.use_partitioner:
            super()._del(key)
            return
        self._db_for_partition(event.message.partition).delete(key)


class HubTable(faust.Table[Any, Any]):
    def _new_store_by_url(self, url: str | URL) -> Any:
        store = super()._new_store_by_url(url)
        if type(store) is RocksDBStore:
            # faust builds the store from the URL with arguments that vary between its
            # versions; the subclass adds no state, so the built store becomes one.
            store.__class__ = HubRocksDBStore
        return store

    def _verify_source_topic_partitions(self, source_topic: str) -> None:
        if source_topic in self._verified_source_topics_for_partitions:
            return
        consumer = self.app.consumer
        if not consumer.topic_partitions(source_topic) or not consumer.topic_partitions(
            self.changelog_topic_name
        ):
            return  # not known yet: checked at a later write
        super()._verify_source_topic_partitions(source_topic)
