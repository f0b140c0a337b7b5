"""A flow's journal: a message's writes and outputs kept in one entry first, so a replay after a
crash at any write, or a redelivery, ends in the same state and outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pytest

from hub.runtime.emit import Emit
from hub.runtime.journal import Journal, JournalCorrupt, StateTooLarge
from hub.runtime.state import MemoryStore, Txn
from hub.schemas.envelope import Event
from tests.support import crash_cut
from tests.support.samples import sample

EVENT: Event = sample("TicketOpened")


def test_memory_store_scans_a_prefix_in_key_order() -> None:
    store = MemoryStore({"b|2": 2, "a|1": 1, "b|1": 1, "c": 0})
    store.put("b|0", 0)
    store.delete("b|2")
    assert list(store.scan("b|")) == [("b|0", 0), ("b|1", 1)]
    assert list(store.scan("z")) == []
    assert list(store.scan("b|", after="b|0")) == [("b|1", 1)]
    assert list(store.scan("b|", after="a")) == [("b|0", 0), ("b|1", 1)]


def test_a_transaction_reads_and_scans_its_own_writes_and_makes_none() -> None:
    base = MemoryStore({"x|1": 1, "x|2": 2, "x|4": 4, "y|1": 9})
    txn = Txn(base)
    txn.put("x|3", 3)
    txn.put("x|1", 10)
    txn.delete("x|2")
    txn.put("x|5", 5)
    assert (txn.get("x|1"), txn.get("x|2"), txn.get("y|1")) == (10, None, 9)
    assert list(txn.scan("x|")) == [("x|1", 10), ("x|3", 3), ("x|4", 4), ("x|5", 5)]
    assert list(txn.scan("x|", after="x|3")) == [("x|4", 4), ("x|5", 5)]
    assert base.data == {"x|1": 1, "x|2": 2, "x|4": 4, "y|1": 9}
    assert txn.writes() == [("x|3", 3), ("x|1", 10), ("x|2", None), ("x|5", 5)]
    with pytest.raises(ValueError, match="delete the key"):
        txn.put("x|6", None)


async def seen_once(journal: Journal) -> Sequence[Emit]:
    """Decides "done" from its first write, as handlers do: a replay that found only that
    write would skip the rest, unless the journal completes it."""
    left, right = journal.view("left"), journal.view("right")
    if "seen" in left:
        return []
    left["seen"] = True
    left["count"] = left.get("count", 0) + 1
    right.pop("stale", None)
    right["last"] = str(EVENT.event_id)
    return [Emit("out", "k", EVENT)]


def user_state(store: MemoryStore) -> dict[str, Any]:
    return {k: v for k, v in store.data.items() if not k.startswith("~j|")}


async def test_writes_are_made_after_the_entry_and_views_see_them() -> None:
    store = crash_cut.RecordingStore()
    store.put("right|stale", 1)
    journal = Journal(store, "test")
    emits = await journal.run(0, "m1", lambda: seen_once(journal))
    assert [e.event for e in emits] == [EVENT]
    assert user_state(store) == {
        "left|seen": True,
        "left|count": 1,
        "right|last": str(EVENT.event_id),
    }
    written = [key for key, _ in store.log[1:]]
    # body, the outputs' slot (small: one record), head, then the writes
    assert written[:3] == ["~j|0|b|1|0", "~j|0|q|0", "~j|0|h"]
    assert store.data["~j|0|q|0"]["out"][0][0] == "m1"
    assert set(written[3:]) == {
        "left|seen",
        "left|count",
        "right|stale",
        "right|last",
    }


async def test_a_redelivered_message_gets_its_first_outputs_and_changes_nothing() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")
    calls = 0

    async def counted() -> Sequence[Emit]:
        nonlocal calls
        calls += 1
        journal.view("n")["calls"] = calls
        return [Emit("out", "k", EVENT)]

    first = await journal.run(0, "m1", counted)
    before = dict(store.data)
    again = await Journal(store, "test").run(0, "m1", counted)  # even in a new process
    assert (again, calls, store.data) == (first, 1, before)


async def test_a_replay_after_a_crash_at_any_write_ends_in_the_uncut_state_and_outputs() -> None:
    whole = crash_cut.RecordingStore()
    whole.put("right|stale", 1)
    journal = Journal(whole, "test")
    await journal.run(0, "m0", lambda: _put(journal, "other", 1))
    start = len(whole.log)
    expected = await journal.run(0, "m1", lambda: seen_once(journal))
    assert len(whole.log) - start > 4
    for cut in range(start, len(whole.log) + 1):
        store = crash_cut.landed(whole.log[:cut])
        replay = Journal(store, "test")  # a restarted worker
        replayed = await replay.run(0, "m1", lambda j=replay: seen_once(j))
        assert replayed == expected, f"cut after {cut - start} writes"
        assert store.data == whole.data, f"cut after {cut - start} writes"


async def _put(journal: Journal, key: str, value: Any) -> Sequence[Emit]:
    journal.view("x")[key] = value
    return []


async def test_a_restart_completes_the_last_entry_before_the_partitions_next_message() -> None:
    """A crash landed the head and one write; the message was committed elsewhere (or another
    message comes first): the next message still reads the whole of the last one's writes."""
    whole = crash_cut.RecordingStore()
    journal = Journal(whole, "test")

    async def two_writes() -> Sequence[Emit]:
        view = journal.view("x")
        view["a"], view["b"] = 1, 2
        return []

    start = len(whole.log)
    await journal.run(3, "m1", two_writes)
    head = next(i for i, (k, _) in enumerate(whole.log) if k == "~j|3|h")
    store = crash_cut.landed(whole.log[: head + 2])  # head, and the first of four writes
    restarted = Journal(store, "test")
    seen: dict[str, Any] = {}

    async def reads() -> Sequence[Emit]:
        seen.update(restarted.view("x").scan())
        return []

    await restarted.run(3, "m2", reads)
    assert seen == {"a": 1, "b": 2}
    assert start == 0


