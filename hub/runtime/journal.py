"""A message's table writes and outputs, kept in one entry before any of them is made.

A worker's writes for one message travel several changelog records; a crash can land some of
them and no commit, and the message is then processed again on tables that already hold part
of its effects. Handlers that decide "done before?" from those tables then skip what was cut
short, and the outputs they would have sent are lost. For an agent whose handlers are too
intertwined to make every write idempotent on its own (support escalation: tickets, incidents,
correlation state and Microsoft requests), ``Journal`` runs the handler on ``Buffered`` tables,
keeps what it wrote and sent under the message's position in one entry, then makes the writes.
A replay that finds the entry makes the same writes again and sends the same outputs; one that
does not finds none of them (the entry goes first, and the producer hands records to Kafka in
write order).

Replaying an entry re-applies whole values, which is right only when messages are replayed in
their first order: an agent of one input topic, one message at a time. The latest ``keep``
entries of each partition are kept; older messages are long committed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from hub.runtime.pipeline import Emit
from hub.runtime.stored_events import restore_emit, store_emit

log = logging.getLogger(__name__)
_DELETED = object()
# Below Kafka's default limit of 1 MiB per record, with room for the record's framing.
MAX_ENTRY_BYTES = 900_000


class Buffered(MutableMapping[str, Any]):
    """A table whose writes wait until ``take``; reads see them as if made."""

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self._pending: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._pending:
            value = self._pending[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._pending[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._pending[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        for key in dict.fromkeys([*list(self.base.keys()), *self._pending]):
            if self._pending.get(key) is not _DELETED and (
                key in self._pending or key in self.base
            ):
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def take(self) -> list[tuple[str, Any]]:
        """The writes since the last ``take`` (``None`` deletes), which are then forgotten."""
        writes = [(k, None if v is _DELETED else v) for k, v in self._pending.items()]
        self._pending.clear()
        return writes


def apply_writes(table: MutableMapping[str, Any], writes: Sequence[tuple[str, Any]]) -> None:
    for key, value in writes:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value


class Journal:
    """Runs handlers on ``tables`` (each ``Buffered``) and keeps each message's effects in
    ``store`` (see the module docstring)."""

    def __init__(
        self,
        store: MutableMapping[str, Any],
        tables: Mapping[str, Buffered],
        keep: int = 256,
    ) -> None:
        self.store = store
        self.tables = tables
        self.keep = keep

    async def run(
        self, partition: int, offset: int, handle: Callable[[], Awaitable[Sequence[Emit]]]
    ) -> Sequence[Emit]:
        """``handle()``'s outputs, its writes made; or what a run cut short kept, made again."""
        key = f"{partition}:{offset}"
        kept = self.store.get(key)
        if kept is not None:
            self._remember(partition, key)
            self._make(kept["writes"])
            return [restore_emit(doc) for doc in kept["emits"]]
        try:
            emits = await handle()
        finally:
            writes = {name: table.take() for name, table in self.tables.items()}
        made = {name: [list(w) for w in ws] for name, ws in writes.items() if ws}
        entry = {"writes": made, "emits": [store_emit(e) for e in emits]}
        size = len(json.dumps(entry, default=str))
        if size <= MAX_ENTRY_BYTES:
            self.store[key] = entry
            self._remember(partition, key)
        else:  # a changelog record that large would be refused: made unjournaled, and said so
            log.warning("message %s is not journaled: its entry has %d bytes", key, size)
        self._make(made)
        return emits

    def _make(self, writes: Mapping[str, Sequence[Sequence[Any]]]) -> None:
        for name, table_writes in writes.items():
            apply_writes(self.tables[name].base, [(k, v) for k, v in table_writes])

    def _remember(self, partition: int, key: str) -> None:
        index = f"index:{partition}"
        keys = list(self.store.get(index) or [])
        if keys[-1:] == [key]:
            return  # remembered before (a replay)
        keys = [k for k in keys if k != key] + [key]
        for old in keys[: -self.keep]:
            self.store.pop(old, None)
        self.store[index] = keys[-self.keep :]
