"""Every metric a dashboard panel or an alert rule queries is one the hub really exports."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

from hub.connectors.partner_center.metrics import metrics_for

OPS = Path(__file__).parents[2] / "ops"
STREAMS = Path(__file__).parents[2] / "hub" / "streams"
METRIC = re.compile(r"\b(hub_[a-z_]+)")
BUILT_IN = {"up"}


def _exported() -> set[str]:
    # hub.metrics and every flow's metrics module (hub/streams/<flow>/metrics.py), found, not
    # listed, so a new flow's dashboards and rules are checked against what it exports.
    flows = sorted(p.parent.name for p in STREAMS.glob("*/metrics.py"))
    for module in ("hub.metrics", *(f"hub.streams.{flow}.metrics" for flow in flows)):
        importlib.import_module(module)
    own = CollectorRegistry()
    metrics_for(own)
    names = set(REGISTRY._names_to_collectors) | set(own._names_to_collectors)
    return {n for n in names if n.startswith("hub_")}


def _queried() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for board in sorted((OPS / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(board.read_text())["panels"]:
            for target in panel["targets"]:
                found.setdefault(board.name, set()).update(METRIC.findall(target["expr"]))
    for rules in sorted((OPS / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(rules.read_text())["groups"]:
            for rule in group["rules"]:
                found.setdefault(rules.name, set()).update(METRIC.findall(rule["expr"]))
    return found


@pytest.mark.parametrize("source", sorted(_queried()))
def test_every_queried_metric_is_exported(source: str) -> None:
    exported = _exported()
    missing = {
        name
        for name in _queried()[source]
        if name not in exported and name.removesuffix("_bucket") not in exported
    }
    assert not missing, f"{source} queries metrics the hub does not export: {sorted(missing)}"


def test_there_is_a_dashboard_per_flow() -> None:
    boards = {p.stem for p in (OPS / "grafana" / "dashboards").glob("*.json")}
    assert {"hub-overview", "hub-orders", "hub-billing", "hub-support", "hub-credits"} <= boards
