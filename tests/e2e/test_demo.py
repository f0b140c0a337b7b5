"""The demo on the session's broker: its story's outcomes, read back from the hub's topics,
and bounded metric labels under its load."""

from __future__ import annotations

import re
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.demo.environment import DemoEnvironment
from hub.demo.runner import run_demo
from hub.demo.scenario import OUTAGE
from hub.demo.summary import Summary
from hub.ops.local_kafka import free_port
from hub.settings import Settings
from tests.support.broker import BrokerInfo

# A label value that is an id (order, ticket, uuid, customer) would make series unbounded.
ID_LIKE = re.compile(r"(ord-|tkt-|out-|chg-|[0-9a-f]{8}-[0-9a-f]{4}-|muenchen|leeds|osaka)")
MAX_SERIES_PER_FAMILY = 200


async def test_the_demo_story_ends_as_the_hub_decided_and_labels_stay_bounded(
    kafka: BrokerInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(state_dir=tmp_path, worker_web_port=free_port())
    earlier = tmp_path / "demo" / "20260101000000"  # a finished run: its state goes
    (earlier / "kafka").mkdir(parents=True)
    scraped: dict[str, str] = {}

    async def keep_metrics(env: DemoEnvironment, _: Summary) -> None:
        with urllib.request.urlopen(env.worker.metrics_url, timeout=10) as response:
            scraped["text"] = response.read().decode()

    summary = await run_demo(
        settings,
        bootstrap=kafka.bootstrap,
        say=lambda _: None,
        summary_json=tmp_path / "summary.json",
        before_teardown=keep_metrics,
    )
    s = summary.as_dict()

    assert s["orders"]["contoso-de"] == {"accepted": 2}
    # Each order once, by its latest decision: one held for the credit limit and released
    # (accepted), one still held after dunning put Northwind on credit hold.
    assert s["orders"]["northwind-gb"] == {"accepted": 2, "held": 1, "rejected": 1}
    assert s["released"] == {"northwind-gb": 1}
    assert s["hold_reasons"] == {"over_credit_limit": 1, "reseller_on_credit_hold": 1}
    assert [o.split("-")[:2] for o in s["still_held"]] == [["ord", "3004"]]
    assert sum(sum(c.values()) for c in s["orders"].values()) == 13
    assert s["orders"]["tailspin-us"] == {"accepted": 1, "rejected": 2}
    assert s["rejection_reasons"] == {
        "OrderExceedsCreditLimit": 1,
        "UnknownCatalogItem": 1,
        "CustomerNotFound": 1,
    }
    assert sum(s["subscriptions"].values()) == 9
    assert s["changes"] == {
        "change_quantity": 1,
        "cancel": 1,
        "change_quantity rejected (SeatReductionWindowClosed)": 1,
    }
    assert s["incidents"] == 1
    assert s["microsoft_service_requests"] == 1  # the outage: escalated once, as an incident
    assert s["tickets_escalated"] == len(OUTAGE)
    assert set(s["invoices"]) == set(s["orders"])  # every reseller with business is invoiced
    assert s["dunning"] == {"credit_hold": 1}
    assert s["mismatches"] == 1  # the one price Microsoft changed
    assert sorted(s["credits"]) == ["adatum-jp", "fabrikam-fr"]  # exchange customers only
    assert s["dead_letters"] == {}
    assert sum(s["tickets_by_queue"].values()) == 11
    assert "partner.contoso-de.support" in s["tickets_by_queue"]
    assert (tmp_path / "summary.json").is_file()
    # Only this run's state is left, and it no longer claims to be running.
    (run_dir,) = (tmp_path / "demo").iterdir()
    assert not (run_dir / "run.json").exists()
    assert not (run_dir / "worker" / "tables").exists()  # only logs are kept
    assert list((run_dir / "worker").glob("*.log"))
    printed = capsys.readouterr().out
    assert "=== Try next ===" in printed
    assert f"orders release {s['still_held'][0]} --reseller northwind-gb" in printed
    assert "python -m hub.demo.read partner.northwind-gb.status" not in printed  # prefixed
    assert "hub.demo.read demo-" in printed

    # Label sets per family, a histogram's buckets (``le``) and its _sum/_count as one: what
    # grows with ids, not with the number of flows times a histogram's fixed buckets.
    label_sets: dict[str, set[tuple[tuple[str, str], ...]]] = defaultdict(set)
    for family in text_string_to_metric_families(scraped["text"]):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            label_sets[family.name].add(labels)
            for value in sample.labels.values():
                assert not ID_LIKE.search(value), f"{sample.name} has an id-like label {value!r}"
    assert label_sets, "no metrics scraped"
    series = {name: len(sets) for name, sets in label_sets.items()}
    too_many = {name: n for name, n in series.items() if n > MAX_SERIES_PER_FAMILY}
    assert not too_many, too_many
