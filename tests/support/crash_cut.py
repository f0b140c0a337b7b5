"""Tables that record their writes, to replay a message after a crash cut its writes short.

A worker writes one message's table entries to several changelog topics; a SIGKILL can land
any prefix of them with no commit, so the message is processed again on tables holding that
prefix. Record an uncut run's writes, ``land`` each prefix on fresh tables: a handler is
crash-safe if the replay on each ends in the state and outputs of the uncut run.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from hub.runtime.state import MemoryStore

T = TypeVar("T")
Write = tuple[str, Any, Any]  # (table name, key, value); None deletes


class Recording(dict[Any, Any]):
    """A dict table that appends each write, in order, to a log shared by all tables."""

    def __init__(self, name: str, log: list[Write]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def __setitem__(self, key: Any, value: Any) -> None:
        self.log.append((self.name, key, copy.deepcopy(value)))
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.log.append((self.name, key, None))  # a tombstone
        super().__delitem__(key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)


def recording(tables_type: Callable[..., T]) -> tuple[T, list[Write]]:
    """A dataclass of tables (``OrderTables``, ``BillingTables``...) of recording dicts."""
    log: list[Write] = []
    names = [f.name for f in dataclasses.fields(tables_type)]  # type: ignore[arg-type]
    return tables_type(**{n: Recording(n, log) for n in names}), log


def state(tables: Any) -> dict[str, dict[Any, Any]]:
    """Every table's content, for comparing two runs."""
    return {f.name: dict(getattr(tables, f.name)) for f in dataclasses.fields(tables)}


def land(tables: T, writes: list[Write]) -> T:
    """``tables`` with ``writes`` applied as the changelog restores them (not recorded)."""
    for name, key, value in writes:
        table = getattr(tables, name)
        if value is None:
            dict.pop(table, key, None)
        else:
            dict.__setitem__(table, key, copy.deepcopy(value))
    return tables


# --- a flow's one table, written through its journal (hub/runtime/journal.py) ----------------
# Every write of a partition goes to one changelog partition, in order, so a crash lands a
# prefix of the store's write log, whatever broker leads that partition.


class RecordingStore(MemoryStore):
    """A ``MemoryStore`` that appends each write to ``log``, in order (``None`` deletes)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, Any]] = []

    def put(self, key: str, value: Any) -> None:
        self.log.append((key, copy.deepcopy(value)))
        super().put(key, value)

    def delete(self, key: str) -> None:
        self.log.append((key, None))
        super().delete(key)


def landed(writes: list[tuple[str, Any]]) -> MemoryStore:
    """A store holding ``writes``, as the changelog restores it after a crash."""
    store = MemoryStore()
    for key, value in writes:
        if value is None:
            store.delete(key)
        else:
            store.put(key, copy.deepcopy(value))
    return store
