"""A worker told to stop ends within its grace period (hub/runtime/shutdown.py)."""

from __future__ import annotations

import signal
import threading

import faust
import pytest

from hub.runtime import shutdown
from hub.runtime.diagnostics import ReportingWorker


def test_a_stop_that_outlives_its_grace_exits_the_process_saying_why(
    capfd: pytest.CaptureFixture[str],
) -> None:
    exits: list[int] = []
    exited = threading.Event()

    def exit_now(code: int) -> None:
        exits.append(code)
        exited.set()

    shutdown.start_deadline(0.05, "SIGTERM", stopped=threading.Event(), exit_now=exit_now)
    assert exited.wait(10)
    assert exits == [shutdown.EXIT_STOP_TIMED_OUT]
    said = capfd.readouterr().err
    assert "did not stop within 0.05 s of SIGTERM" in said
    assert "broker" in said


def test_a_stop_that_ends_in_time_exits_nothing() -> None:
    exits: list[int] = []
    stopped = threading.Event()
    thread = shutdown.start_deadline(30, "SIGTERM", stopped=stopped, exit_now=exits.append)
    stopped.set()
    thread.join(10)
    assert not thread.is_alive()
    assert exits == []


def _worker(monkeypatch: pytest.MonkeyPatch) -> tuple[ReportingWorker, list[tuple[float, str]]]:
    """A ReportingWorker whose faust parent only records what it was asked."""
    started: list[tuple[float, str]] = []
    monkeypatch.setattr(
        "hub.runtime.diagnostics.start_deadline",
        lambda grace_s, reason, *, stopped: started.append((grace_s, reason)),
    )

    def schedule(self: ReportingWorker, signum: signal.Signals) -> None:
        self._signal_stop_time = 1.0

    monkeypatch.setattr(faust.Worker, "_schedule_shutdown", schedule)
    worker = ReportingWorker.__new__(ReportingWorker)
    worker.shutdown_grace_s = 7.0
    worker._signal_stop_time = None
    return worker, started


def test_the_worker_starts_one_deadline_at_its_first_stop_signal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, started = _worker(monkeypatch)
    worker._schedule_shutdown(signal.SIGTERM)
    worker._schedule_shutdown(signal.SIGINT)
    assert started == [(7.0, "SIGTERM")]
    assert worker.stopped_in_time is not None
    assert not worker.stopped_in_time.is_set()


def test_the_deadline_is_called_off_however_the_worker_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, _ = _worker(monkeypatch)
    worker._schedule_shutdown(signal.SIGTERM)

    def stop_that_fails(self: ReportingWorker) -> None:
        raise RuntimeError("the stop itself failed")

    monkeypatch.setattr(faust.Worker, "execute_from_commandline", stop_that_fails)
    with pytest.raises(RuntimeError):
        worker.execute_from_commandline()
    assert worker.stopped_in_time is not None
    assert worker.stopped_in_time.is_set()
