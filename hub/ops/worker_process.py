"""A hub worker in a child process: for the demo, the benchmarks and the tests.

The child is ``python -m hub.cli worker`` configured only through ``HUB_*`` variables, so what
runs is exactly what ops run. Killing it (SIGKILL) is how crash tests simulate a dying worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from hub.ops.local_kafka import free_port

# The child's log level; WORKER_LOGLEVEL=info puts faust's and the hub's INFO lines (rebalances,
# reference data and books loaded) in its log when a test needs diagnosing.
_LOGLEVEL = os.environ.get("WORKER_LOGLEVEL", "warning")


class WorkerProcess:
    """One worker: ``start``, ``wait_ready``, then ``stop`` (clean) or ``kill`` (crash)."""

    def __init__(
        self,
        bootstrap: str,
        state_dir: Path,
        *,
        topic_prefix: str,
        app_id: str,
        env: Mapping[str, str] | None = None,
        web_port: int | None = None,
        name: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.web_port = web_port or free_port()
        # Workers of one app sharing a state dir need a ``name`` each for their logs.
        self.log_path = state_dir / f"worker-{name or app_id}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_TOPIC_PREFIX": topic_prefix,
            "HUB_APP_ID": app_id,
            "HUB_STATE_DIR": str(state_dir),
            "HUB_WORKER_WEB_PORT": str(self.web_port),
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/metrics"

    def start(self) -> WorkerProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "worker", "--loglevel", _LOGLEVEL],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:  # noqa: S310
            return str(response.read().decode())

    def ready(self) -> bool:
        """True if the worker's ``/readyz`` answers 200 (hub/runtime/health.py)."""
        url = f"http://127.0.0.1:{self.web_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(response.status == 200)
        except OSError:  # not serving yet, or 503: not ready
            return False

    def wait_ready(self, timeout_s: float = 180.0) -> WorkerProcess:
        """Until the worker is ready: in its group, tables recovered, reference data loaded."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"worker exited while starting:\n{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.3)
        raise TimeoutError(f"worker not ready after {timeout_s}s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 60.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def request_report(self) -> None:
        """SIGUSR2: the worker logs its consumer state (hub/runtime/diagnostics.py)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
