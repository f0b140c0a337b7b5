"""A flow's store that records its writes, to replay a message after a crash cut them short.

Every write of a flow's partition goes to one changelog partition, in order (hub/runtime/
journal.py), so a crash lands a prefix of the store's write log. Record an uncut run's writes,
rebuild each prefix with ``landed``, replay the message with a fresh ``Journal``: a flow is
crash-safe if every replay ends in the uncut run's state and outputs.
"""

from __future__ import annotations

import copy
from typing import Any

from hub.runtime.state import MemoryStore


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
