"""Tables after the broker's data was wiped: dropped for every app, unless a worker holds them;
dropped at a worker's start when they were built from another Kafka cluster."""

from __future__ import annotations

from pathlib import Path

from hub.runtime.local_state import (
    CLUSTER_STAMP,
    claim_slot,
    drop_all_tables,
    forget_other_cluster,
    stamp_cluster,
)


def _fill(table_dir: Path) -> None:
    table_dir.mkdir(parents=True, exist_ok=True)
    (table_dir / "orders-state-0.db").write_text("rocksdb")


def test_a_fresh_broker_drops_every_apps_tables_but_not_a_running_workers(
    tmp_path: Path,
) -> None:
    tables = tmp_path / "tables"
    for app, slot in [("hub", 0), ("hub", 1), ("demo-7", 0)]:
        _fill(tables / app / f"worker-{slot}")
    _fill(tables / "old" / "orders-state")  # a layout from before slots
    running = claim_slot(tables / "hub", 1)
    try:
        result = drop_all_tables(tables)
    finally:
        running.release()

    assert sorted(p.relative_to(tables).as_posix() for p in result.dropped) == [
        "demo-7/worker-0",
        "hub/worker-0",
        "old/orders-state",
    ]
    assert result.busy == [tables / "hub" / "worker-1"]
    assert not (tables / "hub" / "worker-0").exists()
    assert (tables / "hub" / "worker-1" / "orders-state-0.db").exists()
    assert not (tables / "old" / "orders-state").exists()


def test_no_tables_directory_is_nothing_to_drop(tmp_path: Path) -> None:
    result = drop_all_tables(tmp_path / "tables")
    assert (result.dropped, result.busy) == ([], [])


def test_tables_of_another_cluster_are_dropped_and_of_the_same_kept(tmp_path: Path) -> None:
    table_dir = tmp_path / "worker-0"
    _fill(table_dir)
    stamp_cluster(table_dir, "cluster-a")

    assert forget_other_cluster(table_dir, "cluster-a") is None
    assert (table_dir / "orders-state-0.db").exists()

    assert forget_other_cluster(table_dir, "cluster-b") == "cluster-a"
    assert not table_dir.exists()


def test_unstamped_tables_or_an_unknown_cluster_are_left_to_faust(tmp_path: Path) -> None:
    table_dir = tmp_path / "worker-0"
    _fill(table_dir)
    assert forget_other_cluster(table_dir, "cluster-b") is None  # no stamp yet
    stamp_cluster(table_dir, "cluster-a")
    assert forget_other_cluster(table_dir, None) is None  # the broker did not say
    assert (table_dir / CLUSTER_STAMP).read_text().strip() == "cluster-a"
    assert (table_dir / "orders-state-0.db").exists()
