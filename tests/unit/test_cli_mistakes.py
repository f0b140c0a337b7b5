"""What ``hub`` says to someone who got something wrong: one line, an exit code, no traceback.

Exit codes: 0 ok, 1 not found or a check failed, 2 usage, 3 a hub error, 130 interrupted.
No broker runs here: the commands that need one are pointed at a port nobody listens on.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub import __version__, cli
from hub.connectors import kafka_admin
from hub.ops import local_cluster, local_kafka
from hub.ops.local_kafka import BrokerHandle, free_port
from hub.runtime.local_state import RUNNING_MARKER


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    bootstrap = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))
    return bootstrap


def run(argv: list[str]) -> int:
    """``hub ARGV`` in this process; argparse's own exits (usage, --version) included."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


NO_BROKER = "no Kafka broker answers at"
START_ONE = "start one with `hub kafka start`"

# argv, exit code, what stderr says (each part)
MISTAKES: list[tuple[list[str], int, tuple[str, ...]]] = [
    (["billing", "dunning", "--date", "2026-02-30"], 2, ("'2026-02-30' is not a date",)),
    (["billing", "dunning", "--date", "tomorrow"], 2, ("'tomorrow' is not a date", "YYYY-MM-DD")),
    (["billing", "close", "--period", "2026-1"], 2, ("'2026-1' is not a billing period",)),
    (["billing", "close", "--period", "2026-13"], 2, ("'2026-13' is not a billing period",)),
    (["billing", "reconcile", "--period", "26-01"], 2, ("is not a billing period",)),
    (["billing", "close", "--period", "2026-01", "--as-of", "01/02/2026"], 2, ("not a date",)),
    (
        [
            "billing",
            "confirm-payment",
            "--reseller",
            "r1",
            "--payment-id",
            "p",
            "--amount",
            "lots",
            "--currency",
            "EUR",
            "--received-on",
            "2026-01-02",
            "--by",
            "me",
        ],
        2,
        ("'lots' is not an amount",),
    ),
    (["acl", "plan", "--reseller", "a.b"], 2, ("reseller id 'a.b' cannot name a topic",)),
    (["credits", "claim", "INC1", "--from", "2026-03-03T08:00"], 2, ("has no zone",)),
    (["credits", "show", "INC1"], 3, (NO_BROKER, START_ONE)),
    (["credits", "claim", "INC1"], 3, (NO_BROKER, START_ONE)),
    (["credits", "approve", "INC1", "--currency", "EUR", "--amount", "10"], 3, (NO_BROKER,)),
    (["support", "resolve-incident", "INC1"], 3, (NO_BROKER, START_ONE)),
    (["billing", "dunning", "--date", "2026-02-03"], 3, (NO_BROKER,)),
    (["topics", "apply"], 3, (NO_BROKER,)),
    (["worker", "--loglevel", "chatty"], 2, ("invalid choice: 'chatty'",)),
    (["kafka", "start", "--port", "70000"], 2, ("70000 is not a port number",)),
    (["no-such-command"], 2, ("invalid choice: 'no-such-command'",)),
    (["reference", "load", "/nonexistent/r.yaml"], 2, ("/nonexistent/r.yaml", "does not exist")),
    (["billing", "import-statement", "/nonexistent/s.csv", "--by", "me"], 2, ("No such file",)),
]


@pytest.mark.parametrize(("argv", "code", "says"), MISTAKES, ids=[" ".join(m[0]) for m in MISTAKES])
def test_a_mistake_gets_one_clear_line_and_its_exit_code(
    argv: list[str], code: int, says: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == code
    err = capsys.readouterr().err
    for part in says:
        assert part in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hub {__version__}"


def test_settings_that_do_not_validate_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_KAFKA_PARTITIONS", "many")
    assert run(["topics", "list"]) == 3
    err = capsys.readouterr().err
    assert "kafka_partitions" in err
    assert "check the HUB_* variables" in err


def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_settings", interrupted)
    assert run(["topics", "list"]) == 130
    assert capsys.readouterr().err == ""


def test_a_worker_without_a_broker_says_so_and_leaves_no_unclean_marker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(kafka_admin, "UNREACHABLE_PATIENCE_S", 0.5)
    for _ in range(2):
        assert run(["worker"]) == 3
        err = capsys.readouterr().err
        assert NO_BROKER in err
        assert START_ONE in err
        assert "did not stop cleanly" not in err
        assert "Traceback" not in err
    assert not list((tmp_path / "state").rglob(RUNNING_MARKER))


def _running_at(port: int) -> BrokerHandle:
    return BrokerHandle(
        bootstrap=f"127.0.0.1:{port}",
        port=port,
        controller_port=port + 1,
        pid=1,
        data_dir="/somewhere",
        log_file="/somewhere/broker.log",
        kafka_version="4.1.1",
        security_protocol="PLAINTEXT",
    )


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["kafka", "start", "--port", "19093"], 3, "--port 19093: the broker of"),
        (["kafka", "start", "--port", "19092"], 0, "a broker already runs from"),
        (["kafka", "start"], 0, "a broker already runs from"),
        (["kafka", "start", "--fresh"], 3, "--fresh: the broker of"),
    ],
)
def test_a_second_kafka_start_says_a_broker_runs_and_refuses_another_port(
    argv: list[str],
    code: int,
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(local_cluster, "cluster_status", lambda _dir: None)
    monkeypatch.setattr(local_kafka, "broker_status", lambda _dir: _running_at(19092))

    asked: list[dict[str, object]] = []

    def finds_the_running_one(_data_dir: Path, **kwargs: object) -> BrokerHandle:
        asked.append(kwargs)  # the real one returns the running broker as it is
        return _running_at(19092)

    monkeypatch.setattr(local_kafka, "start_broker", finds_the_running_one)
    assert run(argv) == code
    assert all(not kwargs["fresh"] for kwargs in asked)
    captured = capsys.readouterr()
    assert says in captured.err
    assert "127.0.0.1:19092" in captured.err
    if code == 0:
        assert captured.out.strip() == "127.0.0.1:19092"


def _options(parser: argparse.ArgumentParser, path: str = "hub") -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{path} {name}")
        for option in action.option_strings:
            found.append((path, option, action.help or ""))
    return found


@pytest.mark.parametrize("option", ["--port", "--controller-port", "--loglevel", "--host"])
def test_every_port_host_and_loglevel_option_says_what_it_is(option: str) -> None:
    found = [(path, help_) for path, opt, help_ in _options(cli.build_parser()) if opt == option]
    assert found
    assert [path for path, help_ in found if not help_] == []


def test_no_unclosed_client_warning_after_a_failure_was_reported(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "KAFKA_"))}
    env |= {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "HUB_STATE_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "billing", "dunning", "--date", "2026-02-03"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert NO_BROKER in result.stderr
    assert "Unclosed" not in result.stderr


def test_kafka_status_of_a_directory_where_nothing_runs_is_not_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["kafka", "status", "--data-dir", str(tmp_path / "none")]) == 1
    assert "no broker is running from" in capsys.readouterr().err
