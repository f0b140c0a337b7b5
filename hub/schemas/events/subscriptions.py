"""Subscription lifecycle events: change requests and their outcomes."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from hub.domain.enums import SubscriptionStatus
from hub.schemas.envelope import Event
from hub.schemas.types import (
    Currency,
    Identifier,
    NonNegative,
    Quantity,
    ResellerId,
    Text,
    UtcDatetime,
)

ChangeKind = Literal["change_quantity", "suspend", "reactivate", "cancel", "set_auto_renew"]


class SubscriptionChangeRequested(Event):
    """A reseller asks to change a subscription of one of its customers."""

    reseller_id: ResellerId
    change_id: Identifier = Field(description="the reseller's id; a retry reuses it")
    customer_id: Identifier
    subscription_id: Identifier
    kind: ChangeKind
    new_quantity: Quantity | None = Field(default=None, description="for change_quantity")
    auto_renew: bool | None = Field(default=None, description="for set_auto_renew")
    requested_at: UtcDatetime

    @model_validator(mode="after")
    def _arguments_fit_kind(self) -> Self:
        if self.kind == "change_quantity" and self.new_quantity is None:
            raise ValueError("new_quantity is required when kind is 'change_quantity'")
        if self.kind == "set_auto_renew" and self.auto_renew is None:
            raise ValueError("auto_renew is required when kind is 'set_auto_renew'")
        return self


class SubscriptionChanged(Event):
    """Microsoft applied a change; a refund is the prorated amount of a cancel or reduction."""

    reseller_id: ResellerId
    change_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    kind: ChangeKind
    effective_at: UtcDatetime
    old_quantity: NonNegative
    new_quantity: NonNegative
    status: SubscriptionStatus
    auto_renew: bool
    refund_minor: NonNegative = 0
    currency: Currency


class SubscriptionChangeRejected(Event):
    """The change was refused (7-day window passed, not allowed in this status, ...)."""

    reseller_id: ResellerId
    change_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    kind: ChangeKind
    code: Identifier = Field(description="e.g. cancellation_window_passed")
    message: Text


EVENTS: tuple[type[Event], ...] = (
    SubscriptionChangeRequested,
    SubscriptionChanged,
    SubscriptionChangeRejected,
)
