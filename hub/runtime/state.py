"""A flow's one table, seen as an ordered key-value store scoped to the message's partition.

Each flow keeps all its state in one faust table, written only through its journal
(``hub.runtime.journal``), so every write of one reseller's message goes to one changelog
partition, in order. Entity-keyed entries (``<kind>|<reseller>|<entity>``) take the place of
per-reseller lists: a write touches one small value whatever the reseller's size, and a
collection is read by a prefix scan of the partition's store (RocksDB keeps keys sorted).

- ``Store``: what the journal needs of a table (get, put, delete, prefix scan).
- ``MemoryStore``: a dict, for unit tests; ``FaustStore``: a faust table on RocksDB.
- ``Txn``: one message's writes, held back until the journal makes them; reads see them.
- ``View``: a ``MutableMapping`` over one key prefix of the flow's state, so a handler written
  against plain tables reads and writes its message's transaction (or, outside a message, reads
  the store).
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, Protocol

import orjson
import rocksdict
from faust.types import TP

# A deleted key inside a transaction (``None`` is a value a table may not hold).
_DELETED: Any = object()


class Store(Protocol):
    """A partition-scoped key-value store with ordered prefix scans."""

    def get(self, key: str) -> Any | None: ...

    def put(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def write(self, partition: int, records: Sequence[tuple[str, Any]]) -> None:
        """Make ``records`` in order (``None`` deletes): a journal entry's records at once."""
        ...

    def scan(self, prefix: str, after: str | None = None) -> Iterator[tuple[str, Any]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, in key order; with
        ``after``, only keys greater than it (a page's continuation)."""
        ...


class MemoryStore:
    """A ``Store`` on a dict with a sorted key list (unit tests, in-memory runs)."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self._keys = sorted(self.data)

    def get(self, key: str) -> Any | None:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        if key not in self.data:
            bisect.insort(self._keys, key)
        self.data[key] = value

    def delete(self, key: str) -> None:
        if key in self.data:
            del self.data[key]
            self._keys.pop(bisect.bisect_left(self._keys, key))

    def write(self, partition: int, records: Sequence[tuple[str, Any]]) -> None:
        for key, value in records:
            if value is None:
                self.delete(key)
            else:
                self.put(key, value)

    def scan(self, prefix: str, after: str | None = None) -> Iterator[tuple[str, Any]]:
        if after is not None and after >= prefix:
            start = bisect.bisect_right(self._keys, after)
        else:
            start = bisect.bisect_left(self._keys, prefix)
        for key in list(self._keys[start:]):
            if not key.startswith(prefix):
                return
            if key in self.data:
                yield key, self.data[key]


class FaustStore:
    """A ``Store`` on a faust table (raw string keys) on RocksDB, read and written inside an
    event, in one pass per journal entry.

    faust's RocksDB store keeps one database per partition; a read or a scan goes to the
    database of the current event's partition. A write (``write``: a journal entry's records)
    goes to that database in one RocksDB write batch, and each record to the table's changelog
    partition through the worker's ``RecordBatches`` (hub/runtime/record_batches.py), instead of
    faust's per-key ``table[key] = value`` (a RocksDB put, faust's send path and sensors, and on
    each record's acknowledgement another put of the reached offset). The reached offset is kept
    as faust keeps it, once per entry. faust still owns everything else about the table:
    assignment, recovery from the changelog, standbys. faust has no range read or batch write
    of its own, hence the reach into its store (``_db_for_partition``); any other store (faust's
    in-memory one) falls back to faust's table operations.
    """

    _OFFSET_KEY = b"__faust\x00offset__"

    def __init__(self, table: Any) -> None:
        self.table = table
        self._topic: str | None = None
        self._batches: Any = None

    def _db(self, partition: int | None = None) -> Any:
        data = self.table.data
        if not hasattr(data, "_db_for_partition"):
            return None
        if partition is None:
            partition = _current_partition()
            if partition is None:
                return None
        return data._db_for_partition(partition)

    def get(self, key: str) -> Any | None:
        db = self._db()
        if db is None:
            return self.table.get(key)
        raw = db.get(key.encode())
        return None if raw is None else orjson.loads(raw)

    def put(self, key: str, value: Any) -> None:
        partition = _current_partition()
        if partition is None or self._db(partition) is None:
            self.table[key] = value
            return
        self.write(partition, [(key, value)])

    def delete(self, key: str) -> None:
        partition = _current_partition()
        if partition is None or self._db(partition) is None:
            # No membership read first: a tombstone for a key already gone is harmless.
            with contextlib.suppress(KeyError):
                del self.table[key]
            return
        self.write(partition, [(key, None)])

    def write(self, partition: int, records: Sequence[tuple[str, Any]]) -> None:
        """Make ``records`` (``None`` deletes) in ``partition``, in order, in one pass."""
        db = self._db(partition)
        if db is None:
            for key, value in records:
                if value is None:
                    with contextlib.suppress(KeyError):
                        del self.table[key]
                else:
                    self.table[key] = value
            return
        if not records:
            return
        if self._topic is None:
            self._topic = self.table.changelog_topic.get_topic_name()
            self._batches = self.table.app.producer.batches
        topic, add = self._topic, self._batches.add
        batch = rocksdict.WriteBatch(raw_mode=True)
        last = len(records) - 1
        for i, (key, value) in enumerate(records):
            raw_key = key.encode()
            if value is None:
                raw_value = None
                batch.delete(raw_key)
            else:
                raw_value = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
                batch.put(raw_key, raw_value)
            reached = self._reached(partition) if i == last else None
            add(topic, partition, raw_key, raw_value, (), reached)
        db.write(batch)

    def _reached(self, partition: int) -> Callable[[int], None]:
        data, tp = self.table.data, TP(str(self._topic), partition)

        def reached(offset: int) -> None:
            data.set_persisted_offset(tp, offset)

        return reached

    def scan(self, prefix: str, after: str | None = None) -> Iterator[tuple[str, Any]]:
        for key, value in self._scan(prefix, after):
            if after is None or key > after:
                yield key, value

    def _scan(self, prefix: str, after: str | None) -> Iterator[tuple[str, Any]]:
        db = self._db()
        if db is None:
            # Outside an event (a timer's read) every assigned partition is read.
            found = []
            for key, value in self.table.items():
                text = key.decode() if isinstance(key, bytes) else str(key)
                if text.startswith(prefix):
                    found.append((text, value))
            yield from sorted(found, key=lambda item: item[0])
            return
        raw_prefix = prefix.encode()
        start = after.encode() if after is not None and after > prefix else raw_prefix
        for raw_key, raw_value in db.items(from_key=start):
            if not raw_key.startswith(raw_prefix):
                return
            if raw_key == self._OFFSET_KEY:
                continue
            yield raw_key.decode(), orjson.loads(raw_value)


def first_in_partition(store: Store, partition: int, prefix: str) -> tuple[str, Any] | None:
    """The first entry under ``prefix`` in ``partition``'s store, readable outside a message
    (a timer's look): a faust store's partition database is read directly."""
    if isinstance(store, FaustStore):
        data = store.table.data
        if hasattr(data, "_db_for_partition"):
            db = data._db_for_partition(partition)
            raw_prefix = prefix.encode()
            for raw_key, raw_value in db.items(from_key=raw_prefix):
                if not raw_key.startswith(raw_prefix):
                    return None
                return raw_key.decode(), data._decode_value(raw_value)
            return None
    return next(iter(store.scan(prefix)), None)


def _current_partition() -> int | None:
    from faust.streams import current_event

    event = current_event()
    return None if event is None else int(event.message.partition)


class Txn:
    """One message's writes over ``base``: reads and scans see them; nothing is made until the
    journal takes them (``writes``)."""

    def __init__(self, base: Store) -> None:
        self.base = base
        self._pending: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        if key in self._pending:
            value = self._pending[key]
            return None if value is _DELETED else value
        return self.base.get(key)

    def put(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError(f"state value of {key!r} is None: delete the key instead")
        self._pending[key] = value

    def delete(self, key: str) -> None:
        self._pending[key] = _DELETED

    def write(self, partition: int, records: Sequence[tuple[str, Any]]) -> None:
        for key, value in records:
            self._pending[key] = _DELETED if value is None else value

    def scan(self, prefix: str, after: str | None = None) -> Iterator[tuple[str, Any]]:
        """The base's entries merged with this transaction's, in key order."""
        pending = sorted(
            (k, v)
            for k, v in self._pending.items()
            if k.startswith(prefix) and (after is None or k > after)
        )
        base = self.base.scan(prefix, after)
        mine = iter(pending)
        theirs = next(base, None)
        own = next(mine, None)
        while theirs is not None or own is not None:
            if own is None or (theirs is not None and theirs[0] < own[0]):
                assert theirs is not None
                if theirs[0] not in self._pending:
                    yield theirs
                theirs = next(base, None)
                continue
            if theirs is not None and theirs[0] == own[0]:
                theirs = next(base, None)
            if own[1] is not _DELETED:
                yield own
            own = next(mine, None)

    def writes(self) -> list[tuple[str, Any]]:
        """The writes in the order first made (``None`` deletes)."""
        return [(k, None if v is _DELETED else v) for k, v in self._pending.items()]

    def __bool__(self) -> bool:
        return bool(self._pending)


class View(MutableMapping[str, Any]):
    """The entries of one prefix of a flow's state, as a mapping of the rest of the key.

    ``current()`` names the store to use: the message's transaction while one is open, else the
    store itself (reads outside a message, e.g. a timer's; writes there are a bug and fail).
    Iterating scans the prefix: fine for small collections (an incident's tickets), never for a
    reseller's book (key those by reseller and scan ``<reseller>|``).
    """

    def __init__(self, prefix: str, current: Callable[[bool], Store]) -> None:
        self.prefix = prefix
        self._current = current

    def __getitem__(self, key: str) -> Any:
        value = self._current(False).get(self.prefix + key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._current(False).get(self.prefix + key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._current(False).get(self.prefix + key) is not None

    def __setitem__(self, key: str, value: Any) -> None:
        self._current(True).put(self.prefix + key, value)

    def __delitem__(self, key: str) -> None:
        store = self._current(True)
        if store.get(self.prefix + key) is None:
            raise KeyError(key)
        store.delete(self.prefix + key)

    def scan(self, prefix: str = "", after: str | None = None) -> Iterator[tuple[str, Any]]:
        """Entries under ``prefix`` (keys without the view's prefix), after key ``after``."""
        cut = len(self.prefix)
        start = None if after is None else self.prefix + after
        for key, value in self._current(False).scan(self.prefix + prefix, start):
            yield key[cut:], value

    def __iter__(self) -> Iterator[str]:
        for key, _ in self.scan():
            yield key

    def __len__(self) -> int:
        return sum(1 for _ in self.scan())


def scan(
    table: MutableMapping[str, Any], prefix: str, after: str | None = None
) -> Iterator[tuple[str, Any]]:
    """``table``'s entries under ``prefix`` in key order (after key ``after``): a prefix scan
    of a ``View``, a filtered pass over anything else (a plain dict)."""
    if isinstance(table, View):
        yield from table.scan(prefix, after)
        return
    yield from sorted(
        (k, v)
        for k, v in list(table.items())
        if k.startswith(prefix) and (after is None or k > after)
    )
