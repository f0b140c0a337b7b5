"""Writes ops/grafana/dashboards/*.json: one dashboard per flow. Run after changing a panel:
    python ops/grafana/build_dashboards.py
A test checks that every metric a panel queries is one the hub exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "dashboards"


def panel(
    pid: int, title: str, exprs: list[tuple[str, str]], unit: str = "short"
) -> dict[str, Any]:
    x, y = (0 if pid % 2 else 12), ((pid - 1) // 2) * 8
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard(
    uid: str, title: str, panels: list[tuple[str, list[tuple[str, str]], str]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "tags": ["hub"],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": [panel(i + 1, t, e, u) for i, (t, e, u) in enumerate(panels)],
    }


# Every worker measures the whole consumer group's lag (hub/runtime/lag.py): with N workers each
# partition comes N times, so a partition's lag is the max over workers, never their sum. The
# hub's counters and histograms, and the open-tickets gauge (each worker counts the partitions
# it owns), are each worker's own: those are summed.
PARTITION_LAG = "max by (topic, partition) (hub_consumer_lag_messages)"


def rate(metric: str, by: str, window: str = "5m") -> str:
    return f"sum by ({by}) (rate({metric}[{window}]))"


def p99(metric: str, by: str) -> str:
    return f"histogram_quantile(0.99, sum by ({by}, le) (rate({metric}_bucket[5m])))"


DASHBOARDS = {
    "hub-overview": dashboard(
        "hub-overview",
        "Hub overview",
        [
            (
                "Events in per second, by flow",
                [(rate("hub_events_in_total", "flow", "1m"), "{{flow}}")],
                "ops",
            ),
            (
                "Events out per second, by topic family (partner.billing: every reseller's)",
                [(rate("hub_events_out_total", "topic", "1m"), "{{topic}}")],
                "ops",
            ),
            (
                "Dead letters per minute",
                [
                    ("sum(increase(hub_dead_letters_total[1m]))", "all topics"),
                    (
                        "sum by (topic, error_type) (increase(hub_dead_letters_total[1m])) > 0",
                        "{{topic}} {{error_type}}",
                    ),
                ],
                "short",
            ),
            (
                "Processing latency p99, by flow (from the worker taking the message)",
                [(p99("hub_processing_latency_seconds", "flow"), "{{flow}}")],
                "s",
            ),
            (
                "Consumer lag",
                [(f"sum by (topic) ({PARTITION_LAG})", "{{topic}}")],
                "short",
            ),
            ("Workers up", [('up{job="hub-worker"}', "{{instance}}")], "short"),
            (
                "Event-time lag p99, by flow (age of events: replays and simulated ones are old)",
                [(p99("hub_event_time_lag_seconds", "flow"), "{{flow}}")],
                "s",
            ),
            (
                "Retries, by flow and error",
                [
                    ("sum(rate(hub_retries_total[5m]))", "all flows"),
                    (
                        f"{rate('hub_retries_total', 'flow, error_type')} > 0",
                        "{{flow}} {{error_type}}",
                    ),
                ],
                "ops",
            ),
            (
                "Consumer lag, the 10 partitions furthest behind",
                [(f"topk(10, {PARTITION_LAG})", "{{topic}} [{{partition}}]")],
                "short",
            ),
            (
                "Events in per second, by worker (how the partitions spread)",
                [(rate("hub_events_in_total", "instance", "1m"), "{{instance}}")],
                "ops",
            ),
            (
                "Journal entries completed after a restart or rebalance",
                [
                    (
                        "sum by (instance, flow) (increase(hub_journal_completions_total[5m]))",
                        "{{instance}} {{flow}}",
                    )
                ],
                "short",
            ),
        ],
    ),
    "hub-orders": dashboard(
        "hub-orders",
        "Orders and provisioning",
        [
            (
                "Order decisions",
                [(rate("hub_orders_decided_total", "outcome"), "{{outcome}}")],
                "ops",
            ),
            (
                "Held and rejected, by reason",
                [(rate("hub_orders_reasons_total", "outcome, code"), "{{outcome}} {{code}}")],
                "ops",
            ),
            (
                "Order to provisioned, p99",
                [(p99("hub_orders_order_to_provisioned_seconds", "job"), "p99")],
                "s",
            ),
            (
                "Subscriptions provisioned",
                [("sum(rate(hub_orders_subscriptions_provisioned_total[5m]))", "provisioned")],
                "ops",
            ),
            (
                "Provisioning retries and failures",
                [
                    ("sum(rate(hub_orders_provisioning_retries_total[5m]))", "retries"),
                    (
                        rate("hub_orders_provisioning_failures_total", "retriable"),
                        "failed (retriable={{retriable}})",
                    ),
                ],
                "ops",
            ),
            (
                "Subscription changes",
                [
                    (rate("hub_orders_subscription_changes_total", "kind"), "{{kind}}"),
                    (
                        rate("hub_orders_subscription_changes_rejected_total", "code"),
                        "rejected {{code}}",
                    ),
                ],
                "ops",
            ),
            (
                "Partner Center calls, by operation and outcome",
                [
                    (
                        rate("hub_partner_center_requests_total", "operation, outcome"),
                        "{{operation}} {{outcome}}",
                    )
                ],
                "ops",
            ),
            (
                "Partner Center 429s and errors",
                [
                    ("sum(rate(hub_partner_center_throttled_total[5m]))", "429 all"),
                    ("sum(rate(hub_partner_center_errors_total[5m]))", "errors all"),
                    (
                        f"{rate('hub_partner_center_throttled_total', 'operation')} > 0",
                        "429 {{operation}}",
                    ),
                    (f"{rate('hub_partner_center_errors_total', 'code')} > 0", "error {{code}}"),
                ],
                "ops",
            ),
            (
                "Partner Center latency p99",
                [
                    (
                        p99("hub_partner_center_request_duration_seconds", "operation"),
                        "{{operation}}",
                    )
                ],
                "s",
            ),
        ],
    ),
    "hub-billing": dashboard(
        "hub-billing",
        "Billing, collections and reconciliation",
        [
            (
                "Charges rated, by charge type",
                [(rate("hub_billing_charges_rated_total", "charge_type"), "{{charge_type}}")],
                "ops",
            ),
            (
                "Invoices issued, by kind and currency",
                [
                    (
                        "sum by (kind, currency) (increase(hub_billing_invoices_issued_total[1h]))",
                        "{{kind}} {{currency}}",
                    )
                ],
                "short",
            ),
            (
                "Invoiced amount (minor units), by currency",
                [
                    (
                        "sum by (currency) (increase(hub_billing_invoiced_minor_units_total[1h]))",
                        "{{currency}}",
                    )
                ],
                "short",
            ),
            (
                "Payments applied",
                [(rate("hub_billing_payments_applied_total", "currency"), "{{currency}}")],
                "ops",
            ),
            (
                "Dunning stages reached",
                [("sum by (stage) (increase(hub_billing_dunning_stages_total[1h]))", "{{stage}}")],
                "short",
            ),
            (
                "Reconciliation mismatches, by kind",
                [
                    (
                        "sum by (kind) (increase(hub_billing_reconciliation_mismatches_total[1h]))",
                        "{{kind}}",
                    )
                ],
                "short",
            ),
        ],
    ),
    "hub-support": dashboard(
        "hub-support",
        "Support desk",
        [
            (
                "Tickets routed, by destination and language",
                [
                    (
                        rate("hub_support_tickets_routed_total", "destination, language"),
                        "{{destination}} {{language}}",
                    )
                ],
                "ops",
            ),
            (
                "Open tickets, by severity",
                [("sum by (severity) (hub_support_open_tickets)", "{{severity}}")],
                "short",
            ),
            (
                "SLA warnings and breaches",
                [
                    (
                        "sum by (severity) (increase(hub_support_sla_warnings_total[1h]))",
                        "warning {{severity}}",
                    ),
                    (
                        "sum by (severity) (increase(hub_support_sla_breaches_total[1h]))",
                        "breach {{severity}}",
                    ),
                ],
                "short",
            ),
            (
                "Escalations to Microsoft",
                [
                    (
                        rate("hub_support_escalations_total", "scope, severity"),
                        "{{scope}} {{severity}}",
                    )
                ],
                "ops",
            ),
            (
                "Incidents detected",
                [
                    (
                        "sum by (severity) (increase(hub_support_incidents_detected_total[1h]))",
                        "{{severity}}",
                    )
                ],
                "short",
            ),
            (
                "Language fallbacks",
                [(rate("hub_support_language_fallbacks_total", "reason"), "{{reason}}")],
                "ops",
            ),
        ],
    ),
    "hub-credits": dashboard(
        "hub-credits",
        "Service credits",
        [
            (
                "Approvals, by outcome",
                [("sum by (outcome) (increase(hub_credits_approvals_total[1h]))", "{{outcome}}")],
                "short",
            ),
            (
                "Credits allocated",
                [("sum(increase(hub_credits_allocations_total[1h]))", "allocations")],
                "short",
            ),
            (
                "Allocated amount (minor units), by currency",
                [
                    (
                        "sum by (currency) (increase(hub_credits_allocated_minor_total[1h]))",
                        "{{currency}}",
                    )
                ],
                "short",
            ),
            (
                "Remainder not allocated, by reason",
                [
                    (
                        "sum by (currency, reason) "
                        "(increase(hub_credits_remainder_minor_total[1h]))",
                        "{{currency}} {{reason}}",
                    )
                ],
                "short",
            ),
            (
                "Subscriptions excluded, by reason",
                [
                    (
                        "sum by (reason) (increase(hub_credits_excluded_subscriptions_total[1h]))",
                        "{{reason}}",
                    )
                ],
                "short",
            ),
        ],
    ),
}
# Azure plan consumption (hub/streams/consumption).
DASHBOARDS["hub-consumption"] = dashboard(
    "hub-consumption",
    "Azure plan consumption",
    [
        (
            "Accrued consumption (minor units), by currency",
            [
                (
                    "sum by (currency) (increase(hub_consumption_accrued_minor_total[1h]))",
                    "{{currency}}",
                )
            ],
            "short",
        ),
        (
            "Invoiced at month end (minor units), by currency",
            [
                (
                    "sum by (currency) (increase(hub_consumption_invoiced_minor_total[1d]))",
                    "{{currency}}",
                )
            ],
            "short",
        ),
        (
            "Budget thresholds reached",
            [
                (
                    "sum by (threshold) (increase(hub_consumption_budget_alerts_total[1h]))",
                    "{{threshold}}%",
                )
            ],
            "short",
        ),
        (
            "Anomalies and billed-usage differences",
            [
                ("sum(increase(hub_consumption_anomalies_total[1h]))", "anomalies"),
                (
                    "sum by (kind) (increase(hub_consumption_mismatches_total[1h]))",
                    "{{kind}}",
                ),
            ],
            "short",
        ),
        (
            "Usage figures rated, by outcome",
            [
                (
                    "sum by (outcome) (rate(hub_consumption_usage_rated_total[5m]))",
                    "{{outcome}}",
                )
            ],
            "ops",
        ),
        (
            "Ingestion lag (usage day end to rated), p50 and p95",
            [
                (
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(hub_consumption_ingestion_lag_seconds_bucket[1h])))",
                    "p50",
                ),
                (
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(hub_consumption_ingestion_lag_seconds_bucket[1h])))",
                    "p95",
                ),
                (
                    "time() - max(hub_consumption_last_usage_day_timestamp_seconds)",
                    "newest usage day's age",
                ),
            ],
            "s",
        ),
    ],
)


# Sales incentives (hub/streams/incentives).
DASHBOARDS["hub-incentives"] = dashboard(
    "hub-incentives",
    "Sales incentives",
    [
        (
            "Incentives accrued (minor units of the payout currency)",
            [
                (
                    "sum by (currency) (increase(hub_incentives_accrued_minor_total[1h]))",
                    "{{currency}}",
                )
            ],
            "short",
        ),
        (
            "Incentives reversed (minor units), by currency and reason",
            [
                (
                    "sum by (currency, reason) (increase(hub_incentives_reversed_minor_total[1h]))",
                    "{{currency}} {{reason}}",
                )
            ],
            "short",
        ),
        (
            "Billing facts handled, by kind and outcome",
            [
                (
                    "sum by (kind, outcome) (rate(hub_incentives_facts_total[5m]))",
                    "{{kind}} {{outcome}}",
                )
            ],
            "ops",
        ),
        (
            "Statements issued",
            [("sum(increase(hub_incentives_statements_total[1h]))", "statements")],
            "short",
        ),
    ],
)


if __name__ == "__main__":
    for uid, board in DASHBOARDS.items():
        (OUT / f"{uid}.json").write_text(json.dumps(board, indent=2) + "\n")
        print(f"wrote {uid}.json ({len(board['panels'])} panels)")
