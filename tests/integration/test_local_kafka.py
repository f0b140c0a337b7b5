"""The local broker launcher: one broker per data dir, clear errors, clean stops."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.ops import local_kafka, local_service
from tests.support.broker import BrokerInfo, writes_create_no_topic

TESTS = Path(__file__).parents[1]


def test_starting_twice_returns_the_running_broker(tmp_path: Path) -> None:
    first = local_kafka.start_broker(tmp_path / "kafka", die_with_parent=True)
    try:
        second = local_kafka.start_broker(tmp_path / "kafka", die_with_parent=True)
        assert second.pid == first.pid
        assert second.bootstrap == first.bootstrap
        assert local_kafka.admin_answers(first.bootstrap)
    finally:
        assert local_kafka.stop_broker(tmp_path / "kafka")
    assert not local_service.pid_alive(first.pid)
    assert local_kafka.broker_status(tmp_path / "kafka") is None
    assert not local_kafka.stop_broker(tmp_path / "kafka")


def test_a_taken_port_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {taken} on 127.0.0.1 is already in use"):
            local_kafka.start_broker(tmp_path / "kafka", port=taken)


def test_a_stale_data_dir_is_refused_until_started_fresh(tmp_path: Path) -> None:
    stale = tmp_path / "kafka" / "data"
    stale.mkdir(parents=True)
    (stale / "meta.properties").write_text("cluster.id=someone-elses\nnode.id=1\n")
    with pytest.raises(ConfigError, match="--fresh"):
        local_kafka.start_broker(tmp_path / "kafka")

    handle = local_kafka.start_broker(tmp_path / "kafka", fresh=True, die_with_parent=True)
    try:
        assert local_kafka.admin_answers(handle.bootstrap)
        # Every topic is declared first: a write to an unknown one fails and creates nothing.
        asyncio.run(writes_create_no_topic(handle.bootstrap))
    finally:
        local_kafka.stop_broker(tmp_path / "kafka")


def test_fixture_uses_kafka_bootstrap_servers_when_set(kafka: BrokerInfo, tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap}
    env.pop("HUB_TEST_BROKER", None)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS / "integration" / "probes" / "probe_env_fixture.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TESTS.parent,
        check=False,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert "1 passed" in child.stdout
