"""The support ticket as the rules see it, validated once at intake."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.enums import Severity, TicketCategory

LANGUAGE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"


class Channel(StrEnum):
    """How the customer reached the reseller's system."""

    EMAIL = "email"
    PORTAL = "portal"
    PHONE = "phone"
    CHAT = "chat"
    API = "api"


class Ticket(BaseModel):
    """A support ticket opened by a reseller's end customer."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    reseller_id: str = Field(min_length=1, max_length=64)
    customer_id: str = Field(min_length=1, max_length=64)
    subscription_id: str | None = Field(default=None, min_length=1, max_length=64)
    product: str | None = Field(default=None, min_length=1, max_length=200)
    category: TicketCategory
    severity: Severity
    # None means "use the customer's profile language".
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN)
    description: str = Field(min_length=1, max_length=20_000)
    channel: Channel
    opened_at: AwareDatetime
    service: str | None = Field(default=None, min_length=1, max_length=100)
    region: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("opened_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _names_what_is_affected(self) -> Self:
        if self.subscription_id is None and self.product is None:
            raise ValueError("a ticket names a subscription_id or a product")
        return self
