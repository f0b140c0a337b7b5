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
