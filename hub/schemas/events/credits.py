"""Service credit events: Microsoft's approval to the distributor and the pass-through."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import BillingMode
from hub.schemas.envelope import Event
from hub.schemas.types import (
    Currency,
    DecimalText,
    Identifier,
    NonNegative,
    Quantity,
    ResellerId,
    UtcDatetime,
)


class CustomerCreditAmount(BaseModel):
    """An amount Microsoft attributed to one customer tenant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: Identifier
    amount_minor: NonNegative


class FxRate(BaseModel):
    """A stated exchange rate from the approval's currency to a customer's billing currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: Currency = Field(description="the customer's billing currency")
    rate: DecimalText = Field(
        description="units of the customer's currency per 1 unit of the approval's currency"
    )
    rate_date: date = Field(description="the day the rate was fixed")

    @model_validator(mode="after")
    def _positive(self) -> Self:
        if Decimal(self.rate) <= 0:
            raise ValueError(f"rate for {self.currency} must be > 0, got {self.rate}")
        return self


class ServiceCreditApproved(Event):
    """Microsoft approved a service credit to the distributor for an incident.

    Either a fixed ``amount_minor`` or a ``percentage_tier`` of the affected fees (or both);
    when per-customer amounts are given they sum to ``amount_minor``. v2 adds ``fx_rates``:
    customers billed in a listed currency are credited at that rate, others in a currency
    other than the approval's are excluded (``no_fx_rate``).
    """

    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")
    credit_id: Identifier
    incident_id: Identifier = Field(description="Microsoft's incident id, e.g. EX25194")
    service: Identifier
    region: str | None = None
    window_start: UtcDatetime
    window_end: UtcDatetime
    amount_minor: NonNegative | None = None
    percentage_tier: int | None = Field(default=None, ge=1, le=100, description="SLA tier, %")
    currency: Currency
    customer_amounts: tuple[CustomerCreditAmount, ...] = ()
    fx_rates: tuple[FxRate, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        currencies = [r.currency for r in self.fx_rates]
        if len(set(currencies)) != len(currencies):
            raise ValueError(f"fx_rates name a currency twice: {currencies}")
        if self.currency in currencies:
            raise ValueError(f"fx_rates must not list the approval's own currency {self.currency}")
        if self.amount_minor is None and self.percentage_tier is None:
            raise ValueError("give amount_minor or percentage_tier (or both)")
        if self.customer_amounts and self.amount_minor is not None:
            total = sum(c.amount_minor for c in self.customer_amounts)
            if total != self.amount_minor:
                raise ValueError(
                    f"customer_amounts sum to {total}, not amount_minor {self.amount_minor}"
                )
        return self


class ServiceCreditAllocated(Event):
    """One customer's share of an approved credit, to land on the right invoice."""

    reseller_id: ResellerId
    credit_id: Identifier
    allocation_id: Identifier = Field(description="deterministic: replays allocate nothing twice")
    incident_id: Identifier
    customer_id: Identifier
    subscription_id: str | None = None
    amount_minor: NonNegative
    basis_fee_minor: NonNegative = Field(description="the monthly fee the share was taken from")
    percentage_tier: int | None = Field(default=None, ge=1, le=100)
    currency: Currency
    billing_mode: BillingMode


class CreditAllocationLine(BaseModel):
    """Why one subscription got its share: its fee, the days hit, the rate, both amounts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscription_id: Identifier
    customer_id: Identifier
    reseller_id: ResellerId
    monthly_fee_minor: NonNegative = Field(description="the cap, in the customer's currency")
    customer_currency: Currency
    affected_days: NonNegative
    days_in_month: NonNegative
    rate_to_distributor: DecimalText = Field(description="distributor units per customer unit")
    amount_minor: NonNegative = Field(description="in the approval's currency")
    customer_amount_minor: NonNegative = Field(description="in the customer's currency")


class CreditExclusion(BaseModel):
    """An affected subscription that could not be credited, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscription_id: Identifier
    customer_id: Identifier
    reseller_id: ResellerId
    reason: Identifier = Field(description="e.g. no_fx_rate")


class ServiceCreditAllocationReported(Event):
    """The audit record of one approval's allocation, in ``parts`` events of bounded size.

    Every part repeats the totals; ``approved_minor == allocated_minor + remainder_minor``.
    """

    credit_id: Identifier
    incident_id: Identifier
    service: Identifier
    currency: Currency
    approved_minor: NonNegative
    allocated_minor: NonNegative
    remainder_minor: NonNegative
    remainder_reason: Identifier = Field(description="none, caps_reached, no_eligible_fees")
    basis: Identifier = Field(description="fee_x_days, full_fee, percentage, per_customer")
    percentage_tier: int | None = Field(default=None, ge=1, le=100)
    fx_difference_minor: DecimalText = Field(description="conversion rounding, approval currency")
    affected_count: NonNegative
    allocation_count: NonNegative
    part: NonNegative
    parts: Quantity
    lines: tuple[CreditAllocationLine, ...] = ()
    excluded: tuple[CreditExclusion, ...] = ()


EVENTS: tuple[type[Event], ...] = (
    ServiceCreditApproved,
    ServiceCreditAllocated,
    ServiceCreditAllocationReported,
)