async def test_a_large_entry_is_written_in_chunks_and_completed_from_them() -> None:
    whole = crash_cut.RecordingStore()
    journal = Journal(whole, "test", chunk_chars=1000)

    async def many() -> Sequence[Emit]:
        view = journal.view("x")
        for i in range(200):
            view[f"{i:04d}"] = "v" * 50
        return []

    await journal.run(0, "m1", many)
    chunks = [k for k, _ in whole.log if k.startswith("~j|0|b|")]
    assert len(chunks) > 10
    head = next(i for i, (k, _) in enumerate(whole.log) if k == "~j|0|h")
    store = crash_cut.landed(whole.log[: head + 1])
    Journal(store, "test").recover(0)
    assert store.data == whole.data


async def test_a_head_without_its_chunks_is_reported_not_guessed() -> None:
    store = MemoryStore({"~j|0|h": {"seq": 2, "n": 1, "chunks": 1}})
    store.put("~j|0|b|0|0", {"seq": 0, "part": "{}"})
    with pytest.raises(JournalCorrupt, match="lacks chunk 0"):
        Journal(store, "test").recover(0)


async def test_a_value_over_the_record_limit_is_refused_before_anything_is_written() -> None:
    store = MemoryStore()
    journal = Journal(store, "test", max_value_bytes=1000)

    async def huge() -> Sequence[Emit]:
        journal.view("x")["small"] = 1
        journal.view("x")["big"] = "x" * 2000
        return []

    with pytest.raises(StateTooLarge, match=re.escape("'x|big' would be 2002 bytes")):
        await journal.run(0, "m1", huge)
    assert store.data == {}


async def test_a_handler_that_fails_leaves_no_write_behind() -> None:
    store = MemoryStore()
    journal = Journal(store, "test")

    async def fails() -> Sequence[Emit]:
        journal.view("x")["half"] = True
        raise RuntimeError("Partner Center timed out")

    with pytest.raises(RuntimeError):
        await journal.run(0, "m1", fails)
    assert store.data == {}
    assert await journal.run(0, "m1", lambda: _put(journal, "whole", True)) == []
    assert user_state(store) == {"x|whole": True}


