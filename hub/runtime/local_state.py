"""Local table state is trusted only after a clean shutdown; after a crash it is rebuilt.

faust writes a table to its local RocksDB store at once and to its changelog topic later. A
SIGKILL between the two leaves the store ahead of the changelog: the worker goes on from the
store, its idempotency tables answer "done" for messages whose writes never reached the
changelog, and those writes are lost for good the day the store is rebuilt from the changelog
(tests/reliability/test_crash_money_flows.py lost billed subscriptions this way). Like Kafka
Streams, the worker throws away the store of an unclean run and restores from the changelogs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

# Present while a worker runs; removed by a clean shutdown.
RUNNING_MARKER = ".hub-worker-running"


def open_local_state(table_dir: Path) -> bool:
    """Call before the worker starts: drops the store left by a crashed run. True if dropped."""
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
