"""Prometheus metrics of the relationships flow."""

from __future__ import annotations

from prometheus_client import Counter

ONBOARDINGS = Counter(
    "hub_relationships_onboardings_total",
    "Customer onboarding and attestation requests by outcome",
    ["outcome"],
)
for _outcome in ("refused", "onboarded_accepted", "onboarded_pending", "attested"):
    ONBOARDINGS.labels(outcome=_outcome)
