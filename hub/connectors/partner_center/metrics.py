"""Prometheus metrics of Partner Center calls. Labels are bounded: operation, outcome, code."""

from __future__ import annotations

import weakref

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PartnerCenterMetrics:
    """One set per registry: a second client on the same registry shares the same series."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "hub_partner_center_requests_total",
            "HTTP requests to Partner Center, every attempt counted, by outcome.",
            ("operation", "outcome"),
            registry=registry,
        )
        self.errors = Counter(
            "hub_partner_center_errors_total",
            "Failed Partner Center requests by Partner Center error code (or HTTP status).",
            ("operation", "code"),
            registry=registry,
        )
        self.duration = Histogram(
            "hub_partner_center_request_duration_seconds",
            "Duration of one HTTP request to Partner Center.",
            ("operation",),
            buckets=_BUCKETS,
            registry=registry,
        )
        self.throttled = Counter(
            "hub_partner_center_throttled_total",
            "Requests Partner Center answered with 429.",
            ("operation",),
            registry=registry,
        )


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, PartnerCenterMetrics] = (
    weakref.WeakKeyDictionary()
)


def metrics_for(registry: CollectorRegistry | None = None) -> PartnerCenterMetrics:
    target = REGISTRY if registry is None else registry
    found = _BY_REGISTRY.get(target)
    if found is None:
        found = PartnerCenterMetrics(target)
        _BY_REGISTRY[target] = found
    return found
