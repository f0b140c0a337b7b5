"""docker-compose.yml matches the local setup: same Kafka version, ports and worker settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.cli import DEFAULT_BROKER_PORT
from hub.settings import Settings

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_the_kafka_version_the_local_broker_pins(compose: dict[str, Any]) -> None:
    pom = (ROOT / "ops" / "kafka" / "pom.xml").read_text()
    pinned = re.search(r"<kafka\.version>([^<]+)<", pom)
    assert pinned is not None
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{pinned.group(1)}"


def test_compose_publishes_kafka_and_metrics_on_the_local_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert f"127.0.0.1:{DEFAULT_BROKER_PORT}:{DEFAULT_BROKER_PORT}" in services["kafka"]["ports"]
    assert (
        f"127.0.0.1:{DEFAULT_BROKER_PORT}"
        in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )
    web_port = Settings().worker_web_port
    assert f"127.0.0.1:{web_port}:{web_port}" in services["hub-worker"]["ports"]


def test_every_service_has_a_healthcheck_and_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "healthcheck" in service, name
        for volume in service.get("volumes", []):
            host_path = volume.split(":", 1)[0]
            assert (ROOT / host_path).exists(), f"{name} mounts missing {host_path}"


def test_single_broker_replication_settings_match_the_local_template(
    compose: dict[str, Any],
) -> None:
    template = (ROOT / "ops" / "kafka" / "server.properties.template").read_text()
    env = compose["services"]["kafka"]["environment"]
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        local = re.search(rf"^{re.escape(key)}=(\S+)$", template, re.M)
        assert local is not None, key
        assert env["KAFKA_" + key.replace(".", "_").upper()] == local.group(1)


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False
    ).returncode,
    reason="the docker client here has no compose plugin",
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
