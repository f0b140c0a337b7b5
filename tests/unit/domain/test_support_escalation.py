"""Escalation to Microsoft: when a ticket goes, and the ServiceRequest fields it becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.support.escalation import (
    EscalationReason,
    ServiceRequestPayload,
    SupportTopicMapping,
    SupportTopicRule,
    build_incident_service_request,
    build_service_request,
    decide_escalation,
    support_topic_id,
)
from hub.domain.support.incidents import CorrelationConfig, CorrelationState, correlate
from hub.domain.support.ticket import Channel, Ticket
from hub.domain.support.triage import ESCALATABLE_CATEGORIES, PARTNER_CATEGORIES
from hub.errors import BusinessRuleViolation

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
RESELLER = ResellerProfile(
    reseller_id="contoso",
    partner_id="1234567",
    name="Contoso Ltd",
    country="FR",
    currency="EUR",
    languages=("fr",),
    billing_mode=BillingMode.RESELLER_BILLS,
    support_mode=SupportMode.RESELLER_OWN,
    credit_limit_minor=0,
    payment_terms_days=30,
)
CUSTOMER = Customer(
    customer_id="cust-1",
    reseller_id="contoso",
    name="Fabrikam SA",
    country="FR",
    language="fr",
    currency="EUR",
    tenant_domain="fabrikam.onmicrosoft.com",
)
MAPPING = SupportTopicMapping(
    rules=(
        SupportTopicRule(
            topic_id="exo-access",
            service="exchange",
            category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
        ),
        SupportTopicRule(topic_id="exo-any", service="exchange"),
        SupportTopicRule(topic_id="bug-any", category=TicketCategory.BUG),
    ),
    default_topic_id="general",
)


def ticket(**kw: Any) -> Ticket:
    fields: dict[str, Any] = {
        "ticket_id": "T-1",
        "reseller_id": "contoso",
        "customer_id": "cust-1",
        "subscription_id": "sub-9",
        "product": "Exchange Online (Plan 1)",
        "category": TicketCategory.SERVICE_NOT_ACCESSIBLE,
        "severity": Severity.MODERATE,
        "description": "OWA returns 500\nsince 08:40 for all users",
        "channel": Channel.PHONE,
        "opened_at": T0,
        "service": "exchange",
        "region": "westeurope",
    }
    fields.update(kw)
    return Ticket(**fields)


@pytest.mark.parametrize("category", sorted(PARTNER_CATEGORIES))
def test_partner_categories_never_go_to_microsoft_even_when_critical(
    category: TicketCategory,
) -> None:
    decision = decide_escalation(
        ticket(category=category, severity=Severity.CRITICAL), partner_tier_unresolved=True
    )
    assert not decision.escalate
    assert decision.reason is EscalationReason.PARTNER_HANDLED


@pytest.mark.parametrize("category", sorted(ESCALATABLE_CATEGORIES))
def test_critical_escalatable_ticket_goes_to_microsoft_at_once(category: TicketCategory) -> None:
    decision = decide_escalation(
        ticket(category=category, severity=Severity.CRITICAL), partner_tier_unresolved=False
    )
    assert decision.escalate
    assert decision.reason is EscalationReason.CRITICAL


@pytest.mark.parametrize("severity", [Severity.MODERATE, Severity.MINIMAL])
def test_non_critical_waits_until_the_partner_tier_gives_up(severity: Severity) -> None:
    waiting = decide_escalation(ticket(severity=severity), partner_tier_unresolved=False)
    assert not waiting.escalate
    assert waiting.reason is EscalationReason.AWAITING_PARTNER_TIER
    given_up = decide_escalation(ticket(severity=severity), partner_tier_unresolved=True)
    assert given_up.escalate
    assert given_up.reason is EscalationReason.PARTNER_TIER_UNRESOLVED


def test_an_escalated_ticket_is_not_escalated_again() -> None:
    decision = decide_escalation(
        ticket(severity=Severity.CRITICAL), partner_tier_unresolved=True, already_escalated=True
    )
    assert not decision.escalate
    assert decision.reason is EscalationReason.ALREADY_ESCALATED


def test_a_ticket_linked_to_an_incident_rides_on_the_incidents_escalation() -> None:
    decision = decide_escalation(
        ticket(severity=Severity.CRITICAL), partner_tier_unresolved=True, incident_id="inc-1"
    )
    assert not decision.escalate
    assert decision.reason is EscalationReason.INCIDENT_ESCALATES


def test_service_request_carries_partner_center_field_names_and_values() -> None:
    payload = build_service_request(ticket(severity=Severity.CRITICAL), RESELLER, CUSTOMER, MAPPING)
    body = payload.to_partner_center()
    assert set(body) == {
        "Title",
        "Description",
        "Severity",
        "SupportTopicId",
        "ProductName",
        "CountryCode",
    }
    assert body["Severity"] == "critical"
    assert body["SupportTopicId"] == "exo-access"
    assert body["ProductName"] == "Exchange Online (Plan 1)"
    assert body["CountryCode"] == "FR"
    assert body["Title"] == "[A] OWA returns 500 (exchange, westeurope)"
    assert "1234567" in body["Description"]
    assert "fabrikam.onmicrosoft.com" in body["Description"]
    assert "T-1" in body["Description"]
    assert "sub-9" in body["Description"]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.CRITICAL, "critical"),
        (Severity.MODERATE, "moderate"),
        (Severity.MINIMAL, "minimal"),
    ],
)
def test_service_request_severity_is_mapped(severity: Severity, expected: str) -> None:
    payload = build_service_request(ticket(severity=severity), RESELLER, CUSTOMER, MAPPING)
    assert payload.severity == expected


@pytest.mark.parametrize(
    ("service", "category", "expected"),
    [
        ("exchange", TicketCategory.SERVICE_NOT_ACCESSIBLE, "exo-access"),
        ("Exchange", TicketCategory.BUG, "exo-any"),
        ("teams", TicketCategory.BUG, "bug-any"),
        (None, TicketCategory.BUG, "bug-any"),
        ("teams", TicketCategory.UNDOCUMENTED_BREAK_FIX, "general"),
    ],
)
def test_most_specific_support_topic_wins(
    service: str | None, category: TicketCategory, expected: str
) -> None:
    assert support_topic_id(MAPPING, service, category) == expected


def test_ambiguous_support_topic_rules_are_rejected() -> None:
    with pytest.raises(ValueError, match="same service and category"):
        SupportTopicMapping(
            rules=(
                SupportTopicRule(topic_id="a", service="exchange"),
                SupportTopicRule(topic_id="b", service="Exchange"),
            ),
            default_topic_id="general",
        )


def test_product_name_can_come_from_the_caller_or_fall_back_to_the_service() -> None:
    override = build_service_request(
        ticket(), RESELLER, CUSTOMER, MAPPING, product_name="Microsoft 365 E3"
    )
    assert override.product_name == "Microsoft 365 E3"
    by_service = build_service_request(ticket(product=None), RESELLER, CUSTOMER, MAPPING)
    assert by_service.product_name == "exchange"


def test_ticket_naming_no_product_at_all_is_refused() -> None:
    with pytest.raises(BusinessRuleViolation, match="product_unknown"):
        build_service_request(ticket(product=None, service=None), RESELLER, CUSTOMER, MAPPING)


def test_another_resellers_ticket_is_refused() -> None:
    with pytest.raises(BusinessRuleViolation, match="ticket_ownership_mismatch"):
        build_service_request(ticket(reseller_id="other"), RESELLER, CUSTOMER, MAPPING)


def test_incident_becomes_one_service_request_at_its_worst_severity() -> None:
    state = CorrelationState()
    for n in range(5):
        severity = Severity.CRITICAL if n == 3 else Severity.MINIMAL
        t = ticket(ticket_id=f"T-{n}", severity=severity, opened_at=T0 + timedelta(minutes=n))
        state, _ = correlate(state, t, CorrelationConfig())
    incident = next(iter(state.buckets.values())).open_incident
    assert incident is not None
    payload = build_incident_service_request(
        incident, MAPPING, product_name="Exchange Online", country_code="DE"
    )
    assert isinstance(payload, ServiceRequestPayload)
    assert payload.severity == "critical"
    assert payload.support_topic_id == "exo-any"
    assert payload.title == "[A] Multi-tenant impact: exchange in westeurope"
    assert incident.incident_id in payload.description
    assert all(f"T-{n}" in payload.description for n in range(5))
