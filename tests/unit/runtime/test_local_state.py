"""Each worker its own table store; a crashed worker's is dropped, a cleanly stopped one's kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.runtime.local_state import (
    RUNNING_MARKER,
    claim_slot,
    close_local_state,
    open_local_state,
)
from hub.settings import DEFAULT_WEB_PORT, Settings


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


def test_workers_sharing_a_state_dir_each_claim_their_own_slot(tmp_path: Path) -> None:
    first = claim_slot(tmp_path)
    second = claim_slot(tmp_path)
    try:
        assert (first.number, second.number) == (0, 1)
        assert first.table_dir != second.table_dir
        # The second worker's start never takes the first's live marker for a crash.
        open_local_state(first.table_dir)
        (first.table_dir / "orders-state").write_text("live")
        assert open_local_state(second.table_dir) is False
        assert (first.table_dir / "orders-state").exists()
    finally:
        second.release()
    # A slot is free again once its worker is gone (the kernel drops a dead process's lock).
    third = claim_slot(tmp_path)
    assert third.number == 1
    third.release()
    first.release()


def test_a_named_slot_that_is_taken_is_a_clear_error(tmp_path: Path) -> None:
    held = claim_slot(tmp_path, 2)
    try:
        with pytest.raises(ConfigError, match=r"worker 2 already runs from .* \(process \d+\)"):
            claim_slot(tmp_path, 2)
    finally:
        held.release()
    claim_slot(tmp_path, 2).release()


def test_settings_give_each_worker_its_own_tables_and_port(tmp_path: Path) -> None:
    zero = Settings(state_dir=tmp_path)
    three = zero.model_copy(update={"worker_id": 3})
    assert (zero.web_port, three.web_port) == (DEFAULT_WEB_PORT, DEFAULT_WEB_PORT + 3)
    assert three.table_dir == tmp_path / "tables" / "hub" / "worker-3"
    assert Settings(state_dir=tmp_path, worker_web_port=7000, worker_id=3).web_port == 7000


def test_other_workers_reach_this_one_at_its_url() -> None:
    assert Settings(worker_web_port=7001).canonical_url == "http://127.0.0.1:7001"
    given = Settings(worker_url="http://hub-worker-2.hub-worker:6066")
    assert given.canonical_url == "http://hub-worker-2.hub-worker:6066"
    # Bound to every interface: the host's own name, never the unroutable 0.0.0.0.
    assert "0.0.0.0" not in Settings(worker_web_host="0.0.0.0").canonical_url
