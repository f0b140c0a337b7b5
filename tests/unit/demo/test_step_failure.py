"""A demo step that fails says so in one line: which step, why, and where the logs are."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hub.demo.runner import step_failure


def _env(tmp: Path) -> Any:
    worker = SimpleNamespace(log_path=tmp / "worker" / "worker-hub-demo-1.log")
    return SimpleNamespace(worker=worker, state_dir=tmp)


def test_a_failed_command_gives_its_first_and_last_lines_and_the_logs(tmp_path: Path) -> None:
    exc = RuntimeError(
        "hub credits claim inc-1 failed:\nTraceback (most recent call last):\n  File x\n"
        "hub: error: no Kafka broker answers at 127.0.0.1:1\n"
    )
    line = step_failure("[7/10] Microsoft's service credit", exc, _env(tmp_path))

    assert "\n" not in line
    assert line.startswith("the demo failed at step [7/10] Microsoft's service credit: ")
    assert "hub credits claim inc-1 failed: ... hub: error: no Kafka broker answers" in line
    assert "Traceback" not in line
    assert f"logs: {tmp_path / 'worker' / 'worker-hub-demo-1.log'}" in line
    assert str(tmp_path / "simulator.log") in line


def test_a_timeout_is_one_line_as_it_is(tmp_path: Path) -> None:
    exc = TimeoutError("the hub did not produce every ticket routed within 90s")
    line = step_failure("[5/10] support tickets", exc, _env(tmp_path))
    assert "support tickets: the hub did not produce every ticket routed within 90s (logs:" in line
