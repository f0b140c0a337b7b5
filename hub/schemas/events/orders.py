"""Order flow events: request, credit check outcome, provisioning at Microsoft."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import BillingCycle, Term
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


class OrderLine(BaseModel):
    """One catalogue item ordered: Partner Center's cart line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    quantity: Quantity
    term: Term = Field(description="termDuration: P1M, P1Y or P3Y")
    billing_cycle: BillingCycle


class OrderRequested(Event):
    """A reseller asks for new subscriptions for one of its customers."""

    reseller_id: ResellerId
    order_id: Identifier = Field(description="the reseller's id; a retry reuses it")
    customer_id: Identifier
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=50)
    requested_at: UtcDatetime


class OrderAccepted(Event):
    """The order passed validation and the credit check and goes to Microsoft."""

    reseller_id: ResellerId
    order_id: Identifier
    customer_id: Identifier
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=50)
    commitment_minor: NonNegative = Field(description="the new commitment the credit check saw")
    currency: Currency
    requested_at: UtcDatetime | None = Field(
        default=None,
        description="the request's time (v2), which prices its lines; v1 decisions have none",
    )
    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")


HoldReason = Literal["over_credit_limit", "reseller_on_credit_hold", "manual_review"]


class OrderHeld(Event):
    """The order waits for finance review; the exposure numbers show why."""

    reseller_id: ResellerId
    order_id: Identifier
    customer_id: Identifier
    reason_code: HoldReason
    message: Text
    credit_limit_minor: NonNegative
    open_receivables_minor: int
    order_commitment_minor: NonNegative
    exposure_minor: int = Field(description="open receivables plus this order's commitment")
    currency: Currency

    @model_validator(mode="after")
    def _exposure_adds_up(self) -> Self:
        expected = self.open_receivables_minor + self.order_commitment_minor
        if self.exposure_minor != expected:
            raise ValueError(
                f"exposure_minor {self.exposure_minor} must equal open_receivables_minor + "
                f"order_commitment_minor = {expected}"
            )
        return self


class RejectionReason(BaseModel):
    """Why an order was refused, precise enough for the reseller's developer to fix it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Identifier = Field(description="e.g. unknown_customer, CatalogItemIdIsNotValid")
    field: str | None = Field(default=None, description="path of the offending field")
    value: str | None = Field(default=None, description="the offending value, as text")
    message: Text


class OrderRejected(Event):
    """The order was refused; nothing was sent to Microsoft."""

    reseller_id: ResellerId
    order_id: Identifier
    customer_id: Identifier
    reasons: tuple[RejectionReason, ...] = Field(min_length=1)


class SubscriptionProvisioned(Event):
    """Microsoft created the subscription for one order line."""

    reseller_id: ResellerId
    order_id: Identifier
    line_index: NonNegative
    customer_id: Identifier
    subscription_id: Identifier
    microsoft_order_id: Identifier
    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    quantity: Quantity
    term: Term
    billing_cycle: BillingCycle
    term_start: date
    term_end: date
    auto_renew: bool = True
    unit_cost_minor: NonNegative = Field(description="Microsoft's price to the distributor")
    unit_price_minor: NonNegative = Field(description="the reseller's price")
    currency: Currency

    @model_validator(mode="after")
    def _term_order(self) -> Self:
        if self.term_end <= self.term_start:
            raise ValueError(f"term_end {self.term_end} must be after term_start {self.term_start}")
        return self


class ProvisioningFailed(Event):
    """Microsoft did not create the subscription; ``retriable`` says whether it will be retried."""

    reseller_id: ResellerId
    order_id: Identifier
    line_index: NonNegative
    customer_id: Identifier
    retriable: bool
    attempts: Quantity
    code: Identifier = Field(description="Partner Center's error code, e.g. 10002")
    message: Text


ReviewDecision = Literal["release", "reject"]


class OrderReviewDecided(Event):
    """Finance reviewed a held order: release it to Microsoft, or reject it (an ops command)."""

    reseller_id: ResellerId
    order_id: Identifier
    decision: ReviewDecision
    reviewer: Identifier = Field(description="who decided, for the audit trail")
    reason: Text | None = Field(default=None, description="why; required to reject")
    decided_at: UtcDatetime

    @model_validator(mode="after")
    def _reject_has_reason(self) -> Self:
        if self.decision == "reject" and self.reason is None:
            raise ValueError("a rejection needs a reason the reseller can read")
        return self


EVENTS: tuple[type[Event], ...] = (
    OrderRequested,
    OrderAccepted,
    OrderHeld,
    OrderRejected,
    SubscriptionProvisioned,
    ProvisioningFailed,
    OrderReviewDecided,
)
