"""The bridge's Prometheus metrics. Labels are bounded: no reseller id, endpoint id or URL."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "hub_webhook_deliveries_total",
    "Webhook deliveries by final outcome (delivered, failed, skipped) and retries scheduled",
    ["outcome"],
)
ATTEMPTS = Counter(
    "hub_webhook_attempts_total",
    "HTTP attempts to deliver a webhook, by result (ok, http_error, timeout, connection_error)",
    ["result"],
)
ENDPOINTS_DISABLED = Counter(
    "hub_webhook_endpoints_disabled_total",
    "Webhook endpoints the bridge disabled after repeated failures",
)
ATTEMPT_SECONDS = Histogram(
    "hub_webhook_attempt_seconds",
    "Duration of one webhook HTTP attempt",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def start_at_zero() -> None:
    """Every known series exists from the start, so a dashboard shows 0 rather than no data."""
    for outcome in ("delivered", "retry_scheduled", "failed", "skipped"):
        DELIVERIES.labels(outcome)
    for result in ("ok", "http_error", "timeout", "connection_error"):
        ATTEMPTS.labels(result)
