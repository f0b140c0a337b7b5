"""One journal per flow: a message's writes and outputs, kept in one entry before they are made.

Why it is sound on a cluster. A flow keeps all its state in one table, written only here, and a
message's writes go to the changelog partition of the message's own partition. Kafka keeps the
records of one partition in the order they were produced, whichever broker leads it, so a crash
lands a *prefix* of that partition's writes. The journal writes each message's entry (its body in
chunks of whole writes, then a small head) before the writes themselves:

- a crash before the head lands leaves none of the message's writes: the replay handles it anew;
- a crash after it leaves the head and part of the writes, and only the head's message can be
  incomplete, since nothing was written after it. Before the partition's next message after a
  restart (or a rebalance) the journal *completes* the head: it makes the head's writes again.
  They are whole values and nothing later overwrote them, so this is idempotent.

Batches. Messages of one partition may share one entry (``open_batch``/``close_batch``): each
message is handled in a transaction nested in the batch's (a failing message's writes are
dropped, the others' kept), the entry is written once for the batch, and every output and dead
letter of the batch is delivered after it, in message order (``deliver``). A crash before the
batch's head lands replays the whole batch; after it, recovery completes it and the redelivered
messages find their kept outputs. What is amortised: the entry's body and head, and every key the
batch's messages write more than once (a reseller's exposure) is written once.

Outputs wait for the entry. A message's outputs (and dead letters) go to other topics than its
entry, so nothing in Kafka orders them after it: handed to the client after the entry, an output
can still land first (its partition's batch was due sooner, or another broker leads it), and a
crash then leaves an output whose entry never landed; the replay handles the message anew and
sends a second, different copy (another ``event_time``) under the same event id. So before the
first output after an entry the journal waits until the entry is delivered (``flush``: the
worker's producer, buffer and in-flight records; once per batch, not per message).

Each entry keeps its messages' outputs in one ring slot (``q|<n>``, in parts when large),
written with the entry's body *before* its head: a slot is trusted only once a head names it
(``q`` past it), so a crash before the head leaves a slot nobody reads, and the next entry writes
over it. A redelivery or a replay of a message that was handled finds its outputs through an
index in memory (message id -> slot), read from the slots the head names when this process first
needs the partition, and re-sends them instead of handling the message again. The oldest slots are
forgotten while the newer ones still hold ``keep`` messages (``_ring``); slots and per-message
records an earlier version kept are still read and forgotten the same way. That is the flow's
idempotency for redeliveries; what must hold for ever (a subscription billed once) is decided from
the entity-keyed state itself.

No value may approach the broker's record limit: a write or an output document larger than
``max_value_bytes`` is refused before anything is written (``StateTooLarge``, not retriable: the
message is dead-lettered with the reason and counted), and the entry's body is written in chunks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.errors import HubError
from hub.metrics import (
    JOURNAL_BATCH_MESSAGES,
    JOURNAL_COMPLETIONS,
    JOURNAL_ENTRY_BYTES,
    STATE_REFUSED,
)
from hub.runtime.emit import Emit
from hub.runtime.state import Store, Txn, View, first_in_partition
from hub.runtime.stored_events import event_body, restore_emit, store_emit

log = logging.getLogger(__name__)

# Well below Kafka's default record limit of 1 MiB (``max.message.bytes``), with room for
# the record's key, headers and framing.
MAX_VALUE_BYTES = 512_000
CHUNK_CHARS = 256_000


async def deliver(journal: Journal | None, delivery: Delivery) -> None:
    """Send now, or, in an open batch of ``journal``, once the batch's entry is written."""
    if journal is None:
        await delivery()
    else:
        await journal.deliver(delivery)


class StateTooLarge(HubError):
    """A state value or a message's kept outputs would not fit one Kafka record."""

    retriable = False

    def __init__(self, key: str, size: int, limit: int) -> None:
        super().__init__(
            f"state value {key!r} would be {size} bytes, over the limit of {limit}: "
            "the flow must key this state by entity or page it"
        )
        self.key, self.size, self.limit = key, size, limit


class JournalCorrupt(HubError):
    """The head's body is not all there: the changelog lost records out of order."""

    retriable = False


