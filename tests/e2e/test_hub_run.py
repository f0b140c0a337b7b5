"""The README's run command: a broker and a worker come up, Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from hub.ops.local_service import free_port, pid_alive


def _wait_for_metrics(url: str, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered:\n{log.read_text(errors='replace')[-3000:]}")


def test_hub_run_starts_broker_and_worker_and_ctrl_c_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    web_port, broker_port, controller_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "KAFKA_"))}
    env |= {"HUB_STATE_DIR": str(tmp_path / "state"), "HUB_WORKER_WEB_PORT": str(web_port)}
    log = tmp_path / "hub-run.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "run",
            "--port",
            str(broker_port),
            "--controller-port",
            str(controller_port),
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        metrics = _wait_for_metrics(f"http://127.0.0.1:{web_port}/metrics", proc, log)
        broker = json.loads((tmp_path / "state" / "kafka" / "broker.json").read_text())
        assert broker["bootstrap"] == f"127.0.0.1:{broker_port}"
        assert pid_alive(broker["pid"])
        assert "faust_" in metrics

        time.sleep(2)  # the worker keeps running
        assert proc.poll() is None

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) in (0, 130), log.read_text(errors="replace")[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 30
    while pid_alive(broker["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(broker["pid"]), "the broker outlived hub run"
    assert not (tmp_path / "state" / "kafka" / "broker.json").exists()
