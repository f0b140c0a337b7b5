"""When a partner-tier ticket goes to Microsoft, and the Partner Center ServiceRequest it becomes.

Only the distributor (the indirect provider) may open Microsoft service requests, on behalf of
the reseller; the payload names the reseller and tenant so Microsoft can place the request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import Severity, TicketCategory
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.support.incidents import Incident
from hub.domain.support.ticket import Ticket
from hub.domain.support.triage import is_escalatable, microsoft_severity, service_request_severity
from hub.errors import BusinessRuleViolation


class EscalationReason(StrEnum):
    CRITICAL = "critical"
    PARTNER_TIER_UNRESOLVED = "partner_tier_unresolved"
    PARTNER_HANDLED = "partner_handled"
    AWAITING_PARTNER_TIER = "awaiting_partner_tier"
    ALREADY_ESCALATED = "already_escalated"
    INCIDENT_ESCALATES = "incident_escalates"


class EscalationDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    escalate: bool
    reason: EscalationReason


def decide_escalation(
    ticket: Ticket,
    *,
    partner_tier_unresolved: bool,
    already_escalated: bool = False,
    incident_id: str | None = None,
) -> EscalationDecision:
    """Escalatable categories go to Microsoft at once when critical, else once the partner tier
    gives up; a ticket linked to an incident rides on the incident's single escalation."""

    def decision(escalate: bool, reason: EscalationReason) -> EscalationDecision:
        return EscalationDecision(escalate=escalate, reason=reason)

    if not is_escalatable(ticket.category):
        return decision(False, EscalationReason.PARTNER_HANDLED)
    if already_escalated:
        return decision(False, EscalationReason.ALREADY_ESCALATED)
    if incident_id is not None:
        return decision(False, EscalationReason.INCIDENT_ESCALATES)
    if ticket.severity is Severity.CRITICAL:
        return decision(True, EscalationReason.CRITICAL)
    if partner_tier_unresolved:
        return decision(True, EscalationReason.PARTNER_TIER_UNRESOLVED)
    return decision(False, EscalationReason.AWAITING_PARTNER_TIER)


class SupportTopicRule(BaseModel):
    """A Partner Center SupportTopicId for a service and/or category (None matches any)."""

    model_config = ConfigDict(frozen=True)

    topic_id: str = Field(min_length=1)
    service: str | None = None
    category: TicketCategory | None = None


class SupportTopicMapping(BaseModel):
    """Most specific rule wins: service and category, then service, then category, then default."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[SupportTopicRule, ...] = ()
    default_topic_id: str = Field(min_length=1)

    @model_validator(mode="after")
    def _unambiguous(self) -> Self:
        keys = [(r.service and r.service.lower(), r.category) for r in self.rules]
        if len(keys) != len(set(keys)):
            raise ValueError("two support topic rules match the same service and category")
        return self


def support_topic_id(
    mapping: SupportTopicMapping, service: str | None, category: TicketCategory | None
) -> str:
    wanted = service.strip().lower() if service else None
    best: tuple[int, str] | None = None
    for rule in mapping.rules:
        rule_service = rule.service.lower() if rule.service else None
        if rule_service is not None and rule_service != wanted:
            continue
        if rule.category is not None and rule.category is not category:
            continue
        score = (2 if rule_service is not None else 0) + (1 if rule.category is not None else 0)
        if best is None or score > best[0]:
            best = (score, rule.topic_id)
    return best[1] if best else mapping.default_topic_id


class ServiceRequestPayload(BaseModel):
    """The fields of a Partner Center ServiceRequest we create; ``to_partner_center`` names them
    as Microsoft does."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    title: str = Field(alias="Title", min_length=1)
    description: str = Field(alias="Description", min_length=1)
    severity: str = Field(alias="Severity", pattern=r"^(critical|moderate|minimal)$")
    support_topic_id: str = Field(alias="SupportTopicId", min_length=1)
    product_name: str = Field(alias="ProductName", min_length=1)
    country_code: str = Field(alias="CountryCode", pattern=r"^[A-Z]{2}$")

    def to_partner_center(self) -> dict[str, str]:
        return self.model_dump(by_alias=True)


def build_service_request(
    ticket: Ticket,
    reseller: ResellerProfile,
    customer: Customer,
    mapping: SupportTopicMapping,
    *,
    product_name: str | None = None,
) -> ServiceRequestPayload:
    """The ServiceRequest for one escalated ticket; ``product_name`` overrides the ticket's."""
    if ticket.reseller_id != reseller.reseller_id or ticket.customer_id != customer.customer_id:
        raise BusinessRuleViolation(
            "ticket_ownership_mismatch",
            f"ticket {ticket.ticket_id} is not of reseller {reseller.reseller_id!r} "
            f"and customer {customer.customer_id!r}",
        )
    product = product_name or ticket.product or ticket.service
    if product is None:
        raise BusinessRuleViolation(
            "product_unknown", f"ticket {ticket.ticket_id} names no product or service"
        )
    letter = microsoft_severity(ticket.severity)
    subject = ticket.description.strip().splitlines()[0][:80]
    where = ", ".join(p for p in (ticket.service, ticket.region) if p)
    title = f"[{letter}] {subject}" + (f" ({where})" if where else "")
    tenant = customer.tenant_domain or customer.customer_id
    lines = [
        ticket.description.strip(),
        "",
        f"Hub ticket: {ticket.ticket_id}",
        f"Indirect reseller PartnerID: {reseller.partner_id}",
        f"Customer tenant: {tenant}",
        f"Category: {ticket.category.value}",
    ]
    if ticket.subscription_id:
        lines.append(f"Subscription: {ticket.subscription_id}")
    if where:
        lines.append(f"Service/region: {where}")
    return ServiceRequestPayload(
        title=title,
        description="\n".join(lines),
        severity=service_request_severity(ticket.severity),
        support_topic_id=support_topic_id(mapping, ticket.service, ticket.category),
        product_name=product,
        country_code=customer.country,
    )


def build_incident_service_request(
    incident: Incident,
    mapping: SupportTopicMapping,
    *,
    product_name: str,
    country_code: str,
) -> ServiceRequestPayload:
    """The single ServiceRequest for a correlated incident (many tenants, one service/region)."""
    letter = microsoft_severity(incident.severity)
    count = len(incident.ticket_ids)
    return ServiceRequestPayload(
        title=f"[{letter}] Multi-tenant impact: {incident.service} in {incident.region}",
        description="\n".join(
            [
                f"{count} tickets about {incident.service} in {incident.region} "
                f"since {incident.window_start.isoformat()}.",
                f"Hub incident: {incident.incident_id}",
                "Tickets: " + ", ".join(incident.ticket_ids),
            ]
        ),
        severity=service_request_severity(incident.severity),
        support_topic_id=support_topic_id(
            mapping, incident.service, TicketCategory.REGIONAL_MULTI_TENANT_IMPACT
        ),
        product_name=product_name,
        country_code=country_code,
    )