# An index entry for outputs an earlier version kept under ``e|<message id>``.
_LEGACY = -1


def _is_slot(record: Any) -> bool:
    """A ring slot of this version (``seq``), not an earlier one naming ``e|`` records."""
    return isinstance(record, dict) and "seq" in record


def _named(record: Any) -> list[str]:
    """The message ids a ring slot keeps outputs for (any version's slot)."""
    if record is None:
        return []
    if "out" in record:
        return [message_id for message_id, _ in record["out"]]
    if _is_slot(record):
        return list(record["ids"])
    return [message_id for message_id, _ in record["ids"]]


def _size(value: Any) -> int:
    return len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


Delivery = Callable[[], Awaitable[None]]


@dataclass
class Batch:
    """Messages of one partition sharing one journal entry (see the module docstring)."""

    partition: int
    txn: Txn
    # message id -> its outputs, in the order handled.
    outputs: dict[str, Sequence[Emit]] = field(default_factory=dict)
    # message id -> its outputs as kept, each with its size (made once, by the size check).
    kept: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    # Sends and dead letters, made after the entry, in message order.
    after: list[Delivery] = field(default_factory=list)
    token: Token[Batch | None] | None = None
    # The JSON size of the batch's writes and kept outputs so far: a take ends a batch early
    # once it is large (``hub.runtime.batching``), so a take's memory stays bounded.
    size: int = 0


