"""Prometheus metrics of the credits flow: approvals, allocations, amounts and remainders.

Labels are closed sets (outcome, remainder reason, ISO currency), never an incident or customer.
"""

from __future__ import annotations

from prometheus_client import Counter

APPROVALS = Counter(
    "hub_credits_approvals_total",
    "Approvals handled by outcome: allocated, replayed (same approval again), conflicting",
    ["outcome"],
)
ALLOCATIONS = Counter(
    "hub_credits_allocations_total", "ServiceCreditAllocated events of first allocations"
)
ALLOCATED_MINOR = Counter(
    "hub_credits_allocated_minor_total",
    "Allocated credit in minor units of the approval's currency",
    ["currency"],
)
REMAINDER_MINOR = Counter(
    "hub_credits_remainder_minor_total",
    "Approved credit left unallocated, in minor units of the approval's currency",
    ["currency", "reason"],
)
EXCLUDED = Counter(
    "hub_credits_excluded_subscriptions_total",
    "Affected subscriptions that could not be credited",
    ["reason"],
)
INDEXED = Counter(
    "hub_credits_index_updates_total",
    "Subscription facts applied to the credits index, by kind",
    ["kind"],
)
