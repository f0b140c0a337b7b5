"""A message's writes and outputs are kept first, so a replay after a crash makes them again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.runtime.journal import MAX_ENTRY_BYTES, Buffered, Journal
from hub.runtime.pipeline import Emit
from hub.schemas.envelope import Event
from tests.support import crash_cut
from tests.support.samples import sample


def test_buffered_reads_its_own_writes_and_hands_them_over_once() -> None:
    base = {"a": 1, "b": 2}
    table = Buffered(base)
    table["a"] = 10
    table["c"] = 3
    del table["b"]
    assert (table["a"], table.get("b"), sorted(table), len(table)) == (10, None, ["a", "c"], 2)
    assert base == {"a": 1, "b": 2}  # nothing made yet
    with pytest.raises(KeyError):
        del table["b"]
    assert table.take() == [("a", 10), ("c", 3), ("b", None)]
    assert table.take() == []
    assert dict(table) == base


@dataclass
class Tables:
    journal: dict[str, Any] = field(default_factory=dict)
    left: dict[str, Any] = field(default_factory=dict)
    right: dict[str, Any] = field(default_factory=dict)


EVENT: Event = sample("TicketOpened")


def journal_over(tables: Tables) -> tuple[Journal, Buffered, Buffered]:
    left, right = Buffered(tables.left), Buffered(tables.right)
    return Journal(tables.journal, {"left": left, "right": right}), left, right


async def handler(left: Buffered, right: Buffered) -> Sequence[Emit]:
    """Decides "done" from its first write, as handlers do: a replay would skip the rest."""
    if "seen" in left:
        return []
    left["seen"] = True
    left["count"] = left.get("count", 0) + 1
    right.pop("stale", None)
    right["last"] = str(EVENT.event_id)
    return [Emit("out", "k", EVENT)]


async def test_a_replay_after_a_crash_at_any_write_makes_the_same_writes_and_outputs() -> None:
    whole, log = crash_cut.recording(Tables)
    dict.__setitem__(whole.right, "stale", 1)
    journal, left, right = journal_over(whole)
    expected = await journal.run(0, 7, lambda: handler(left, right))
    assert [e.event for e in expected] == [EVENT]
    assert whole.left == {"seen": True, "count": 1}
    assert whole.right == {"last": str(EVENT.event_id)}
    assert [(name, value is None) for name, _, value in log] == [
        ("journal", False),
        ("journal", False),
        ("left", False),
        ("left", False),
        ("right", True),  # "stale" deleted
        ("right", False),
    ]
    for cut in range(len(log)):
        tables = crash_cut.land(crash_cut.recording(Tables)[0], log[:cut])
        dict.__setitem__(tables.right, "stale", 1)
        journal, left, right = journal_over(tables)
        replayed = await journal.run(0, 7, lambda left=left, right=right: handler(left, right))
        assert replayed == expected, f"cut at {cut}"
        assert (tables.left, tables.right) == (whole.left, whole.right), f"cut at {cut}"


async def test_a_handler_that_fails_leaves_no_write_behind() -> None:
    tables = Tables()
    journal, left, _ = journal_over(tables)

    async def fails() -> Sequence[Emit]:
        left["half"] = True
        raise RuntimeError("Partner Center timed out")

    with pytest.raises(RuntimeError):
        await journal.run(0, 1, fails)
    assert (tables.left, tables.journal, left.take()) == ({}, {}, [])


async def test_only_the_latest_entries_of_a_partition_are_kept() -> None:
    tables = Tables()
    journal, left, _ = journal_over(tables)
    journal.keep = 3

    async def write(n: int) -> Sequence[Emit]:
        left[f"k{n}"] = n
        return []

    for offset in range(5):
        await journal.run(0, offset, lambda n=offset: write(n))
    await journal.run(1, 0, lambda: write(9))
    assert sorted(tables.journal) == ["0:2", "0:3", "0:4", "1:0", "index:0", "index:1"]
    assert tables.journal["index:0"] == ["0:2", "0:3", "0:4"]


async def test_an_entry_too_large_for_a_record_is_made_without_the_journal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tables = Tables()
    journal, left, _ = journal_over(tables)

    async def huge() -> Sequence[Emit]:
        left["big"] = "x" * (MAX_ENTRY_BYTES + 1)
        return []

    await journal.run(0, 1, huge)
    assert tables.journal == {}
    assert len(tables.left["big"]) == MAX_ENTRY_BYTES + 1
    assert "not journaled" in caplog.text
