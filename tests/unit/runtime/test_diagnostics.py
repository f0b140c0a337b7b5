"""The SIGUSR2 consumer report: readable on any worker state, never a debugger."""

from __future__ import annotations

import logging

import pytest

from hub.runtime.diagnostics import ReportingWorker, report_lines
from hub.runtime.faust_transport import HubApp


def test_report_reads_a_consumer_that_has_not_started() -> None:
    app = HubApp("diagnostics-test", broker="kafka://127.0.0.1:1")
    app.topic("hub.orders.provisioning")
    lines = list(report_lines(app))
    assert lines[0].startswith("generation=")
    assert "flow_control_active=" in lines[0]
    assert any(line.startswith("producer buffer pending=") for line in lines)


def test_sigusr2_logs_the_report_instead_of_opening_pdb(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = HubApp("diagnostics-test-2", broker="kafka://127.0.0.1:1")
    worker = ReportingWorker(app, loglevel="warning", quiet=True)

    def no_pdb() -> None:
        raise AssertionError("pdb opened")

    monkeypatch.setattr(worker, "_enter_debugger", no_pdb)
    with caplog.at_level(logging.WARNING, logger="hub.runtime.diagnostics"):
        worker._on_sigusr2()
    assert "consumer report:" in caplog.text
    assert "generation=" in caplog.text
