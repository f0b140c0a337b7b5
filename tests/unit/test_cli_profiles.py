"""Profiles and --bootstrap resolve into Settings: flags, then HUB_* variables, then the profile;
shell completion prints a script for bash and zsh."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import cli
from hub.errors import ConfigError
from hub.profiles import profiles_file

PROFILES = """
[staging]
kafka_bootstrap_servers = "kafka.staging.example:9093"
topic_prefix = "stg."

[typo]
kafka_bootstrap_server = "x:1"
"""


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(PROFILES, encoding="utf-8")
    monkeypatch.setenv("HUB_PROFILES_FILE", str(path))
    for name in ("HUB_PROFILE", "HUB_KAFKA_BOOTSTRAP_SERVERS", "HUB_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    return path


def _settings(*argv: str) -> object:
    return cli._settings(cli.build_parser().parse_args(list(argv)))


def test_a_profile_named_before_or_after_the_command_gives_its_settings(profiles: Path) -> None:
    for argv in (
        ["--profile", "staging", "topics", "list"],
        ["topics", "list", "--profile", "staging"],
    ):
        settings = _settings(*argv)
        assert settings.kafka_bootstrap_servers == "kafka.staging.example:9093"  # type: ignore[attr-defined]
        assert settings.topic_prefix == "stg."  # type: ignore[attr-defined]


def test_hub_profile_selects_it_and_hub_variables_win_over_it(
    profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_PROFILE", "staging")
    monkeypatch.setenv("HUB_TOPIC_PREFIX", "env.")
    settings = _settings("topics", "list")
    assert settings.topic_prefix == "env."  # type: ignore[attr-defined]
    assert settings.kafka_bootstrap_servers == "kafka.staging.example:9093"  # type: ignore[attr-defined]


def test_bootstrap_flag_wins_over_profile_and_environment(
    profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP_SERVERS", "env:1")
    settings = _settings(
        "--profile",
        "staging",
        "billing",
        "dunning",
        "--date",
        "2026-12-01",
        "--bootstrap",
        "flag:2",
    )
    assert settings.kafka_bootstrap_servers == "flag:2"  # type: ignore[attr-defined]


def test_an_unknown_profile_or_setting_is_one_line_naming_the_file(profiles: Path) -> None:
    with pytest.raises(ConfigError, match=r"no profile 'prod' .*profiles there: staging, typo"):
        _settings("--profile", "prod", "topics", "list")
    with pytest.raises(ConfigError, match="did you mean 'kafka_bootstrap_servers'"):
        _settings("--profile", "typo", "topics", "list")


def test_a_missing_profiles_file_says_where_it_is_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HUB_PROFILES_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert profiles_file() == tmp_path / "hub" / "profiles.toml"
    assert cli.main(["--profile", "x", "completion", "bash"]) == 3
    assert f"no profiles file at {tmp_path / 'hub' / 'profiles.toml'}" in capsys.readouterr().err


def test_commands_that_talk_to_kafka_take_bootstrap_and_local_ones_do_not() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["topics", "apply", "--bootstrap", "h:1"]).bootstrap == "h:1"
    assert parser.parse_args(["billing", "close", "--period", "2026-11", "--bootstrap", "h:1"])
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["kafka", "status", "--bootstrap", "h:1"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_prints_the_script(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert "_python_argcomplete" in out
    assert "hub" in out
