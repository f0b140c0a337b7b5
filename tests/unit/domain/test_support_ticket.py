"""The ticket model refuses what the rules could not work with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from hub.domain.enums import Severity, TicketCategory
from hub.domain.support.ticket import Channel, Ticket


def fields(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ticket_id": "T-1",
        "reseller_id": "contoso",
        "customer_id": "cust-1",
        "subscription_id": "sub-1",
        "category": "bug",
        "severity": "critical",
        "description": "Teams crashes on join",
        "channel": "chat",
        "opened_at": datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
    }
    base.update(kw)
    return base


def test_wire_values_parse_into_enums() -> None:
    t = Ticket(**fields())
    assert t.category is TicketCategory.BUG
    assert t.severity is Severity.CRITICAL
    assert t.channel is Channel.CHAT
    assert t.language is None


def test_opened_at_is_normalised_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    t = Ticket(**fields(opened_at=datetime(2025, 1, 1, 21, 0, tzinfo=tokyo)))
    assert t.opened_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert t.opened_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"opened_at": datetime(2025, 1, 1, 12, 0)}, "timezone"),
        ({"subscription_id": None}, "subscription_id or a product"),
        ({"language": "german"}, "pattern"),
        ({"category": "printer_on_fire"}, "category"),
        ({"severity": "A"}, "severity"),
        ({"description": ""}, "description"),
        ({"ticket_id": "has space"}, "ticket_id"),
    ],
)
def test_invalid_ticket_is_rejected_naming_the_problem(
    override: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Ticket(**fields(**override))


def test_product_alone_is_enough() -> None:
    assert Ticket(**fields(subscription_id=None, product="Teams")).product == "Teams"
