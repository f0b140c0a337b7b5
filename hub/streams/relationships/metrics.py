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

GDAP = Counter(
    "hub_relationships_gdap_total",
    "GDAP relationships created and changed, expiry notices, tickets held and released",
    ["what"],
)
for _what in ("created", "changed", "expiry_notice", "ticket_held", "ticket_released"):
    GDAP.labels(what=_what)
