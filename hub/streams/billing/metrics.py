"""Prometheus metrics of the billing flow; labels are bounded sets (never an id)."""

from __future__ import annotations

from prometheus_client import Counter

CHARGES_RATED = Counter(
    "hub_billing_charges_rated_total", "Charges rated (first time only)", ["charge_type"]
)
INVOICES_ISSUED = Counter(
    "hub_billing_invoices_issued_total", "Invoices and credit notes issued", ["kind", "currency"]
)
INVOICED_MINOR = Counter(
    "hub_billing_invoiced_minor_units_total",
    "Invoice and credit note totals, in minor units of the currency",
    ["kind", "currency"],
)
PAYMENTS_APPLIED = Counter(
    "hub_billing_payments_applied_total", "Payments applied to receivables", ["currency"]
)
DUNNING_STAGES = Counter("hub_billing_dunning_stages_total", "Dunning stages reached", ["stage"])
MISMATCHES = Counter(
    "hub_billing_reconciliation_mismatches_total",
    "Differences between Microsoft's reconciliation lines and the hub's cost lines",
    ["kind"],
)
