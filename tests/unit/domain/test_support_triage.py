"""Triage: the seed text's two lists, and severity A/B/C."""

from __future__ import annotations

import pytest

from hub.domain.enums import Severity, TicketCategory
from hub.domain.support.triage import (
    ESCALATABLE_CATEGORIES,
    PARTNER_CATEGORIES,
    Handling,
    MicrosoftSeverity,
    classify,
    is_escalatable,
    microsoft_severity,
    service_request_severity,
    severity_from_microsoft,
    severity_from_service_request,
    severity_rank,
)

# Written out independently of the module, from the seed text's two lists.
EXPECTED = {
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


def test_every_category_has_an_expected_handling() -> None:
    assert set(EXPECTED) == set(TicketCategory)


@pytest.mark.parametrize("category", list(TicketCategory))
def test_each_category_is_classified_as_the_seed_lists_say(category: TicketCategory) -> None:
    assert classify(category) is EXPECTED[category]
    assert is_escalatable(category) == (EXPECTED[category] is Handling.ESCALATABLE)


def test_the_two_lists_partition_all_categories() -> None:
    assert PARTNER_CATEGORIES.isdisjoint(ESCALATABLE_CATEGORIES)
    assert set(TicketCategory) == PARTNER_CATEGORIES | ESCALATABLE_CATEGORIES
    assert len(PARTNER_CATEGORIES) == 7
    assert len(ESCALATABLE_CATEGORIES) == 7


@pytest.mark.parametrize(
    ("severity", "letter", "pc_string"),
    [
        (Severity.CRITICAL, MicrosoftSeverity.A, "critical"),
        (Severity.MODERATE, MicrosoftSeverity.B, "moderate"),
        (Severity.MINIMAL, MicrosoftSeverity.C, "minimal"),
    ],
)
def test_severity_maps_to_microsoft_letter_and_service_request_string(
    severity: Severity, letter: MicrosoftSeverity, pc_string: str
) -> None:
    assert microsoft_severity(severity) is letter
    assert service_request_severity(severity) == pc_string
    assert severity_from_microsoft(letter.value.lower()) is severity
    assert severity_from_service_request(pc_string.upper()) is severity


@pytest.mark.parametrize("bad", ["D", "", "critical"])
def test_unknown_microsoft_letter_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        severity_from_microsoft(bad)


def test_unknown_service_request_severity_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown service request severity"):
        severity_from_service_request("urgent")


def test_critical_outranks_moderate_outranks_minimal() -> None:
    ranks = [severity_rank(s) for s in (Severity.CRITICAL, Severity.MODERATE, Severity.MINIMAL)]
    assert ranks == sorted(ranks, reverse=True)
    assert len(set(ranks)) == 3
