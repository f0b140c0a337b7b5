"""The control run: the crash harness catches duplicates when the guarantees are switched off.

``apps/naive_rating_app.py`` rates ``HUB_CONTROL_EVENTS`` provisionings (default 3,000) at least
once, with uuid4 event ids, no record of what it rated and a 30 s commit interval; it is
SIGKILLed three times mid-stream (once during startup) and restarted, exactly as the hub is in
``test_crash_money_flows.py``. The same checker must then report duplicated effects and money
sums that no longer equal the inputs: proof that it can fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import Scenario, charge_output, inputs_of, outgoing_of, wait_zero_lag

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import publish, read_all
from hub.ops.local_kafka import free_port
from hub.schemas.codec import Codec
from hub.topics import Topic
from tests.support import checker
from tests.support.broker import BrokerInfo
from tests.support.checker import Rule

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVENTS = int(os.environ.get("HUB_CONTROL_EVENTS", "3000"))
APP = Path(__file__).parent / "apps" / "naive_rating_app.py"


class NaiveWorker:
    """The naive app in a child process, killed like ``hub.ops.worker_process.WorkerProcess``."""

    def __init__(self, bootstrap: str, tmp: Path, source: str, sink: str, app_id: str) -> None:
        self.log_path = tmp / "naive.log"
        self.env = {
            **os.environ,
            "NAIVE_APP_ID": app_id,
            "NAIVE_BOOTSTRAP": bootstrap,
            "NAIVE_DATADIR": str(tmp / "naive-data"),
            "NAIVE_WEB_PORT": str(free_port()),
            "NAIVE_SOURCE": source,
            "NAIVE_SINK": sink,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NaiveWorker:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(APP), "worker", "--loglevel", "warn"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def request_report(self) -> None:
        """Lag stood still (e.g. the killed member's session running out): log task stacks."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


def count(bootstrap: str, topic: str) -> int:
    return len(asyncio.run(read_all(bootstrap, topic)))


def wait_count(bootstrap: str, topic: str, at_least: int, worker: NaiveWorker) -> None:
    deadline = time.monotonic() + 180
    while count(bootstrap, topic) < at_least:
        assert worker.running(), worker.log_tail()
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.5)


def test_the_checker_catches_the_duplicates_of_a_naive_pipeline(
    kafka: BrokerInfo, topic_name: Any, tmp_path: Path
) -> None:
    prefix = topic_name("control") + "."
    scenario = Scenario.build(prefix, EVENTS * 10 // 6)
    provisioned = scenario.provisioned()
    t = scenario.topics
    source, sink = t.name(Topic.PROVISIONING), t.name(Topic.CHARGES)
    asyncio.run(apply_topics(kafka.bootstrap, t.all(scenario.reseller_ids())))
    app_id = f"naive-{scenario.salt}"
    worker = NaiveWorker(kafka.bootstrap, tmp_path, source, sink, app_id)
    try:
        asyncio.run(publish(kafka.bootstrap, Codec(), outgoing_of(provisioned)))
        worker.start()
        kills = 0
        for share in (4, 2):
            # Mid-stream: after some charges, well before the 30 s commit.
            wait_count(kafka.bootstrap, sink, len(provisioned) // share, worker)
            worker.kill()
            kills += 1
            worker.start()
        time.sleep(1.5)  # during startup
        worker.kill()
        kills += 1
        worker.start()
        wait_zero_lag(kafka.bootstrap, app_id, worker, required=[source])  # type: ignore[arg-type]

        async def check() -> checker.Report:
            outputs = await checker.read_outputs(kafka.bootstrap, sink, charge_output)
            return checker.check_outcomes(inputs_of(provisioned), outputs, [])

        report = asyncio.run(check())
        print(f"\ncontrol: {len(provisioned)} inputs, {kills} kills\n{report.summary()}")
        assert kills == 3
        assert not report.ok
        assert report.duplicates
        assert report.of(Rule.GLOBAL_SUM)
        assert not report.of(Rule.NO_OUTCOME)  # at least once: nothing lost, only doubled
    finally:
        worker.kill()
