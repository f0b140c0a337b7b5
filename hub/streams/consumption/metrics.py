"""Prometheus metrics of the consumption flow (labels bounded: currency, kind, threshold)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

USAGE_RATED = Counter(
    "hub_consumption_usage_rated_total",
    "Usage figures rated, by outcome (new, replaced, adjusted, stale)",
    ["outcome"],
)
ACCRUED_MINOR = Counter(
    "hub_consumption_accrued_minor_total",
    "Consumption accrued (minor units, net of later figures), by currency",
    ["currency"],
)
INVOICED_MINOR = Counter(
    "hub_consumption_invoiced_minor_total",
    "Consumption handed to billing at month end (minor units), by currency",
    ["currency"],
)
BUDGET_ALERTS = Counter(
    "hub_consumption_budget_alerts_total",
    "Budget thresholds reached, by scope and threshold percent",
    ["scope", "threshold"],
)
ANOMALIES = Counter(
    "hub_consumption_anomalies_total", "Customer days of spend flagged as anomalous"
)
MISMATCHES = Counter(
    "hub_consumption_mismatches_total",
    "Billed usage differing from what the hub rated, by kind",
    ["kind"],
)
INGESTION_LAG = Histogram(
    "hub_consumption_ingestion_lag_seconds",
    "From the end of the usage day to the hub rating it",
    buckets=(3600, 6 * 3600, 24 * 3600, 36 * 3600, 48 * 3600, 72 * 3600, 7 * 86400),
)
LAST_USAGE_DAY = Gauge(
    "hub_consumption_last_usage_day_timestamp_seconds",
    "Start of the newest usage day the hub has rated (UTC)",
)

for _kind in ("new", "replaced", "adjusted", "stale"):
    USAGE_RATED.labels(outcome=_kind)
for _kind in ("billed_not_rated", "quantity_differs", "cost_differs"):
    MISMATCHES.labels(kind=_kind)