async def test_only_the_latest_kept_outputs_of_a_partition_are_kept() -> None:
    store = MemoryStore()
    journal = Journal(store, "test", keep=3)
    for n in range(5):
        await journal.run(0, f"m{n}", lambda n=n: _put(journal, f"k{n}", n))
    await journal.run(1, "p1", lambda: _put(journal, "k9", 9))
    slots = sorted(k for k in store.data if "|q|" in k)
    assert slots == ["~j|0|q|2", "~j|0|q|3", "~j|0|q|4", "~j|1|q|0"]  # one per message here
    assert [store.data[k]["out"][0][0] for k in slots] == ["m2", "m3", "m4", "p1"]
    again = Journal(store, "test", keep=3)  # a new process reads which messages are kept
    assert await again.run(0, "m1", lambda: _put(again, "k1", "again")) == []
    assert store.data["x|k1"] == "again"  # m1 was forgotten: handled anew
    assert await again.run(0, "m3", lambda: _put(again, "k3", "again")) == []
    assert store.data["x|k3"] == 3  # m3 is kept: not handled again


class _SlotReads(MemoryStore):
    """Counts reads of ring slots (``|q|`` keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.slot_reads = 0

    def get(self, key: str) -> Any | None:
        self.slot_reads += "|q|" in key
        return super().get(key)


async def test_an_evicted_slot_is_not_read_back_by_the_process_that_knows_its_ids() -> None:
    store = _SlotReads()
    journal = Journal(store, "test", keep=3)
    for n in range(20):
        await journal.run(0, f"m{n}", lambda n=n: _put(journal, f"k{n}", n))
    # Each slot's outputs (a batch's, up to megabytes) were evicted without a read of them.
    assert store.slot_reads == 0
    assert sorted(k for k in store.data if "|q|" in k) == ["~j|0|q|17", "~j|0|q|18", "~j|0|q|19"]
    again = Journal(store, "test", keep=3)  # a new process reads the kept slots once
    for n in range(20, 25):
        await again.run(0, f"m{n}", lambda n=n: _put(again, f"k{n}", n))
    assert store.slot_reads == 3
    assert sorted(k for k in store.data if "|q|" in k) == ["~j|0|q|22", "~j|0|q|23", "~j|0|q|24"]
    assert await again.run(0, "m23", lambda: _put(again, "k23", "again")) == []
    assert store.data["x|k23"] == 23


async def test_many_outputs_are_kept_in_parts_that_each_fit_a_record() -> None:
    store = MemoryStore()
    journal = Journal(store, "test", max_value_bytes=20_000)
    many = [Emit("out", f"k{i}", EVENT) for i in range(100)]

    async def fan_out() -> Sequence[Emit]:
        return many

    await journal.run(0, "m1", fan_out)
    assert store.data["~j|0|q|0"]["parts"] > 5
    parts = [k for k in store.data if k.startswith("~j|0|q|0|")]
    assert all(len(json.dumps(store.data[k])) < 20_000 for k in parts)
    assert await Journal(store, "test").run(0, "m1", fan_out) == many


def test_state_is_read_outside_a_message_but_never_written() -> None:
    store = MemoryStore({"x|a": 1})
    view = Journal(store, "test").view("x")
    assert (view["a"], dict(view), len(view)) == (1, {"a": 1}, 1)
    with pytest.raises(RuntimeError, match="outside a journaled message"):
        view["b"] = 2


async def test_the_earlier_rings_slots_are_forgotten_as_new_messages_are_kept() -> None:
    """Slots of the earlier ring (one per message, ``r|<n>``, some naming only the message id)
    are forgotten, with the outputs they name, one per message kept from then on."""
    store = MemoryStore(
        {
            "~j|0|h": {"seq": 5, "n": 0, "chunks": 1},
            "~j|0|b|1|0": {"seq": 5, "part": '{"seq":5,"writes":[]}'},
            "~j|0|r|0": "old",  # the first format: the message id alone
            "~j|0|e|old": {"parts": 2},
            "~j|0|e|old|0": [],
            "~j|0|e|old|1": [],
            "~j|0|r|1": {"id": "older", "parts": 0},
            "~j|0|e|older": {"out": []},
        }
    )
    journal = Journal(store, "test", keep=2)
    await journal.run(0, "m1", lambda: _put(journal, "k", 1))
    assert not [k for k in store.data if k.startswith("~j|0|e|old|") or k == "~j|0|e|old"]
    assert "~j|0|r|0" not in store.data
    assert "~j|0|e|older" in store.data
    await journal.run(0, "m2", lambda: _put(journal, "k", 2))
    assert not [k for k in store.data if "|r|" in k or k == "~j|0|e|older"]
    assert "l" not in store.data["~j|0|h"]  # none left
    assert not [k for k in store.data if "|e|" in k]
    assert sorted(k for k in store.data if "|q|" in k) == ["~j|0|q|0", "~j|0|q|1"]


async def test_a_batch_names_its_messages_in_one_slot_and_evicts_whole_older_slots() -> None:
    store = crash_cut.RecordingStore()
    journal = Journal(store, "test", keep=3)
    for first in (0, 2, 4):  # three batches of two messages
        batch = journal.open_batch(0)
        for n in (first, first + 1):
            await journal.run(0, f"m{n}", lambda n=n: _put(journal, f"k{n}", n))
        await journal.close_batch(batch)
    slots = sorted(k for k in store.data if "|q|" in k)
    # The oldest slot went once the two newer ones held the 3 kept; each slot is one record.
    assert slots == ["~j|0|q|1", "~j|0|q|2"]
    assert [m for m, _ in store.data["~j|0|q|2"]["out"]] == ["m4", "m5"]
    assert not [k for k in store.data if "|e|" in k]
    assert [k for k, _ in store.log].count("~j|0|q|2") == 1
    # A redelivered message of a kept slot gets its outputs, not a second run.
    assert await journal.run(0, "m2", lambda: _put(journal, "k2", "again")) == []
    assert store.data["x|k2"] == 2


async def test_outputs_an_earlier_version_kept_per_message_are_found_and_then_forgotten() -> None:
    """A store written before slots kept outputs (slots naming ``e|<id>`` records): a
    redelivery still gets its outputs, and evicting such a slot deletes what it names."""
    journal = Journal(MemoryStore(), "test")
    out = [Emit("out", "k", EVENT)]

    async def once() -> Sequence[Emit]:
        return out

    await journal.run(0, "x", once)
    doc = journal.store.get("~j|0|q|0")["out"][0][1]
    store = MemoryStore(
        {
            "~j|0|h": {"seq": 2, "chunks": 1, "q": 2, "o": 0, "k": 2},
            "~j|0|b|0|0": {"seq": 2, "part": '{"seq":2,"writes":[]}'},
            "~j|0|q|0": {"ids": [["old", 0]]},
            "~j|0|e|old": {"out": doc},
            "~j|0|q|1": {"ids": [["big", 2]]},
            "~j|0|e|big": {"parts": 2},
            "~j|0|e|big|0": doc,
            "~j|0|e|big|1": doc,
        }
    )
    restarted = Journal(store, "test", keep=2)
    assert await restarted.run(0, "old", lambda: _put(restarted, "k", "again")) == out
    assert await restarted.run(0, "big", lambda: _put(restarted, "k", "again")) == out + out
    assert "x|k" not in store.data
    for n in range(3):
        await restarted.run(0, f"m{n}", lambda n=n: _put(restarted, f"k{n}", n))
    assert not [k for k in store.data if "|e|" in k]
    assert sorted(k for k in store.data if "|q|" in k) == ["~j|0|q|3", "~j|0|q|4"]


async def test_an_entry_an_earlier_version_wrote_as_json_text_is_still_completed() -> None:
    """Before, an entry's body was one JSON text cut into string chunks; a head of that kind
    left by a crash just before an upgrade is completed from them."""
    text = '{"seq":4,"writes":[["x|a",{"n":1}],["x|gone",null]]}'
    store = MemoryStore(
        {
            "~j|0|h": {"seq": 4, "chunks": 2, "q": 0, "o": 0, "k": 0},
            "~j|0|b|0|0": {"seq": 4, "part": text[:20]},
            "~j|0|b|0|1": {"seq": 4, "part": text[20:]},
            "x|gone": 5,
        }
    )
    Journal(store, "test").recover(0)
    assert user_state(store) == {"x|a": {"n": 1}}
