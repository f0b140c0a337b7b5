"""Prometheus metrics of the renewals flow (labels bounded: lead days from settings, codes)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

NOTICES = Counter("hub_renewal_notices_total", "Renewal notices sent to resellers", ["lead_days"])
NOTICES_UNPRICED = Counter(
    "hub_renewal_notices_unpriced_total",
    "Renewal notices not sent because no price is in force on the renewal day",
)
SCHEDULED = Counter(
    "hub_renewal_scheduled_changes_total",
    "Scheduled next-term change requests, by outcome",
    ["outcome"],
)
SCHEDULED_DELETED = Counter(
    "hub_renewal_scheduled_changes_deleted_total",
    "Scheduled next-term changes deleted by a mid-term change",
)
RENEWED = Counter(
    "hub_renewals_total", "Subscriptions renewed, by whether a scheduled change applied", ["kind"]
)
EXPIRED = Counter("hub_renewal_expiries_total", "Subscriptions that ended without renewal")
DUE_LAG = Gauge(
    "hub_renewals_due_lag_seconds",
    "How late the oldest due renewal work was when a tick took it (0 when on time)",
)
APPROVALS = Counter(
    "hub_renewal_approvals_total",
    "Renewal approvals (approved, rejected) and renewals switched off for want of one",
    ["outcome"],
)
MIDTERM = Counter(
    "hub_renewal_midterm_changes_total",
    "Mid-term billing-frequency changes and upgrades, by kind and outcome",
    ["kind", "outcome"],
)
