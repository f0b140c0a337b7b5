"""Everything the demo runs on: a broker, the Partner Center simulator, a hub worker.

Started in order, stopped in reverse, whatever happens in between. A broker given by the user is
used as is (with a topic prefix of the run's own, so nothing of theirs is touched); otherwise a
fresh local broker is started and removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.connectors.kafka_admin import apply_topics
from hub.demo.ports import PortNeed, check_ports, command_of, first_free, listener_pid
from hub.demo.runs import REGISTRATION, DemoRun, prune_finished, running_runs
from hub.errors import ConfigError
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


def demo_ports(settings: Settings, *, own_broker: bool) -> list[PortNeed]:
    """Every port the demo binds: the fixed worker web port (Prometheus scrapes it) and the
    broker's and simulator's, picked free now so they can be checked with it."""
    web = settings.web_port
    needs = [
        PortNeed(
            "the hub worker's web port: /metrics, /readyz",
            web,
            f"run this demo on another port: HUB_WORKER_WEB_PORT={first_free(web + 1)} ./dev run "
            "(or hub demo)",
        )
    ]
    again = "run the demo again: it picks this port itself, free at the time"
    picked = [
        *(["the demo broker's listener", "the demo broker's controller"] if own_broker else []),
        "the Partner Center simulator",
    ]
    for what in picked:
        port = local_kafka.free_port()
        while port in {n.port for n in needs}:
            port = local_kafka.free_port()
        needs.append(PortNeed(what, port, again))
    return needs


@contextlib.asynccontextmanager
async def demo_environment(
    settings: Settings, *, bootstrap: str | None, run_id: str, say: Say
) -> AsyncIterator[DemoEnvironment]:
    needs = demo_ports(settings, own_broker=bootstrap is None)
    check_ports(needs, running_runs(settings.state_dir, own_pid=os.getpid()))
    removed = prune_finished(settings.state_dir)
    if removed:
        say(f"removed {len(removed)} finished demo run(s) from {removed[0].parent}")
    ports = {need.what: need.port for need in needs}
    web_port, *rest = (need.port for need in needs)
    state_dir = settings.state_dir / "demo" / run_id
    state_dir.mkdir(parents=True, exist_ok=True)
    run = DemoRun(state_dir, os.getpid(), datetime.now(UTC), ports)
    run.save()
    broker_dir = state_dir / "kafka"
    started_broker = False
    with contextlib.ExitStack() as cleanup:
        # Registered first, so removed last: while the registration exists the run is live.
        cleanup.callback((state_dir / REGISTRATION).unlink, missing_ok=True)
        # Once everything stopped, the broker's data and the worker's tables are of no use (a
        # demo always starts fresh): the run keeps only its logs (under 100 KB).
        for bulky in (broker_dir / "data", state_dir / "worker" / "tables"):
            cleanup.callback(shutil.rmtree, bulky, ignore_errors=True)
        if bootstrap is None:
            broker_port, controller_port, sim_port = rest
            say("starting a local Apache Kafka broker (KRaft, single node)")
            handle = await asyncio.to_thread(
                local_kafka.start_broker,
                broker_dir,
                port=broker_port,
                controller_port=controller_port,
                fresh=True,
                die_with_parent=True,
                progress=say,
            )
            bootstrap = handle.bootstrap
            started_broker = True
            cleanup.callback(local_kafka.stop_broker, broker_dir, progress=say)
            prefix = ""
        else:
            (sim_port,) = rest
            prefix = f"demo-{run_id}."
            say(f"using the broker at {bootstrap} with topic prefix {prefix!r}")
        topics = TopicCatalog(prefix, settings.kafka_partitions)

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
        try:
            await asyncio.to_thread(
                _wait_http, f"{simulator_url}/admin/state", simulator, sim_log, 30.0
            )
        except (RuntimeError, TimeoutError) as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise ConfigError(
                f"the Partner Center simulator did not start: {(lines or ['?'])[-1].strip()[:300]} "
                f"(log: {sim_log})"
            ) from exc
        say(f"Partner Center simulator at {simulator_url}")

        worker = WorkerProcess(
            bootstrap,
            state_dir / "worker",
            topic_prefix=prefix,
            app_id=f"hub-demo-{run_id}",
            env={
                "HUB_PARTNER_CENTER_URL": simulator_url,
                "HUB_WORKER_WEB_PORT": str(web_port),
            },
            web_port=web_port,
        )
        env = DemoEnvironment(bootstrap, topics, simulator_url, worker, state_dir)
        try:
            yield env
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
    try:
        await asyncio.to_thread(env.worker.wait_ready, 120.0)
    except (RuntimeError, TimeoutError) as exc:
        raise ConfigError(_worker_failure(env.worker)) from exc
    confirm_own_worker(env.worker)
    say(f"hub worker up; metrics at {env.worker.metrics_url}")


def _worker_failure(worker: WorkerProcess) -> str:
    lines = [line for line in worker.log_tail().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "(its log is empty)"
    state = "exited" if not worker.running() else "did not get ready in 120 s"
    return f"the demo's hub worker {state}: {last[:300]} (full log: {worker.log_path})"


def confirm_own_worker(worker: WorkerProcess) -> None:
    """Refuse a ready answer that came from another process on the worker's port.

    Where ``/proc`` shows who listens (Linux), the listener must be this demo's worker; anywhere,
    the worker must still be running after it answered.
    """
    pid = listener_pid(worker.web_port)
    ours = worker.proc.pid if worker.proc is not None else None
    if not worker.running() or (pid is not None and pid != ours):
        holder = command_of(pid) if pid is not None else "another process"
        raise ConfigError(
            f"port {worker.web_port} answered, but from {holder}, not this demo's worker "
            f"(pid {ours}); choose a free port with HUB_WORKER_WEB_PORT=<port> "
            f"(worker log: {worker.log_path})"
        )
