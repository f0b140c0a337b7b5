"""Ops: promtool accepts the config and the alert rules; a real Prometheus scrapes a worker."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.ops.local_kafka import free_port
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.samples import sample

PROMETHEUS_DIR = Path(__file__).parents[2] / "ops" / "prometheus"
needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Prometheus is not installed (Debian: apt-get install prometheus); CI installs it",
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, check=False
    )


@needs_prometheus
@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_promtool_accepts_the_scrape_configs(config: str) -> None:
    result = _promtool("check", "config", "--syntax-only", config)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_prometheus
def test_promtool_unit_tests_of_the_alert_rules_pass() -> None:
    result = _promtool("test", "rules", "tests/hub_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def _query(base: str, promql: str) -> list[dict[str, object]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


@needs_prometheus
async def test_a_real_prometheus_reads_a_flow_metric_from_a_running_worker(
    kafka: BrokerInfo, topic_name: Callable[[str], str], tmp_path: Path
) -> None:
    prefix = topic_name("hub") + "."
    catalog = TopicCatalog(prefix)
    await apply_topics(kafka.bootstrap, catalog.fixed())
    worker = WorkerProcess(
        kafka.bootstrap, tmp_path / "w", topic_prefix=prefix, app_id=topic_name("app")
    ).start()
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: hub-worker\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{worker.web_port}']}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    base = f"http://127.0.0.1:{prom_port}"
    try:
        await asyncio.to_thread(worker.wait_ready)
        reseller = sample("ResellerUpserted")
        await publish(
            kafka.bootstrap,
            Codec(),
            [Outgoing(catalog.name(Topic.RESELLERS), reseller.reseller_id or "", reseller)],
        )
        promql = 'sum(hub_events_in_total{flow="reference", event_type="ResellerUpserted"})'
        deadline = time.monotonic() + 90
        values: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                values = await asyncio.to_thread(_query, base, promql)
            except OSError:
                values = []
            if values:
                break
            await asyncio.sleep(1)
        up = await asyncio.to_thread(_query, base, 'up{job="hub-worker"}')
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        worker.stop()

    assert values, f"Prometheus never saw the metric; worker log:\n{worker.log_tail()}"
    assert float(str(values[0]["value"][1])) >= 1  # type: ignore[index]
    assert up
    assert up[0]["value"][1] == "1"  # type: ignore[index]
