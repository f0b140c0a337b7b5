"""docker-compose.yml matches the local setup (Kafka version, ports, settings) and scales:
`docker compose up --scale hub-worker=N` starts N workers after a one-shot init, each healthy
once ready, every one scraped by Prometheus. No Docker engine here: checked statically."""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.cli import DEFAULT_BROKER_PORT, build_parser
from hub.settings import Settings

ROOT = Path(__file__).parents[2]
WORKER = "hub-worker"
INIT = "hub-init"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def _one_shot(services: dict[str, Any]) -> set[str]:
    """Services another one waits for to *complete*: they run once and exit."""
    found: set[str] = set()
    for service in services.values():
        depends = service.get("depends_on") or []
        if isinstance(depends, dict):  # the long form; a list waits for a start only
            found |= {
                name
                for name, dep in depends.items()
                if dep.get("condition") == "service_completed_successfully"
            }
    return found


def _default_web_port() -> int:
    """The first worker's web port when none is set (the settings name it)."""
    settings = Settings()
    port = getattr(settings, "web_port", None) or settings.worker_web_port
    assert isinstance(port, int)
    return port


def _hub_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping"
    return {k: str(v) for k, v in env.items() if k.startswith("HUB_")}


def test_compose_runs_the_kafka_version_the_local_broker_pins(services: dict[str, Any]) -> None:
    pom = (ROOT / "ops" / "kafka" / "pom.xml").read_text()
    pinned = re.search(r"<kafka\.version>([^<]+)<", pom)
    assert pinned is not None
    assert services["kafka"]["image"] == f"apache/kafka:{pinned.group(1)}"


def test_compose_publishes_kafka_on_the_local_port(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert f"127.0.0.1:{DEFAULT_BROKER_PORT}:{DEFAULT_BROKER_PORT}" in kafka["ports"]
    assert f"127.0.0.1:{DEFAULT_BROKER_PORT}" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_the_worker_service_can_be_scaled(services: dict[str, Any]) -> None:
    worker = services[WORKER]
    # A fixed host port or container name would make the second replica fail to start.
    assert "ports" not in worker
    assert "container_name" not in worker
    web_port = _default_web_port()
    env = _hub_env(worker)
    assert env["HUB_WORKER_WEB_PORT"] == str(web_port)
    assert env["HUB_WORKER_WEB_HOST"] == "0.0.0.0"
    assert str(web_port) in [str(p) for p in worker["expose"]]


def test_each_worker_keeps_its_state_in_its_own_container(services: dict[str, Any]) -> None:
    worker = services[WORKER]
    state_dir = Path(_hub_env(worker)["HUB_STATE_DIR"])
    assert state_dir.is_absolute()
    for volume in worker.get("volumes", []):
        # A bind mount or a named volume is one directory for every replica; an anonymous
        # volume (a target alone) is each container's own.
        parts = str(volume).split(":")
        if len(parts) > 1:
            target = Path(parts[1])
            assert target != state_dir, volume
            assert target not in state_dir.parents, volume


def test_workers_start_after_the_one_shot_init_applied_the_topics(
    services: dict[str, Any],
) -> None:
    assert INIT in _one_shot(services)
    depends = services[WORKER]["depends_on"]
    assert depends[INIT] == {"condition": "service_completed_successfully"}
    assert depends["kafka"] == {"condition": "service_healthy"}
    init = services[INIT]
    assert init["depends_on"]["kafka"] == {"condition": "service_healthy"}
    assert init.get("restart", "no") == "no"
    assert init["command"] == ["topics", "apply"]


def test_the_hub_command_accepts_every_service_command(services: dict[str, Any]) -> None:
    # The image's entrypoint is `hub`: a service's command is the `hub` command's arguments.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["hub"\]', dockerfile, re.M)
    for name in (INIT, WORKER):
        args = build_parser().parse_args(services[name]["command"])
        assert args.handler is not None, name
    assert build_parser().parse_args(services[WORKER]["command"]).command == "worker"


def test_init_and_workers_share_one_broker_and_one_consumer_group(
    services: dict[str, Any],
) -> None:
    init, worker = _hub_env(services[INIT]), _hub_env(services[WORKER])
    for key in ("HUB_KAFKA_BOOTSTRAP_SERVERS", "HUB_APP_ID"):
        assert init[key] == worker[key], key
    # Topics are made as the workers read them: same prefix, same partition count.
    for key in ("HUB_TOPIC_PREFIX", "HUB_KAFKA_PARTITIONS", "HUB_KAFKA_REPLICATION_FACTOR"):
        assert init.get(key) == worker.get(key), key
    assert worker["HUB_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_every_hub_variable_is_a_setting_with_a_valid_value(services: dict[str, Any]) -> None:
    fields = Settings.model_fields
    for name, service in services.items():
        env = _hub_env(service)
        overrides = {key.removeprefix("HUB_").lower(): value for key, value in env.items()}
        unknown = set(overrides) - set(fields)
        assert not unknown, f"{name}: {sorted(unknown)} are no settings (hub/settings.py)"
        Settings(**overrides)  # type: ignore[arg-type]


def test_a_worker_is_healthy_once_ready(services: dict[str, Any]) -> None:
    test = " ".join(services[WORKER]["healthcheck"]["test"])
    web_port = _hub_env(services[WORKER])["HUB_WORKER_WEB_PORT"]
    assert f"http://127.0.0.1:{web_port}/readyz" in test


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_worker_health_check_fails_while_readyz_says_503(
    services: dict[str, Any], status: int, healthy: bool
) -> None:
    """The health check's own command, run against a /readyz answering ``status``."""
    test = services[WORKER]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    web_port = _hub_env(services[WORKER])["HUB_WORKER_WEB_PORT"]

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"{}" if status == 200 else b'{"ready": false, "reasons": ["recovering"]}'
            self.send_response(status if self.path == "/readyz" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            script = test[3].replace(f":{web_port}/", f":{server.server_address[1]}/")
            result = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, timeout=30, check=False
            )
        finally:
            server.shutdown()
    assert (result.returncode == 0) is healthy, result.stderr


def test_every_long_running_service_has_a_healthcheck_and_mounted_files_exist(
    services: dict[str, Any],
) -> None:
    one_shot = _one_shot(services)
    for name, service in services.items():
        if name not in one_shot:
            assert "healthcheck" in service, name
        for volume in service.get("volumes", []):
            host_path = volume.split(":", 1)[0]
            assert (ROOT / host_path).exists(), f"{name} mounts missing {host_path}"


def test_prometheus_discovers_every_worker_by_its_service_name(services: dict[str, Any]) -> None:
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    config_file = next(h for h, c in mounts.items() if c == "/etc/prometheus/prometheus.yml")
    config = yaml.safe_load((ROOT / config_file).read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == WORKER]
    assert "static_configs" not in job
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == [WORKER]
    assert sd["type"] == "A"
    assert sd["port"] == int(_hub_env(services[WORKER])["HUB_WORKER_WEB_PORT"])


def test_single_broker_replication_settings_match_the_local_template(
    services: dict[str, Any],
) -> None:
    template = (ROOT / "ops" / "kafka" / "server.properties.template").read_text()
    env = services["kafka"]["environment"]
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
    or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode
    != 0,
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
