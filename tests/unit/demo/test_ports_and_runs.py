"""The demo's port check and its runs under the state directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.demo.ports import PortNeed, check_ports, listener_pid, port_taken
from hub.demo.runs import DemoRun, prune_finished, running_runs
from hub.errors import ConfigError
from hub.ops.local_kafka import free_port


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _need(port: int) -> PortNeed:
    return PortNeed("the hub worker's web port", port, "use HUB_WORKER_WEB_PORT=7000")


def test_a_port_held_on_every_interface_is_taken_on_loopback_too(listening: int) -> None:
    assert port_taken(listening)
    assert not port_taken(free_port())


def test_the_listener_of_a_port_is_found(listening: int) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc here")
    assert listener_pid(listening) == os.getpid()


def test_a_taken_port_is_named_with_its_holder_and_the_way_out(listening: int) -> None:
    free = free_port()
    with pytest.raises(ConfigError) as caught:
        check_ports([_need(free), _need(listening)], [])
    message = str(caught.value)
    assert f"port {listening} (the hub worker's web port) is taken by" in message
    assert "stop that process or use HUB_WORKER_WEB_PORT=7000" in message
    assert f"port {free} " not in message
    assert "\n" not in message


def test_a_port_another_running_demo_claimed_is_taken_before_it_binds(tmp_path: Path) -> None:
    port = free_port()
    other = DemoRun(tmp_path / "other", 4242, datetime(2026, 12, 5, 9, 0, tzinfo=UTC), {"w": port})
    with pytest.raises(ConfigError) as caught:
        check_ports([_need(port)], [other])
    message = str(caught.value)
    assert "another hub demo (pid 4242, started 09:00:00 UTC" in message
    assert "stop that demo (Ctrl-C in its terminal) or use HUB_WORKER_WEB_PORT" in message


def test_free_ports_pass() -> None:
    check_ports([_need(free_port()), _need(free_port())], [])


def _register(root: Path, name: str, pid: int, port: int = 1) -> Path:
    directory = root / "demo" / name
    directory.mkdir(parents=True)
    DemoRun(directory, pid, datetime.now(UTC), {"web": port}).save()
    return directory


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_new_run_removes_finished_runs_and_spares_running_ones(tmp_path: Path) -> None:
    finished = _register(tmp_path, "20261201000000", _dead_pid())
    (finished / "kafka").mkdir()
    (finished / "kafka" / "segment").write_bytes(b"x" * 1000)
    unregistered = tmp_path / "demo" / "20261202000000"  # an earlier version's run
    unregistered.mkdir(parents=True)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            running = _register(tmp_path, "20261203000000", other.pid, port=6066)
            assert [r.directory for r in running_runs(tmp_path)] == [running]

            removed = prune_finished(tmp_path)

            assert sorted(removed) == [finished, unregistered]
            assert sorted((tmp_path / "demo").iterdir()) == [running]
        finally:
            other.kill()


def test_only_the_kept_run_survives_once_nothing_runs(tmp_path: Path) -> None:
    last = _register(tmp_path, "20261204000000", _dead_pid())
    older = _register(tmp_path, "20261203000000", _dead_pid())
    assert prune_finished(tmp_path, keep=last) == [older]
    assert list((tmp_path / "demo").iterdir()) == [last]


def test_no_demo_directory_is_nothing_to_do(tmp_path: Path) -> None:
    assert prune_finished(tmp_path) == []
    assert running_runs(tmp_path) == []
