"""The "try next" block the demo ends with: how to reach what it left running, by hand."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from hub.demo.summary import HeldOrder


@dataclass(frozen=True)
class TryNext:
    bootstrap: str
    exports: Mapping[str, str]
    metrics_url: str
    partner_topic: str
    held: HeldOrder | None
    serving: bool


def render_try_next(t: TryNext) -> str:
    lines = ["", "=== Try next ==="]
    if not t.serving:
        lines.append(
            "This run stops now; `./dev run` (hub demo --serve) keeps everything running for these."
        )
    lines.append(f"Broker: {t.bootstrap}   metrics: {t.metrics_url}")
    lines.append("Point the hub CLI at this demo (in another shell, from the checkout):")
    lines.extend(f"  export {k}={shlex.quote(v)}" for k, v in sorted(t.exports.items()))
    if t.held is not None:
        h = t.held
        lines.append(f"{h.reseller_id}'s order {h.order_id} is still held ({h.reason_code}):")
        lines.append("  .venv/bin/hub orders list --held")
        lines.append(f"  .venv/bin/hub orders show {h.order_id} --reseller {h.reseller_id}")
        lines.append(
            f"  .venv/bin/hub orders release {h.order_id} --reseller {h.reseller_id} --reviewer you"
        )
    lines.append(f"What a reseller's system reads, decoded (its topic {t.partner_topic}):")
    lines.append(f"  .venv/bin/python -m hub.demo.read {t.partner_topic}")
    lines.append(
        "Prometheus: ops/prometheus/prometheus.yml scrapes the metrics URL; "
        "`.venv/bin/hub --help` lists every command."
    )
    return "\n".join(lines)
