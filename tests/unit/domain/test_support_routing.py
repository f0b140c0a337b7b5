"""White-label routing: the reseller's own queue, or the distributor desk wearing its brand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.domain.enums import BillingMode, Severity, SupportMode, TicketCategory
from hub.domain.reference import Brand, Customer, ResellerProfile
from hub.domain.support.rota import DeskConfig, Shift, Team, default_desk_config
from hub.domain.support.routing import (
    Destination,
    FallbackReason,
    desk_queue,
    reseller_support_topic,
    route_ticket,
)
from hub.domain.support.ticket import Channel, Ticket
from hub.domain.support.triage import Handling
from hub.errors import BusinessRuleViolation

BRAND = Brand(
    display_name="Contoso Cloud Care",
    signature="-- Contoso Support",
    reply_to="help@contoso.example",
)
WINTER_MIDDAY = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # only EMEA on duty


def reseller(mode: SupportMode, **kw: Any) -> ResellerProfile:
    fields: dict[str, Any] = {
        "reseller_id": "contoso",
        "partner_id": "1234567",
        "name": "Contoso Ltd",
        "country": "DE",
        "currency": "EUR",
        "languages": ("de", "en"),
        "billing_mode": BillingMode.DISTRIBUTOR_WHITE_LABEL,
        "support_mode": mode,
        "credit_limit_minor": 1_000_000,
        "payment_terms_days": 30,
        "brand": BRAND,
    }
    fields.update(kw)
    return ResellerProfile(**fields)


def customer(language: str = "de", **kw: Any) -> Customer:
    fields: dict[str, Any] = {
        "customer_id": "cust-1",
        "reseller_id": "contoso",
        "name": "Fabrikam GmbH",
        "country": "DE",
        "language": language,
        "currency": "EUR",
    }
    fields.update(kw)
    return Customer(**fields)


def ticket(language: str | None = None, **kw: Any) -> Ticket:
    fields: dict[str, Any] = {
        "ticket_id": "T-1",
        "reseller_id": "contoso",
        "customer_id": "cust-1",
        "product": "Microsoft 365 E3",
        "category": TicketCategory.CONFIGURATION,
        "severity": Severity.MODERATE,
        "language": language,
        "description": "Mail rules stopped working",
        "channel": Channel.PORTAL,
        "opened_at": WINTER_MIDDAY,
    }
    fields.update(kw)
    return Ticket(**fields)


def test_reseller_own_support_goes_to_the_resellers_topic_without_a_desk_brand() -> None:
    route = route_ticket(
        ticket(),
        reseller(SupportMode.RESELLER_OWN),
        customer(),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.destination is Destination.RESELLER_QUEUE
    assert route.queue == "partner.contoso.support" == reseller_support_topic("contoso")
    assert route.brand is None
    assert route.team_id is None
    assert route.language == "de"
    assert not route.language_fallback


def test_reseller_own_support_ignores_the_desk_rota() -> None:
    # Nobody on the desk works at this hour, which must not matter for the reseller's own queue.
    closed = DeskConfig(
        teams=(
            Team(
                team_id="x",
                timezone="UTC",
                languages=("en",),
                shifts=(Shift(start=time(1), end=time(2)),),
            ),
        )
    )
    route = route_ticket(
        ticket(), reseller(SupportMode.RESELLER_OWN), customer(), closed, WINTER_MIDDAY
    )
    assert route.queue == reseller_support_topic("contoso")
    assert not route.coverage_gap


def test_white_label_ticket_goes_to_the_desk_with_the_resellers_brand() -> None:
    route = route_ticket(
        ticket(),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.destination is Destination.DISTRIBUTOR_DESK
    assert route.brand == BRAND
    assert route.brand is not None
    assert route.brand.display_name == "Contoso Cloud Care"
    assert route.brand.reply_to == "help@contoso.example"
    assert route.team_id == "emea"
    assert route.queue == desk_queue("emea", "de") == "desk.emea.de"
    assert not route.language_fallback


def test_white_label_route_names_nothing_of_the_distributor_desk_to_the_customer() -> None:
    route = route_ticket(
        ticket(),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.brand is not None
    visible = " ".join(route.brand.model_dump().values()).lower()
    assert "distributor" not in visible
    assert "contoso" in visible


def test_white_label_without_a_brand_is_refused_rather_than_shown_as_the_distributor() -> None:
    # Refused when the profile is loaded; routing refuses it too should one get through.
    with pytest.raises(ValidationError, match="no brand"):
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL, brand=None)
    unbranded = reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL).model_copy(update={"brand": None})
    with pytest.raises(BusinessRuleViolation, match="brand_missing"):
        route_ticket(ticket(), unbranded, customer(), default_desk_config(), WINTER_MIDDAY)


def test_ticket_language_wins_over_the_customers_profile_language() -> None:
    route = route_ticket(
        ticket(language="fr"),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(language="de"),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.queue == "desk.emea.fr"


def test_at_night_in_europe_a_spanish_ticket_goes_to_the_americas_team() -> None:
    at = datetime(2025, 1, 15, 21, 0, tzinfo=UTC)
    route = route_ticket(
        ticket(language="es"),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        at,
    )
    assert (route.team_id, route.queue) == ("amer", "desk.amer.es")


def test_a_regional_tag_is_served_by_its_primary_language() -> None:
    at = datetime(2025, 1, 15, 21, 0, tzinfo=UTC)
    route = route_ticket(
        ticket(language="pt-BR"),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        at,
    )
    assert route.queue == "desk.amer.pt"
    assert route.requested_language == "pt-BR"
    assert not route.language_fallback


def test_japanese_ticket_in_singapore_hours_goes_to_apac() -> None:
    at = datetime(2025, 1, 15, 2, 0, tzinfo=UTC)  # 10:00 SGT
    route = route_ticket(
        ticket(language="ja"),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        at,
    )
    assert route.queue == "desk.apac.ja"


def test_language_nobody_speaks_falls_back_to_the_default_and_is_flagged() -> None:
    route = route_ticket(
        ticket(language="it"),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.language_fallback
    assert route.fallback_reason is FallbackReason.LANGUAGE_NOT_STAFFED
    assert route.language == "en"
    assert route.queue == "desk.emea.en"
    assert route.requested_language == "it"
    assert route.brand == BRAND


def test_language_whose_team_is_off_duty_falls_back_with_its_own_reason() -> None:
    # Japanese is spoken only in Singapore, which is off at 12:00 UTC.
    route = route_ticket(
        ticket(language="ja"),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.language_fallback
    assert route.fallback_reason is FallbackReason.LANGUAGE_OFF_DUTY
    assert route.queue == "desk.emea.en"


def test_holiday_hands_the_hour_to_the_backup_team() -> None:
    main = Team(
        team_id="main",
        timezone="Europe/Berlin",
        languages=("en", "de"),
        shifts=(Shift(start=time(0), end=time(0)),),
        holidays=frozenset({date(2025, 12, 25)}),
    )
    backup = Team(
        team_id="backup",
        timezone="America/New_York",
        languages=("en",),
        shifts=(Shift(start=time(0), end=time(0)),),
    )
    desk = DeskConfig(teams=(main, backup))
    xmas = datetime(2025, 12, 25, 10, 0, tzinfo=UTC)
    before = datetime(2025, 12, 24, 10, 0, tzinfo=UTC)
    wl = reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL)
    assert route_ticket(ticket(), wl, customer(), desk, before).queue == "desk.main.de"
    on_holiday = route_ticket(ticket(), wl, customer(), desk, xmas)
    assert on_holiday.queue == "desk.backup.en"
    assert on_holiday.fallback_reason is FallbackReason.LANGUAGE_OFF_DUTY


def test_nobody_on_duty_sends_the_ticket_to_overflow_instead_of_dropping_it() -> None:
    desk = DeskConfig(
        teams=(
            Team(
                team_id="day",
                timezone="UTC",
                languages=("en", "de"),
                shifts=(Shift(start=time(8), end=time(16)),),
            ),
        ),
        overflow_queue="desk.overflow",
    )
    at = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)
    route = route_ticket(
        ticket(), reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL), customer(), desk, at
    )
    assert route.queue == "desk.overflow"
    assert route.coverage_gap
    assert route.team_id is None
    assert route.language == "de"
    assert route.brand == BRAND


@pytest.mark.parametrize(
    ("tkt", "cust", "code"),
    [
        ({"reseller_id": "other"}, {}, "ticket_reseller_mismatch"),
        ({"customer_id": "cust-2"}, {}, "ticket_customer_mismatch"),
        ({}, {"reseller_id": "other"}, "customer_not_of_reseller"),
    ],
)
def test_another_resellers_ticket_or_customer_is_refused(
    tkt: dict[str, Any], cust: dict[str, Any], code: str
) -> None:
    with pytest.raises(BusinessRuleViolation) as info:
        route_ticket(
            ticket(**tkt),
            reseller(SupportMode.RESELLER_OWN),
            customer(**cust),
            default_desk_config(),
            WINTER_MIDDAY,
        )
    assert info.value.code == code


def test_route_carries_the_triage_handling() -> None:
    route = route_ticket(
        ticket(category=TicketCategory.SERVICE_NOT_ACCESSIBLE),
        reseller(SupportMode.RESELLER_OWN),
        customer(),
        default_desk_config(),
        WINTER_MIDDAY,
    )
    assert route.handling is Handling.ESCALATABLE


def test_naive_routing_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route_ticket(
            ticket(),
            reseller(SupportMode.RESELLER_OWN),
            customer(),
            default_desk_config(),
            datetime(2025, 1, 15, 12, 0),
        )


@settings(max_examples=200, deadline=None)
@given(
    naive=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)),
    language=st.sampled_from(["en", "de", "fr", "es", "pt", "ja", "it", "pt-BR"]),
)
def test_default_desk_routes_every_language_at_every_hour_to_a_team(
    naive: datetime, language: str
) -> None:
    at = naive.replace(tzinfo=UTC)
    route = route_ticket(
        ticket(language=language),
        reseller(SupportMode.DISTRIBUTOR_WHITE_LABEL),
        customer(),
        default_desk_config(),
        at,
    )
    assert route.team_id is not None
    assert not route.coverage_gap
    assert route.queue == desk_queue(route.team_id, route.language)
    assert route.language_fallback == (route.language != language.split("-")[0])
