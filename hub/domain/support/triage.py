"""Triage: which categories the partner handles and which may go to Microsoft; severity A/B/C."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from hub.domain.enums import Severity, TicketCategory


class Handling(StrEnum):
    """Who owns a category: the partner tier only, or Microsoft when the partner cannot close it."""

    PARTNER = "partner"
    ESCALATABLE = "escalatable"


class MicrosoftSeverity(StrEnum):
    """Microsoft's letters for the three severities."""

    A = "A"
    B = "B"
    C = "C"


# The two lists of the CSP seed text, spelled out so a new category fails the exhaustive test
# instead of silently landing in one bucket.
_HANDLING = MappingProxyType(
    {
        TicketCategory.BILLING_AND_SUBSCRIPTION: Handling.PARTNER,
        TicketCategory.PROVISIONING: Handling.PARTNER,
        TicketCategory.QUESTIONS: Handling.PARTNER,
        TicketCategory.SERVICE_AND_SOFTWARE_UPDATES: Handling.PARTNER,
        TicketCategory.CONFIGURATION: Handling.PARTNER,
        TicketCategory.PERFORMANCE_AVAILABILITY_PARTNER_SPAN: Handling.PARTNER,
        TicketCategory.CLIENT_CONNECTIVITY_DESKTOP: Handling.PARTNER,
        TicketCategory.OUTSIDE_AVAILABLE_TOOLS: Handling.ESCALATABLE,
        TicketCategory.UNDOCUMENTED_BREAK_FIX: Handling.ESCALATABLE,
        TicketCategory.SERVICE_NOT_ACCESSIBLE: Handling.ESCALATABLE,
        TicketCategory.NOT_OPERATING_AS_DESCRIBED: Handling.ESCALATABLE,
        TicketCategory.BUG: Handling.ESCALATABLE,
        TicketCategory.LARGE_SCALE_NETWORK_DISRUPTION: Handling.ESCALATABLE,
        TicketCategory.REGIONAL_MULTI_TENANT_IMPACT: Handling.ESCALATABLE,
    }
)

PARTNER_CATEGORIES = frozenset(c for c, h in _HANDLING.items() if h is Handling.PARTNER)
ESCALATABLE_CATEGORIES = frozenset(c for c, h in _HANDLING.items() if h is Handling.ESCALATABLE)

_LETTERS = MappingProxyType(
    {
        Severity.CRITICAL: MicrosoftSeverity.A,
        Severity.MODERATE: MicrosoftSeverity.B,
        Severity.MINIMAL: MicrosoftSeverity.C,
    }
)
_FROM_LETTER = MappingProxyType({letter: sev for sev, letter in _LETTERS.items()})
# Partner Center's ServiceRequest.Severity strings.
_SERVICE_REQUEST_SEVERITY = MappingProxyType(
    {
        Severity.CRITICAL: "critical",
        Severity.MODERATE: "moderate",
        Severity.MINIMAL: "minimal",
    }
)
_FROM_SERVICE_REQUEST = MappingProxyType({s: sev for sev, s in _SERVICE_REQUEST_SEVERITY.items()})
_RANK = MappingProxyType({Severity.CRITICAL: 3, Severity.MODERATE: 2, Severity.MINIMAL: 1})


def classify(category: TicketCategory) -> Handling:
    """Whether the partner handles the category or it may be escalated to Microsoft."""
    return _HANDLING[category]


def is_escalatable(category: TicketCategory) -> bool:
    return _HANDLING[category] is Handling.ESCALATABLE


def microsoft_severity(severity: Severity) -> MicrosoftSeverity:
    """critical/moderate/minimal -> A/B/C."""
    return _LETTERS[severity]


def severity_from_microsoft(letter: str) -> Severity:
    """A/B/C -> critical/moderate/minimal; raises ValueError for anything else."""
    return _FROM_LETTER[MicrosoftSeverity(letter.strip().upper())]


def service_request_severity(severity: Severity) -> str:
    """The Severity string a Partner Center ServiceRequest carries."""
    return _SERVICE_REQUEST_SEVERITY[severity]


def severity_from_service_request(value: str) -> Severity:
    """Partner Center's ServiceRequest.Severity back to ours; raises ValueError if unknown."""
    try:
        return _FROM_SERVICE_REQUEST[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown service request severity {value!r}") from None


def severity_rank(severity: Severity) -> int:
    """Higher is more urgent; used to pick an incident's severity from its tickets."""
    return _RANK[severity]
