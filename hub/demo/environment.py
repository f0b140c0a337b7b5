"""Everything the demo runs on: a broker, the Partner Center simulator, a hub worker.

Started in order, stopped in reverse, whatever happens in between. A broker given by the user is
used as is (with a topic prefix of the run's own, so nothing of theirs is touched); otherwise a
fresh local broker is started and removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from hub.connectors.kafka_admin import apply_topics
from hub.ops import local_kafka
from hub.ops.paths import ops_dir
from hub.ops.worker_process import WorkerProcess
from hub.settings import Settings
from hub.topic_plan import every_topic
from hub.topics import TopicCatalog

Say = Callable[[str], None]


@dataclass
class DemoEnvironment:
    bootstrap: str
    topics: TopicCatalog
    simulator_url: str
    worker: WorkerProcess
    state_dir: Path

    def hub_env(self) -> dict[str, str]:
        """The environment a `hub ...` command needs to act on this demo."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env |= {
            "HUB_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "HUB_TOPIC_PREFIX": self.topics.prefix,
            "HUB_WORKER_WEB_PORT": str(self.worker.web_port),
            "HUB_PARTNER_CENTER_URL": self.simulator_url,
            "HUB_STATE_DIR": str(self.state_dir),
        }
        return env

    async def hub(self, *args: str) -> str:
        """Run one `hub` command as an operator would; its stdout, or an error with stderr."""

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "hub.cli", *args],
                env=self.hub_env(),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        result = await asyncio.to_thread(run)
        if result.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited while starting:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


@contextlib.asynccontextmanager
async def demo_environment(
    settings: Settings, *, bootstrap: str | None, run_id: str, say: Say
) -> AsyncIterator[DemoEnvironment]:
    state_dir = settings.state_dir / "demo" / run_id
    state_dir.mkdir(parents=True, exist_ok=True)
    broker_dir = state_dir / "kafka"
    started_broker = False
    with contextlib.ExitStack() as cleanup:
        if bootstrap is None:
            say("starting a local Apache Kafka broker (KRaft, single node)")
            handle = await asyncio.to_thread(
                local_kafka.start_broker, broker_dir, fresh=True, die_with_parent=True, progress=say
            )
            bootstrap = handle.bootstrap
            started_broker = True
            cleanup.callback(local_kafka.stop_broker, broker_dir, progress=say)
            prefix = ""
        else:
            prefix = f"demo-{run_id}."
            say(f"using the broker at {bootstrap} with topic prefix {prefix!r}")
        topics = TopicCatalog(prefix, settings.kafka_partitions)

        sim_port = local_kafka.free_port()
        sim_log = state_dir / "simulator.log"
        simulator = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
            [
                sys.executable,
                "-m",
                "hub.cli",
                "sim",
                "partner-center",
                "--port",
                str(sim_port),
                "--reference",
                str(ops_dir() / "sample" / "reference.yaml"),
            ],
            stdout=sim_log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "HUB_STATE_DIR": str(state_dir)},
        )
        cleanup.callback(_stop, simulator)
        simulator_url = f"http://127.0.0.1:{sim_port}"
        await asyncio.to_thread(
            _wait_http, f"{simulator_url}/admin/state", simulator, sim_log, 30.0
        )
        say(f"Partner Center simulator at {simulator_url}")

        worker = WorkerProcess(
            bootstrap,
            state_dir / "worker",
            topic_prefix=prefix,
            app_id=f"hub-demo-{run_id}",
            env={
                "HUB_PARTNER_CENTER_URL": simulator_url,
                "HUB_WORKER_WEB_PORT": str(settings.web_port),
            },
            web_port=settings.web_port,
        )
        env = DemoEnvironment(bootstrap, topics, simulator_url, worker, state_dir)
        yield_env = env
        try:
            yield yield_env
        finally:
            worker.stop()
            if started_broker:
                say("stopping the demo's broker and simulator")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def start_worker(env: DemoEnvironment, reseller_ids: list[str], say: Say) -> None:
    """Create every topic, then start the worker and wait until it serves."""
    changes = await apply_topics(env.bootstrap, every_topic(env.topics, reseller_ids))
    say(f"{len(changes)} topics ready")
    env.worker.start()
    await asyncio.to_thread(env.worker.wait_ready, 120.0)
    say(f"hub worker up; metrics at {env.worker.metrics_url}")