class Journal:
    """A flow's state (``store``) and its journal; see the module docstring."""

    def __init__(
        self,
        store: Store,
        flow: str,
        keep: int = 4096,
        max_value_bytes: int = MAX_VALUE_BYTES,
        chunk_chars: int = CHUNK_CHARS,
        flush: Delivery | None = None,
    ) -> None:
        self.store = store
        self.flow = flow
        # Waits until every record this worker produced so far is delivered (module docstring:
        # outputs wait for the entry); None where writes are not sent anywhere (unit tests).
        self._flush = flush
        self._unflushed = False
        self.keep = keep
        self.max_value_bytes = max_value_bytes
        self.chunk_chars = chunk_chars
        self._open: ContextVar[Txn | None] = ContextVar(f"journal:{flow}", default=None)
        self._batch: ContextVar[Batch | None] = ContextVar(f"batch:{flow}", default=None)
        # The JSON size of each write checked since the last entry, by the value's identity, so
        # the entry's body is cut into chunks without encoding every value a second time.
        self._encoded: dict[int, tuple[Any, int]] = {}
        self._checked_bytes = 0
        # partition -> the head this process made or completed: a head it does not know (a
        # restart, a rebalance) is completed before the partition's next message.
        self._completed: dict[int, int] = {}
        # partition -> message id -> the ring slot keeping its outputs (``_index``).
        self._indexes: dict[int, dict[str, int]] = {}
        # Per partition, the message ids each kept slot of this version names (read with the
        # index): a slot evicted is forgotten without reading its record back, outputs and all.
        self._slot_ids: dict[int, dict[int, list[str]]] = {}

    # --- what handlers see -------------------------------------------------------------------

    def view(self, name: str) -> View:
        """The flow's entries under ``name|``, as a mapping (see ``View``)."""
        return View(f"{name}|", self._current)

    def _current(self, writing: bool) -> Store:
        txn = self._open.get()
        if txn is not None:
            return txn
        if writing:
            raise RuntimeError(f"{self.flow} state written outside a journaled message")
        return self.store

    def first(self, partition: int, name: str, prefix: str) -> tuple[str, Any] | None:
        """The first entry of view ``name`` under ``prefix`` in ``partition``, read outside a
        message (a timer deciding whether a partition has work)."""
        found = first_in_partition(self.store, partition, f"{name}|{prefix}")
        return None if found is None else (found[0][len(name) + 1 :], found[1])

    @contextlib.contextmanager
    def nested(self) -> Iterator[Txn]:
        """A transaction inside the open one: ``merge`` keeps its writes, else they are
        dropped (one of several items handled in one message failed)."""
        parent = self._open.get()
        if parent is None:
            raise RuntimeError(f"{self.flow}: nested() outside a journaled message")
        child = Txn(parent)
        token = self._open.set(child)
        try:
            yield child
        finally:
            self._open.reset(token)

    @staticmethod
    def merge(child: Txn) -> None:
        """Make ``child``'s writes in the transaction it was opened in."""
        parent = child.base
        for key, value in child.writes():
            if value is None:
                parent.delete(key)
            else:
                parent.put(key, value)

    # --- running a message -------------------------------------------------------------------

    async def run(
        self,
        partition: int,
        message_id: str,
        handle: Callable[[], Awaitable[Sequence[Emit]]],
        keep_empty: bool = True,
    ) -> Sequence[Emit]:
        """``handle()``'s outputs with its writes made, or the outputs a first run kept.

        In an open batch the writes join the batch's entry, made when it closes.
        ``keep_empty=False``: a run that wrote and sent nothing leaves no entry (a timer's tick
        that found nothing due: a replay finds nothing due either)."""
        batch = self._batch.get()
        if batch is not None and batch.partition != partition:
            raise RuntimeError(
                f"{self.flow}: a message of partition {partition} in a batch of {batch.partition}"
            )
        if batch is None:
            self.recover(partition)
        elif message_id in batch.outputs:
            return batch.outputs[message_id]
        kept = self.kept(partition, message_id)
        if kept is not None:
            return kept
        txn = Txn(self.store if batch is None else batch.txn)
        token = self._open.set(txn)
        try:
            emits = await handle()
        finally:
            self._open.reset(token)
        docs = self._check(txn, emits)
        if batch is not None:
            self.merge(txn)
            if keep_empty or emits or txn:
                batch.outputs[message_id] = emits
                batch.kept[message_id] = docs
                batch.size += self._checked_bytes
        elif keep_empty or emits or txn:
            self.commit(partition, txn, {message_id: emits}, {message_id: docs})
        return emits

    # --- batches -----------------------------------------------------------------------------

    def open_batch(self, partition: int) -> Batch:
        """Start a batch of ``partition``'s messages: ``run`` joins it until ``close_batch``."""
        if self._batch.get() is not None:
            raise RuntimeError(f"{self.flow}: a batch is already open")
        self.recover(partition)
        batch = Batch(partition, Txn(self.store))
        batch.token = self._batch.set(batch)
        return batch

    async def close_batch(self, batch: Batch) -> None:
        """Write the batch's entry and make its writes, then deliver its sends in order."""
        await self.deliver_all(self.end_batch(batch))

    def end_batch(self, batch: Batch) -> list[Delivery]:
        """Write the batch's entry and make its writes; its sends and dead letters, in order,
        for ``deliver_all`` (batches of several partitions may share one ``deliver_all``)."""
        assert batch.token is not None
        self._batch.reset(batch.token)
        if batch.outputs or batch.txn:
            self.commit(batch.partition, batch.txn, batch.outputs, batch.kept)
            JOURNAL_BATCH_MESSAGES.labels(flow=self.flow).observe(len(batch.outputs))
        return batch.after

    async def deliver_all(self, deliveries: Sequence[Delivery]) -> None:
        """Once the entries written so far are delivered, make ``deliveries`` in order."""
        if deliveries:
            await self._settle()
        for delivery in deliveries:
            await delivery()

    async def deliver(self, delivery: Delivery) -> None:
        """Send now (once the last entry is delivered), or, in an open batch, once the batch's
        entry is written and delivered."""
        batch = self._batch.get()
        if batch is None:
            await self._settle()
            await delivery()
        else:
            batch.after.append(delivery)

    async def _settle(self) -> None:
        """Wait until the entries written so far are delivered, if any is not known to be."""
        if self._unflushed and self._flush is not None:
            self._unflushed = False
            await self._flush()

    def _check(self, txn: Txn, emits: Sequence[Emit]) -> list[tuple[Any, int]]:
        """Refuse a message whose writes, or one of whose outputs as kept, would not fit a
        record: checked per message, so one message never fails a batch's entry. Returns the
        outputs as kept, each with its size."""
        written = 0
        for key, value in txn.writes():
            if value is not None:
                written += self._fits(key, value, keep=True)
        self._checked_bytes = written
        docs = []
        bodies: dict[int, Any] = {}  # one event sent to several topics is dumped once
        for emit in emits:
            body = bodies.get(id(emit.event))
            if body is None:
                body = bodies[id(emit.event)] = event_body(emit.event)
            doc = store_emit(emit, body)
            docs.append((doc, self._fits(f"kept {type(emit.event).__name__}", doc)))
            self._checked_bytes += docs[-1][1]
        return docs

    def _fits(self, key: str, value: Any, keep: bool = False) -> int:
        size = _size(value)
        if keep:
            self._encoded[id(value)] = (value, size)
        if size > self.max_value_bytes:
            STATE_REFUSED.labels(flow=self.flow).inc()
            raise StateTooLarge(key, size, self.max_value_bytes)
        return size

    def kept(self, partition: int, message_id: str) -> list[Emit] | None:
        """The outputs a first run of ``message_id`` kept, or None: a lookup in memory, and a
        read of the store only for a message that was handled (a redelivery)."""
        where = self._index(partition).get(message_id)
        if where is None:
            return None
        if where == _LEGACY:
            return self._kept_legacy(partition, message_id)
        return [restore_emit(doc) for doc in self._slot_docs(partition, where, message_id)]

    def _kept_legacy(self, partition: int, message_id: str) -> list[Emit] | None:
        """Outputs kept by an earlier version, one record (or parts) per message."""
        head = self.store.get(self._key(partition, "e", message_id))
        if head is None:
            return None
        if "out" in head:  # kept whole in the head (small outputs, the usual case)
            return [restore_emit(doc) for doc in head["out"]]
        docs: list[Any] = []
        for i in range(int(head["parts"])):
            docs += self.store.get(self._key(partition, "e", f"{message_id}|{i}")) or []
        return [restore_emit(doc) for doc in docs]

    def _slot_docs(self, partition: int, slot: int, message_id: str) -> list[Any]:
        record = self.store.get(self._key(partition, "q", str(slot))) or {}
        if "out" in record:
            parts = [record["out"]]
        else:
            parts = [
                self.store.get(self._key(partition, "q", f"{slot}|{i}")) or []
                for i in range(int(record.get("parts", 0)))
            ]
        docs: list[Any] = []
        for part in parts:
            for named, part_docs in part:
                if named == message_id:
                    docs += part_docs
        return docs

    def _index(self, partition: int) -> dict[str, int]:
        """Message id -> the ring slot keeping its outputs, for the partition's kept slots:
        read from the slots the head names when this process first needs it."""
        index = self._indexes.get(partition)
        if index is not None:
            return index
        index = self._indexes[partition] = {}
        slot_ids = self._slot_ids[partition] = {}
        head = self.store.get(self._key(partition, "h"))
        if head is None:
            return index
        if head.get("l") is not None or ("q" not in head):
            # The earliest ring: one slot per message (``r|<n>``), outputs under ``e|<id>``.
            for _, older in self.store.scan(self._key(partition, "r") + "|"):
                index[older if isinstance(older, str) else older["id"]] = _LEGACY
        for slot in range(int(head.get("o", 0)), int(head.get("q", 0))):
            record = self.store.get(self._key(partition, "q", str(slot)))
            current = _is_slot(record)
            named = _named(record)
            for message_id in named:
                index[message_id] = slot if current else _LEGACY
            if current:
                slot_ids[slot] = named
        return index

    def recover(self, partition: int) -> None:
        """Complete the partition's last entry unless this process made or completed it."""
        head = self.store.get(self._key(partition, "h"))
        seq = 0 if head is None else int(head["seq"])
        if self._completed.get(partition) == seq:
            return
        if head is not None:
            self.store.write(partition, [(k, v) for k, v in self._body(partition, head)["writes"]])
            JOURNAL_COMPLETIONS.labels(flow=self.flow).inc()
            log.info("%s: completed journal entry %d of partition %d", self.flow, seq, partition)
        self._completed[partition] = seq
        # Another process wrote here since (a rebalance): the index is read again when needed.
        self._indexes.pop(partition, None)
        self._slot_ids.pop(partition, None)

    def commit(
        self,
        partition: int,
        txn: Txn,
        outputs: Mapping[str, Sequence[Emit]],
        kept: Mapping[str, list[tuple[Any, int]]] | None = None,
    ) -> None:
        """Keep ``txn``'s writes and each message's outputs in one entry, then make them.
        ``kept``: the outputs as kept with their sizes, where the size check made them."""
        stored = self.store.get(self._key(partition, "h"))
        head = stored or {"seq": 0}
        seq = int(head["seq"]) + 1
        slot_records, ring = self._ring(
            partition, seq, txn, head, stored is None, outputs, kept or {}
        )
        writes = txn.writes()
        chunks = self._body_chunks(writes)
        records: list[tuple[str, Any]] = [
            (self._chunk(partition, seq, i), {"seq": seq, "writes": part})
            for i, part in enumerate(chunks)
        ]
        records += slot_records
        records.append((self._key(partition, "h"), {"seq": seq, "chunks": len(chunks), **ring}))
        records += writes
        # The body's chunks and the outputs' slot, then the head, then the writes: in this
        # order on the changelog. A slot is trusted only once a head names it (``q``).
        self.store.write(partition, records)
        self._completed[partition] = seq
        self._unflushed = True

    # --- internals ---------------------------------------------------------------------------

    def _ring(
        self,
        partition: int,
        seq: int,
        txn: Txn,
        head: Mapping[str, Any],
        fresh: bool,
        outputs: Mapping[str, Sequence[Emit]],
        kept: Mapping[str, list[tuple[Any, int]]],
    ) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
        """Keep the entry's outputs in one ring slot (``q|<n>``, in parts when large), and
        forget the oldest slots while the rest still holds ``keep`` messages; the slot's records
        (written before the head) and the head's ring fields. One slot per entry: a batch of
        200 messages writes one record for their outputs, and evicting it deletes one.

        Head fields: ``q`` the next slot number, ``o`` the oldest slot kept, ``k`` the messages
        the kept slots name, ``l`` the next slot of the earliest one-slot-per-message ring
        still to forget (``r|0`` .. ``r|keep-1``; absent once none is left)."""
        q, o, k = int(head.get("q", 0)), int(head.get("o", 0)), int(head.get("k", 0))
        legacy = head.get("l", None if fresh or "q" in head else 0)
        if not outputs:
            return [], {"q": q, "o": o, "k": k, **({} if legacy is None else {"l": legacy})}
        index = self._index(partition)
        current = set(outputs)
        if legacy is not None:
            legacy = self._forget_legacy(partition, txn, legacy, len(outputs), current)
        entries = []
        for message_id, emits in outputs.items():
            docs = kept.get(message_id)
            if docs is None:
                docs = [(doc, _size(doc)) for doc in (store_emit(e) for e in emits)]
            entries.append((message_id, docs))
        records = self._slot_records(partition, q, seq, entries)
        for message_id in outputs:
            index[message_id] = q
        slot_ids = self._slot_ids.setdefault(partition, {})
        slot_ids[q] = list(outputs)
        q, k = q + 1, k + len(outputs)
        while o < q - 1:
            key = self._key(partition, "q", str(o))
            known = slot_ids.get(o)
            # A slot of this version this process knows: its ids, without reading it back.
            oldest = None if known is not None else txn.get(key)
            named = known if known is not None else _named(oldest)
            if k - len(named) < self.keep:
                break
            if oldest is not None and not _is_slot(oldest):  # an earlier version's slot
                for old_id, old_parts in oldest["ids"]:
                    if old_id not in current:
                        self._forget(partition, txn, old_id, old_parts)
            slot_ids.pop(o, None)
            # Its parts, and any a crash left of an entry that never landed under this number.
            for part_key, _ in txn.scan(self._key(partition, "q", f"{o}|")):
                txn.delete(part_key)
            txn.delete(key)
            for old_id in named:
                if index.get(old_id) in (o, _LEGACY) and old_id not in current:
                    del index[old_id]
            k -= len(named)
            o += 1
        return records, {"q": q, "o": o, "k": k, **({} if legacy is None else {"l": legacy})}

    def _slot_records(
        self, partition: int, slot: int, seq: int, entries: list[tuple[str, list[tuple[Any, int]]]]
    ) -> list[tuple[str, Any]]:
        """A slot's records: ``[[message id, outputs], ...]`` in parts of bounded size (an
        allocation may send thousands of outputs; one message's may span parts)."""
        parts: list[list[list[Any]]] = [[]]
        size = 0
        for message_id, docs in entries:
            parts[-1].append([message_id, []])
            for doc, doc_size in docs:
                if size > 0 and size + doc_size > self.max_value_bytes // 2:
                    parts.append([[message_id, []]])
                    size = 0
                parts[-1][-1][1].append(doc)
                size += doc_size
            size += len(message_id) + 8
        key = self._key(partition, "q", str(slot))
        if len(parts) == 1:
            return [(key, {"seq": seq, "out": parts[0]})]
        ids = [message_id for message_id, _ in entries]
        records = [(self._key(partition, "q", f"{slot}|{i}"), part) for i, part in enumerate(parts)]
        return [*records, (key, {"seq": seq, "parts": len(parts), "ids": ids})]

    def _forget_legacy(
        self, partition: int, txn: Txn, at: int, count: int, current: set[str]
    ) -> int | None:
        """Forget ``count`` slots of the earlier one-slot-per-message ring from ``at`` (the pace
        it evicted at), with the outputs they name; the next slot, or None once none is left."""
        for _ in range(count):
            slot = self._key(partition, "r", str(at))
            older = txn.get(slot)
            if older is not None:
                old_id, old_parts = (
                    (older, None) if isinstance(older, str) else (older["id"], older["parts"])
                )
                if old_id not in current:
                    self._forget(partition, txn, old_id, old_parts)
                txn.delete(slot)
            at += 1
            if at >= self.keep:
                return None
        return at

    def _body_chunks(self, writes: Sequence[tuple[str, Any]]) -> list[list[list[Any]]]:
        """The entry's writes in chunks of about ``chunk_chars`` of JSON each (a write is never
        split: each fits a record, ``_check``). Each chunk is a record of the writes themselves,
        encoded once when it is written, not a JSON text inside JSON."""
        chunks: list[list[list[Any]]] = [[]]
        size = total = 0
        for key, value in writes:
            known = self._encoded.get(id(value))
            value_size = known[1] if known is not None and known[0] is value else _size(value)
            write_size = len(key) + value_size + 6
            if chunks[-1] and size + write_size > self.chunk_chars:
                chunks.append([])
                size = 0
            chunks[-1].append([key, value])
            size += write_size
            total += write_size
        self._encoded.clear()
        JOURNAL_ENTRY_BYTES.labels(flow=self.flow).observe(total)
        return chunks

    def _forget(self, partition: int, txn: Txn, message_id: str, parts: int | None = None) -> None:
        """Delete a kept message's outputs; ``parts`` unknown (a slot written before slots
        named them): read from its head."""
        if parts is None:
            head = txn.get(self._key(partition, "e", message_id))
            parts = 0 if head is None else int(head.get("parts", 0))
        for i in range(parts):
            txn.delete(self._key(partition, "e", f"{message_id}|{i}"))
        txn.delete(self._key(partition, "e", message_id))

    def _body(self, partition: int, head: Mapping[str, Any]) -> dict[str, Any]:
        writes: list[Any] = []
        parts = []  # an earlier version's chunks: pieces of the body's JSON text
        for i in range(int(head["chunks"])):
            chunk = self.store.get(self._chunk(partition, int(head["seq"]), i))
            if chunk is None or chunk.get("seq") != head["seq"]:
                raise JournalCorrupt(
                    f"{self.flow}: journal entry {head['seq']} of partition {partition} "
                    f"lacks chunk {i}"
                )
            if "writes" in chunk:
                writes += chunk["writes"]
            else:
                parts.append(str(chunk["part"]))
        if parts:
            body: dict[str, Any] = orjson.loads("".join(parts))
            return body
        return {"seq": head["seq"], "writes": writes}

    @classmethod
    def _chunk(cls, partition: int, seq: int, index: int) -> str:
        """Bodies alternate between two sets of chunk keys: a new entry's chunks never
        overwrite those of the head it follows, which a crash may still need to complete."""
        return cls._key(partition, "b", f"{seq % 2}|{index}")

    @staticmethod
    def _key(partition: int, kind: str, name: str = "") -> str:
        return f"~j|{partition}|{kind}|{name}" if name else f"~j|{partition}|{kind}"
