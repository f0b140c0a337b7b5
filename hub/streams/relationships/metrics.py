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

DRIFTS = Counter(
    "hub_relationships_drifts_total",
    "Differences the drift sweep found between Partner Center and the hub, by kind",
    ["kind"],
)
DRIFT_RESOLUTIONS = Counter(
    "hub_relationships_drift_resolutions_total",
    "Ops resolutions of drifts by outcome",
    ["outcome"],
)
for _kind in ("changed", "renewed", "suspended_by_microsoft", "unknown_to_hub"):
    DRIFTS.labels(kind=_kind)
for _outcome in ("adopted", "corrected", "ignored", "refused"):
    DRIFT_RESOLUTIONS.labels(outcome=_outcome)

SWEEPS = Counter(
    "hub_relationships_sweep_ticks_total",
    "Sweep ticks by sweep and outcome: swept a page, stopped by a Partner Center failure until "
    "the next tick, skipped an entry it could not sweep, or skipped a tick older than the "
    "sweep interval",
    ["sweep", "outcome"],
)
for _sweep in ("gdap", "drift"):
    for _outcome in ("swept", "stopped", "entry_skipped", "stale"):
        SWEEPS.labels(sweep=_sweep, outcome=_outcome)
