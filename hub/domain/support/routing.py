"""White-label routing: a ticket goes to the reseller's own queue or to the distributor's desk.

On the desk the reseller's brand replaces the distributor's, so the customer never sees who
actually works the ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from hub.domain.enums import SupportMode
from hub.domain.reference import Brand, Customer, ResellerProfile
from hub.domain.support.rota import DeskConfig, Team, matching_language, speaks, teams_on_duty
from hub.domain.support.ticket import Ticket
from hub.domain.support.triage import Handling, classify
from hub.errors import BusinessRuleViolation


class Destination(StrEnum):
    RESELLER_QUEUE = "reseller_queue"
    DISTRIBUTOR_DESK = "distributor_desk"


class FallbackReason(StrEnum):
    """Why a desk ticket is not worked in the customer's language (counted per reason)."""

    LANGUAGE_NOT_STAFFED = "language_not_staffed"
    LANGUAGE_OFF_DUTY = "language_off_duty"


class Route(BaseModel):
    """Where a ticket goes and what it looks like to the customer there."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    reseller_id: str
    destination: Destination
    queue: str
    handling: Handling
    requested_language: str
    language: str
    language_fallback: bool = False
    fallback_reason: FallbackReason | None = None
    team_id: str | None = None
    # True when no team at all was on duty and the ticket went to the overflow queue.
    coverage_gap: bool = False
    brand: Brand | None = None
    routed_at: AwareDatetime


def reseller_support_topic(reseller_id: str) -> str:
    """The reseller's own support topic; the one place that spells the convention."""
    return f"partner.{reseller_id}.support"


def desk_queue(team_id: str, language: str) -> str:
    """The distributor desk queue of one team and language."""
    return f"desk.{team_id}.{language}"


def _check_ownership(ticket: Ticket, reseller: ResellerProfile, customer: Customer) -> None:
    # A reseller sees only its own data: a mismatch is refused, never routed somewhere "close".
    if ticket.reseller_id != reseller.reseller_id:
        raise BusinessRuleViolation(
            "ticket_reseller_mismatch",
            f"ticket {ticket.ticket_id} names reseller {ticket.reseller_id!r}, "
            f"profile is {reseller.reseller_id!r}",
        )
    if ticket.customer_id != customer.customer_id:
        raise BusinessRuleViolation(
            "ticket_customer_mismatch",
            f"ticket {ticket.ticket_id} names customer {ticket.customer_id!r}, "
            f"got {customer.customer_id!r}",
        )
    if customer.reseller_id != reseller.reseller_id:
        raise BusinessRuleViolation(
            "customer_not_of_reseller",
            f"customer {customer.customer_id!r} belongs to {customer.reseller_id!r}, "
            f"not {reseller.reseller_id!r}",
        )


def _first_speaking(teams: tuple[Team, ...], language: str) -> tuple[Team, str] | None:
    for team in teams:
        served = matching_language(team, language)
        if served is not None:
            return team, served
    return None


def route_ticket(
    ticket: Ticket,
    reseller: ResellerProfile,
    customer: Customer,
    desk: DeskConfig,
    at: datetime,
) -> Route:
    """Route a ticket by the reseller's support mode; desk tickets by language and the rota."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    at = at.astimezone(UTC)
    _check_ownership(ticket, reseller, customer)
    requested = ticket.language or customer.language
    handling = classify(ticket.category)
    if reseller.support_mode is SupportMode.RESELLER_OWN:
        return Route(
            ticket_id=ticket.ticket_id,
            reseller_id=reseller.reseller_id,
            destination=Destination.RESELLER_QUEUE,
            queue=reseller_support_topic(reseller.reseller_id),
            handling=handling,
            requested_language=requested,
            language=requested,
            routed_at=at,
        )
    if reseller.brand is None:
        # Without a brand the desk would answer as the distributor; refuse instead.
        raise BusinessRuleViolation(
            "brand_missing",
            f"reseller {reseller.reseller_id!r} outsources support but has no brand",
        )
    staffed = any(speaks(team, requested) for team in desk.teams)
    on_duty = teams_on_duty(desk, at)
    chosen = _first_speaking(on_duty, requested)
    fallback: FallbackReason | None = None
    if chosen is None and on_duty:
        fallback = (
            FallbackReason.LANGUAGE_OFF_DUTY if staffed else FallbackReason.LANGUAGE_NOT_STAFFED
        )
        chosen = _first_speaking(on_duty, desk.default_language)
    elif chosen is None and not staffed:
        fallback = FallbackReason.LANGUAGE_NOT_STAFFED
    if chosen is not None:
        team_id: str | None = chosen[0].team_id
        language = chosen[1]
        queue = desk_queue(chosen[0].team_id, language)
    else:
        # Nobody on duty at all (a holiday hole in the rota): overflow, not a dropped ticket.
        team_id = None
        language = desk.default_language if fallback else requested
        queue = desk.overflow_queue
    return Route(
        ticket_id=ticket.ticket_id,
        reseller_id=reseller.reseller_id,
        destination=Destination.DISTRIBUTOR_DESK,
        queue=queue,
        handling=handling,
        requested_language=requested,
        language=language,
        language_fallback=fallback is not None,
        fallback_reason=fallback,
        team_id=team_id,
        coverage_gap=not on_duty,
        brand=reseller.brand,
        routed_at=at,
    )
