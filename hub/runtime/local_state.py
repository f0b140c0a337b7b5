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
