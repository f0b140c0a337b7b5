"""The Partner Center simulator as a child process, for tests whose orders get provisioned."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from hub.ops.local_kafka import free_port


@contextlib.contextmanager
def partner_center(log_dir: Path, timeout_s: float = 30.0) -> Iterator[str]:
    """``hub sim partner-center`` on a free port, its log in ``log_dir``; yields its URL once it
    answers, and stops it at the end."""
    port = free_port()
    log = log_dir / "simulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "partner-center", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                urllib.request.urlopen(url + "/admin/state", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"the simulator never answered:\n{url}"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
