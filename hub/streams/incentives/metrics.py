"""Prometheus metrics of the incentives flow: amounts accrued and reversed, facts handled.

Labels are closed sets (ISO currency, reason, fact kind), never a payee, plan or reseller.
"""

from __future__ import annotations

from prometheus_client import Counter

ACCRUED_MINOR = Counter(
    "hub_incentives_accrued_minor_total",
    "Incentives accrued on recognised revenue, in minor units of the payout currency",
    ["currency"],
)
REVERSED_MINOR = Counter(
    "hub_incentives_reversed_minor_total",
    "Incentives reversed (7-day refunds, write-offs, revenue adjusted down), in minor units of "
    "the payout currency",
    ["currency", "reason"],
)
FACTS = Counter(
    "hub_incentives_facts_total",
    "Billing facts the incentives ledger handled, by kind and outcome (booked, nothing, no_plan)",
    ["kind", "outcome"],
)
STATEMENTS = Counter("hub_incentives_statements_total", "Incentive statements issued")
