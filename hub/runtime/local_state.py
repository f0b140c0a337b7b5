"""A worker's local table state: its own directory, trusted only after a clean shutdown.

**Its own directory.** Several workers may run from one ``HUB_STATE_DIR`` (two on a laptop, or a
host that runs a few): each claims a slot, ``<app tables>/worker-<n>``, by holding an exclusive
lock on ``worker-<n>.lock`` for as long as it runs. Without ``HUB_WORKER_ID`` a worker takes the
lowest free slot; with it, that slot or a clear error. The kernel drops the lock when the process
dies, however it dies, so a restarted worker finds its slot free again. Before slots, a second
worker on one host took the first's live running marker for a crash and deleted its tables.

**Trusted only after a clean shutdown.** faust writes a table to its local RocksDB store at once
and to its changelog topic later. A SIGKILL between the two leaves the store ahead of the
changelog: the worker goes on from the store, its idempotency tables answer "done" for messages
whose writes never reached the changelog, and those writes are lost for good the day the store is
rebuilt from the changelog (tests/reliability/test_crash_money_flows.py lost billed subscriptions
this way). Like Kafka Streams, the worker throws away the store of an unclean run and restores
from the changelogs.

**And only against the changelogs it came from.** A broker whose data was wiped has empty
changelogs, while the store still holds the old offsets; faust then refuses to start
(``ConsistencyError``). ``hub kafka start --fresh`` drops every worker's store
(``drop_all_tables``), and a worker drops its own if the store was built from another Kafka
cluster (``forget_other_cluster``, by the cluster id stamped at each start).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hub.errors import ConfigError

log = logging.getLogger(__name__)

# Present while a worker runs; removed by a clean shutdown.
RUNNING_MARKER = ".hub-worker-running"
# Slots a worker looks through for a free one when none is given.
MAX_SLOTS = 64


@dataclass
class Slot:
    """A claimed slot: its number and directory; the lock lasts while ``lock`` is open."""

    number: int
    table_dir: Path
    lock: IO[str]

    def release(self) -> None:
        self.lock.close()


def slot_dir(app_tables: Path, number: int) -> Path:
    return app_tables / f"worker-{number}"


def _try_lock(app_tables: Path, number: int) -> IO[str] | None:
    app_tables.mkdir(parents=True, exist_ok=True)
    handle = (app_tables / f"worker-{number}.lock").open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _holder(app_tables: Path, number: int) -> str:
    try:
        pid = (app_tables / f"worker-{number}.lock").read_text().strip()
    except OSError:
        return "another process"
    return f"process {pid}" if pid else "another process"


def claim_slot(app_tables: Path, wanted: int | None = None) -> Slot:
    """Claim slot ``wanted``, or the lowest free one; ``ConfigError`` if none can be had."""
    numbers = range(MAX_SLOTS) if wanted is None else [wanted]
    for number in numbers:
        lock = _try_lock(app_tables, number)
        if lock is not None:
            return Slot(number, slot_dir(app_tables, number), lock)
    if wanted is not None:
        raise ConfigError(
            f"worker {wanted} already runs from {app_tables} ({_holder(app_tables, wanted)}): "
            "give this worker another HUB_WORKER_ID, or leave it unset to take a free one"
        )
    raise ConfigError(
        f"all {MAX_SLOTS} worker slots under {app_tables} are taken: give this worker its own "
        "HUB_STATE_DIR"
    )


def open_local_state(table_dir: Path) -> bool:
    """Call before the worker starts: drops the store left by a crashed run. True if dropped.

    Only for a directory this process holds (its claimed slot)."""
    marker = table_dir / RUNNING_MARKER
    dropped = False
    if marker.exists():
        log.warning("%s was not shut down cleanly: rebuilding tables from changelogs", table_dir)
        shutil.rmtree(table_dir)
        dropped = True
    table_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return dropped


def close_local_state(table_dir: Path) -> None:
    """Call after a clean shutdown (every table flushed and closed)."""
    (table_dir / RUNNING_MARKER).unlink(missing_ok=True)


# The id of the Kafka cluster whose changelogs the tables were built from.
CLUSTER_STAMP = ".hub-kafka-cluster"


def drop_tables(table_dir: Path) -> None:
    """Throw away a slot's tables: the worker restores them from the changelogs at its start."""
    shutil.rmtree(table_dir, ignore_errors=True)


def forget_other_cluster(table_dir: Path, cluster_id: str | None) -> str | None:
    """Drop tables built from another Kafka cluster's changelogs; return that cluster's id.

    A broker wiped (``hub kafka start --fresh``, a new container) has empty changelogs, while
    the tables still hold the old cluster's state and offsets: faust then refuses to start
    (``ConsistencyError``: persisted offset higher than the last offset). Only for a
    directory this process holds (its claimed slot).
    """
    stamp = table_dir / CLUSTER_STAMP
    try:
        built_from = stamp.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if cluster_id is None or built_from == cluster_id:
        return None
    log.warning("%s was built from Kafka cluster %s, not %s", table_dir, built_from, cluster_id)
    drop_tables(table_dir)
    return built_from


def stamp_cluster(table_dir: Path, cluster_id: str | None) -> None:
    """Record which cluster's changelogs the tables of ``table_dir`` come from."""
    if cluster_id is not None:
        table_dir.mkdir(parents=True, exist_ok=True)
        (table_dir / CLUSTER_STAMP).write_text(cluster_id + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Dropped:
    """What ``drop_all_tables`` did: slots dropped, and slots left because a worker holds them."""

    dropped: list[Path]
    busy: list[Path]


def drop_all_tables(tables_root: Path) -> Dropped:
    """Drop every worker's tables of every app under ``tables_root`` (``<state dir>/tables``).

    For ``hub kafka start --fresh``: the changelogs are gone with the broker's data, so no table
    may be trusted. A slot whose worker still runs (its lock held) is left, and named.
    """
    dropped: list[Path] = []
    busy: list[Path] = []
    if not tables_root.is_dir():
        return Dropped(dropped, busy)
    for app_tables in sorted(p for p in tables_root.iterdir() if p.is_dir()):
        for entry in sorted(app_tables.iterdir()):
            number = entry.name.removeprefix("worker-")
            if entry.is_dir() and entry.name.startswith("worker-") and number.isdigit():
                lock = _try_lock(app_tables, int(number))
                if lock is None:
                    busy.append(entry)
                    continue
                try:
                    drop_tables(entry)
                finally:
                    lock.close()
                dropped.append(entry)
            elif entry.is_dir():
                # Tables from before slots (``tables/<app>/<table>``): nobody holds them.
                drop_tables(entry)
                dropped.append(entry)
    return Dropped(dropped, busy)
