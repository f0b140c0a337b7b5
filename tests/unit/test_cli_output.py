"""``-o json`` / ``--output json`` / ``--json``: one JSON document for scripts, text for people."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

import pytest

from hub.commands import add_output_flag, emit


def _parser(*, json_alias: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_output_flag(parser, json_alias=json_alias)
    return parser


@pytest.mark.parametrize("argv", [["-o", "json"], ["--output", "json"], ["--output=JSON"]])
def test_output_json_prints_one_json_document(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parser().parse_args(argv)
    emit(args, {"total": Decimal("1.50"), "b": 1}, "for people")
    assert json.loads(capsys.readouterr().out) == {"total": "1.50", "b": 1}


def test_text_is_the_default_and_rendered_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _parser().parse_args([])
    emit(args, {"a": 1}, lambda: "line for people")
    assert capsys.readouterr().out == "line for people\n"


def test_json_flag_is_an_alias_where_it_existed(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser(json_alias=True).parse_args(["--json"])
    emit(args, [1, 2], "text")
    assert json.loads(capsys.readouterr().out) == [1, 2]


def test_unknown_output_format_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["-o", "yaml"])
    assert exit_.value.code == 2


def test_acl_plan_as_json_lists_each_binding(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    assert main(["acl", "plan", "--reseller", "acme", "-o", "json"]) == 0
    bindings = json.loads(capsys.readouterr().out)
    assert bindings
    assert {"principal", "operation", "resource_name", "pattern_type"} <= set(bindings[0])
    assert any("acme" in b["resource_name"] for b in bindings)


def test_kafka_status_as_json_says_nothing_runs_with_exit_code_1(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main

    assert main(["kafka", "status", "--data-dir", str(tmp_path), "--output", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["running"] is False


@pytest.mark.parametrize(
    "argv",
    [
        ["orders", "list", "--held", "--json"],
        ["orders", "show", "PO-1", "--reseller", "r", "-o", "json"],
        ["credits", "show", "INC-1", "--json"],
        ["credits", "claim", "INC-1", "-o", "json"],
        ["support", "queues", "-o", "json"],
        ["kafka", "status", "-o", "json"],
        ["acl", "plan", "-o", "json"],
    ],
)
def test_read_commands_take_output_json(argv: list[str]) -> None:
    from hub.cli import build_parser

    assert build_parser().parse_args(argv).output == "json"


def test_topics_list_as_json_describes_each_topic_of_the_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hub.cli import main

    assert main(["topics", "list", "--reseller", "acme", "-o", "json"]) == 0
    topics = {t["topic"]: t for t in json.loads(capsys.readouterr().out)}
    assert topics["reseller.orders"]["key"] == "reseller_id"
    assert topics["reseller.orders"]["events"] == ["OrderRequested"]
    assert any(name.startswith("partner.") for name in topics)  # acme's own topics too


def test_schemas_check_as_json_lists_no_problem_for_the_shipped_schemas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hub.cli import main

    assert main(["schemas", "check", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []


def test_a_reader_closing_the_pipe_early_ends_the_command_quietly() -> None:
    import subprocess
    import sys

    # A thousand resellers' topics: far more than a pipe holds, so the writer meets the closed
    # pipe (a short listing would fit the pipe's buffer and never see it).
    resellers = " ".join(f"--reseller r{n}" for n in range(1000))
    run = subprocess.run(
        f"{sys.executable} -m hub.cli topics list {resellers} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
        executable="/bin/bash",
        env={**__import__("os").environ, "PYTHONWARNINGS": "ignore"},
    )
    assert run.stdout.startswith("reseller.orders")
    assert "Traceback" not in run.stderr
    assert "BrokenPipe" not in run.stderr
