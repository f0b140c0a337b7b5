"""Two demos at once: the second names the taken port, what holds it and how to pick another,
and exits non-zero before starting anything; the first keeps running, and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from hub.demo.ports import port_taken
from hub.demo.runs import DemoRun
from hub.ops.local_kafka import free_port
from tests.support.broker import BrokerInfo


def _demo(bootstrap: str) -> list[str]:
    return [sys.executable, "-m", "hub.cli", "demo", "--serve", "--bootstrap", bootstrap]


def test_a_second_demo_on_the_same_port_says_why_and_exits_at_once(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_STATE_DIR": str(tmp_path), "HUB_WORKER_WEB_PORT": str(port)}
    first_log = tmp_path / "first.log"
    with first_log.open("wb") as out:
        first = subprocess.Popen(
            _demo(kafka.bootstrap), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while not port_taken(port):
            assert first.poll() is None, f"the first demo exited:\n{first_log.read_text()}"
            assert time.monotonic() < deadline, f"no worker came up:\n{first_log.read_text()}"
            time.sleep(0.5)

        started = time.monotonic()
        second = subprocess.run(
            _demo(kafka.bootstrap),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        took = time.monotonic() - started

        assert second.returncode != 0
        assert took < 20, f"the second demo took {took:.0f}s to give up"
        said = second.stderr
        assert f"port {port} (the hub worker's web port" in said, said
        assert f"another hub demo (pid {first.pid}" in said, said
        suggested = re.search(r"HUB_WORKER_WEB_PORT=(\d+)", said)
        assert suggested is not None, said
        assert int(suggested.group(1)) != port
        assert "Traceback" not in said + second.stdout, said
        assert "hub worker up" not in said, said
        assert len([line for line in said.splitlines() if line.strip()]) == 1, said
        # Nothing of the second run was left behind, and the first is unharmed.
        assert len(list((tmp_path / "demo").iterdir())) == 1
        assert first.poll() is None, first_log.read_text()

        # SIGTERM (or a closed terminal) stops the first as Ctrl-C would: what it started too.
        (run_dir,) = (tmp_path / "demo").iterdir()
        run = DemoRun.load(run_dir)
        assert run is not None
        assert run.pid == first.pid
        first.send_signal(signal.SIGTERM)
        code = first.wait(timeout=90)
        log = first_log.read_text()
        assert code > 0, log  # exited by itself, not killed by the signal
        assert "Traceback" not in log, log
        left = [p for p in run.ports.values() if port_taken(p)]
        assert not left, f"ports still held after the demo stopped: {left}"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
