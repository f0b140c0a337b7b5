"""``hub customers``: a request its contract refuses is one line and exit 2, before any
broker is asked; the help lists every action."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub import cli
from hub.ops.local_kafka import free_port


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))


def run(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def test_an_onboarding_with_a_bad_contact_email_is_refused_in_one_line(capsys):
    code = run(
        [
            "customers",
            "onboard",
            "contoso",
            "fabrikam",
            "--company",
            "Fabrikam",
            "--domain",
            "fabrikam",
            "--address",
            "1 Main St",
            "--city",
            "Berlin",
            "--postal-code",
            "10115",
            "--country",
            "DE",
            "--currency",
            "EUR",
            "--first-name",
            "Ada",
            "--last-name",
            "Lee",
            "--email",
            "not-an-email",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "onboarding refused: contact.email" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_gdap_request_longer_than_allowed_fails_the_contract_not_the_broker(capsys):
    code = run(["customers", "gdap", "contoso", "fabrikam", "--name", "x" * 51])
    err = capsys.readouterr().err
    assert code == 2
    assert "GDAP request refused: display_name" in err


def test_customers_help_lists_every_action(capsys):
    assert run(["customers", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ("onboard", "attest", "gdap", "transfer", "drift"):
        assert action in out
