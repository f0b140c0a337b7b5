"""A crashed worker's local table store is dropped; a cleanly stopped one's is kept."""

from __future__ import annotations

from pathlib import Path

from hub.runtime.local_state import RUNNING_MARKER, close_local_state, open_local_state


def test_a_clean_shutdown_keeps_the_local_store(tmp_path: Path) -> None:
    tables = tmp_path / "tables" / "app"
    assert open_local_state(tables) is False
    (tables / "billing-lines").write_text("rocksdb")
    close_local_state(tables)
    assert open_local_state(tables) is False
    assert (tables / "billing-lines").exists()


def test_a_crash_drops_the_local_store_so_tables_restore_from_changelogs(tmp_path: Path) -> None:
    tables = tmp_path / "tables" / "app"
    open_local_state(tables)
    (tables / "billing-lines").write_text("ahead of its changelog")
    # SIGKILL: close_local_state never runs.
    assert open_local_state(tables) is True
    assert not (tables / "billing-lines").exists()
    assert (tables / RUNNING_MARKER).exists()
