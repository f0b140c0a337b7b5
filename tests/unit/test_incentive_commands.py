"""``hub incentives``: a plans file is checked before anything is published, one line per
problem; the statement reads as finance and the payee need it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub import cli
from hub.commands.incentives import load_plans, plan_event, render
from hub.connectors.reference_problems import ReferenceFileInvalid
from hub.ops.local_kafka import free_port
from tests.support.samples import sample

GOOD = """\
plans:
  - plan_id: rebate-contoso
    payee: contoso
    kind: rebate
    resellers: [contoso]
    currency: EUR
    effective_from: "2026-01"
    tiers:
      - {name: base, from_measure: 0, rates_bps: {"*": 200}}
  - plan_id: am-alice
    payee: alice
    kind: commission
    resellers: [contoso, fabrikam]
    currency: EUR
    fx_rates: {USD: "0.92"}
    fx_source: ECB reference rate of 2026-01-02
    effective_from: "2026-01"
    cap_minor: 500000
    tiers:
      - {name: base, from_measure: 0, rates_bps: {"*": 100}}
      - {name: silver, from_measure: 1000000, rates_bps: {"*": 150}}
"""


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))


def write(tmp_path: Path, text: str, name: str = "plans.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_gives_its_plans_and_one_event_each(tmp_path: Path) -> None:
    plans = load_plans(write(tmp_path, GOOD))
    assert [p.plan_id for p in plans] == ["rebate-contoso", "am-alice"]
    now = datetime(2026, 1, 2, tzinfo=UTC)
    event = plan_event(plans[1], now)
    assert event.plan() == plans[1]
    # The same document applied again is the same event.
    assert plan_event(plans[1], now).event_id == event.event_id


def test_an_unknown_key_is_refused_in_one_line_naming_file_plan_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("cap_minor:", "cap_minr:"))
    with pytest.raises(ReferenceFileInvalid) as caught:
        load_plans(path)
    assert str(caught.value) == (
        f"{path}:plans[1] (am-alice) line 18: unknown key cap_minr; did you mean cap_minor?"
    )


def test_a_plan_id_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("am-alice", "rebate-contoso"))
    with pytest.raises(ReferenceFileInvalid, match="plan ids must be unique, repeated: rebate"):
        load_plans(path)


def test_apply_refuses_a_bad_file_with_exit_2_and_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("kind: rebate", "kind: bonus"))
    assert cli.main(["incentives", "plans", "apply", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "plans[0] (rebate-contoso) line 4" in err
    assert "Traceback" not in err


def test_json_is_a_plans_file_too(tmp_path: Path) -> None:
    path = write(tmp_path, '{"plans": []}', "plans.json")
    with pytest.raises(ReferenceFileInvalid, match="at least 1 item"):
        load_plans(path)


def test_the_statement_says_what_was_accrued_reversed_and_is_payable() -> None:
    text = render(sample("IncentiveStatementIssued"))  # type: ignore[arg-type]
    assert text.splitlines() == [
        "incentive statement of contoso for 2025-03",
        "  plan rebate-contoso (rebate), tier reached: base",
        "    accrued   2.40 EUR",
        "    reversed  0.40 EUR; refund_7_day 0.40 EUR",
        "    payable   2.00 EUR",
    ]
