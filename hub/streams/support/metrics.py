"""Prometheus metrics of the support flow; labels come from configuration, never ticket ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TICKETS_ROUTED = Counter(
    "hub_support_tickets_routed_total",
    "Tickets routed, by destination, desk queue, language and severity",
    ["destination", "queue", "language", "severity"],
)
LANGUAGE_FALLBACKS = Counter(
    "hub_support_language_fallbacks_total",
    "Desk tickets not worked in the customer's language, by reason",
    ["reason"],
)
ESCALATIONS = Counter(
    "hub_support_escalations_total",
    "Microsoft service requests opened, per ticket or per incident",
    ["scope", "severity"],
)
SLA_WARNINGS = Counter(
    "hub_support_sla_warnings_total", "SLA warnings, by target and severity", ["target", "severity"]
)
SLA_BREACHES = Counter(
    "hub_support_sla_breaches_total", "SLA breaches, by target and severity", ["target", "severity"]
)
INCIDENTS_DETECTED = Counter(
    "hub_support_incidents_detected_total", "Correlated incidents detected", ["severity"]
)
OPEN_TICKETS = Gauge(
    "hub_support_open_tickets", "Open tickets held by this worker's SLA timers", ["severity"]
)
