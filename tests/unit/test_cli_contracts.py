"""`hub schemas check` passes on the shipped contracts and fails on an incompatible change."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import build_parser, main

FIXTURES = Path(__file__).parent / "schemas" / "fixtures"


def test_schemas_check_passes_on_the_repository() -> None:
    assert main(["schemas", "check"]) == 0


@pytest.mark.parametrize(
    "fixture",
    [
        "changed_type",
        "removed_field_without_default",
        "renamed_enum_symbol",
        "added_enum_symbol",
        "widened_int_to_long",
    ],
)
def test_schemas_check_fails_on_an_incompatible_fixture(
    fixture: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schemas", "check", "--avro-dir", str(FIXTURES / fixture)]) == 1
    assert "order_requested v2 and v1" in capsys.readouterr().out


def test_schemas_check_accepts_a_compatible_change() -> None:
    assert (
        main(
            [
                "schemas",
                "check",
                "--avro-dir",
                str(FIXTURES / "compatible_added_field_with_default"),
            ]
        )
        == 0
    )


def test_help_lists_every_command_area(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "worker", "kafka", "sim", "topics", "schemas", "reference", "registry"):
        assert command in out


def test_a_bad_reference_file_is_a_clear_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("resellers: [{reseller_id: x}]\n")
    assert main(["reference", "load", str(bad)]) == 2
    assert "r.yaml:resellers[0]" in capsys.readouterr().err


def _every_command_path() -> list[list[str]]:
    import argparse

    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


@pytest.mark.parametrize("path", _every_command_path(), ids=" ".join)
def test_every_command_prints_its_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*path, "--help"])
    assert exited.value.code == 0
    assert "usage: hub " + " ".join(path) in capsys.readouterr().out
