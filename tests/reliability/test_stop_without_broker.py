"""A worker told to stop after its broker has gone ends within its grace period, saying why.

Without the deadline (hub/runtime/shutdown.py) such a worker waited for ever: committing,
flushing the producer and leaving the group all wait for a broker that is not there, and only
SIGKILL ended it. A broker of the test's own is stopped under a ready worker, then the worker
gets SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from hub.ops import local_kafka
from hub.ops.worker_process import WorkerProcess
from hub.runtime.shutdown import EXIT_STOP_TIMED_OUT

pytestmark = [pytest.mark.e2e]

GRACE_S = 8.0


def test_a_worker_whose_broker_is_gone_ends_within_its_grace_after_sigterm(
    own_broker: Any, topic_name: Any, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        own_broker.bootstrap,
        tmp_path / "worker",
        topic_prefix=topic_name("stop") + ".",
        app_id="stop-without-broker",
        env={"HUB_FLOWS": "billing", "HUB_SHUTDOWN_GRACE_S": str(GRACE_S)},
    )
    try:
        worker.start().wait_ready()
        local_kafka.stop_broker(Path(own_broker.data_dir))
        time.sleep(2)  # the worker notices: its fetches and heartbeats fail
        assert worker.proc is not None
        sent = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            code = worker.proc.wait(timeout=GRACE_S + 30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker was still running {GRACE_S + 30:g} s after SIGTERM")
        took = time.monotonic() - sent
    finally:
        worker.kill()
    log = worker.log_text()
    # Its stop waits for the broker (without the deadline, for ever): the deadline ends it.
    assert code == EXIT_STOP_TIMED_OUT, log[-3000:]
    assert f"did not stop within {GRACE_S:g} s of SIGTERM" in log
    assert GRACE_S - 0.5 <= took < GRACE_S + 20, log[-3000:]
