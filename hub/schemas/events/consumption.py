"""Azure plan consumption events: daily usage in, rated usage, accruals, alerts, invoice lines.

Partner Center's daily rated usage line (``DailyRatedUsageLineItem``) is carried field for field
in ``UsageRecorded`` (snake_case of Microsoft's camelCase names; amounts as the decimal text
Microsoft wrote). Everything else is the hub's own: the rated price in the reseller's currency,
the accrual that feeds its credit exposure, budget and anomaly alerts, reconciliation findings,
and the month's summarised lines for the invoice.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.schemas.envelope import Event
from hub.schemas.types import (
    Currency,
    DecimalText,
    Identifier,
    NonNegative,
    ResellerId,
)

UsageStageName = Literal["estimate", "final", "correction"]
BudgetScope = Literal["reseller", "customer"]
UsageDifferenceKind = Literal["billed_not_rated", "quantity_differs", "cost_differs"]
ConsumptionLineKind = Literal["usage", "adjustment"]


class UsageTag(BaseModel):
    """One Azure resource tag of the usage line (``tags``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    value: str


class UsageRecorded(Event):
    """One day's usage of one meter of one Azure plan subscription, as Partner Center rated it.

    ``stage``: ``estimate`` (unbilled line, may still change), ``final`` (billed line) or
    ``correction`` (a later billed figure, with ``reason``). ``revision`` orders figures of one
    stage (an estimate revised the next day has a higher one).
    """

    reseller_id: ResellerId
    customer_id: Identifier = Field(description="customerId")
    subscription_id: Identifier = Field(description="subscriptionId (Azure plan entitlement)")
    meter_id: Identifier = Field(description="meterId")
    meter_name: str = Field(default="", description="meterName")
    meter_category: Identifier = Field(description="meterCategory")
    meter_sub_category: str = Field(default="", description="meterSubCategory")
    meter_region: str = Field(default="", description="meterRegion")
    unit_of_measure: str = Field(default="", description="unitOfMeasure")
    resource_group: str = Field(default="", description="resourceGroup")
    resource_location: str = Field(default="", description="resourceLocation")
    tags: tuple[UsageTag, ...] = Field(default=(), description="tags")
    usage_date: date = Field(description="usageDate (the day used, UTC)")
    charge_start_date: date = Field(description="chargeStartDate (billing period start)")
    charge_end_date: date = Field(description="chargeEndDate (billing period end)")
    stage: UsageStageName
    revision: NonNegative = 0
    quantity: DecimalText = Field(description="quantity (decimal)")
    unit_price: DecimalText = Field(description="unitPrice (pricing currency)")
    effective_unit_price: DecimalText = Field(description="effectiveUnitPrice (pricing currency)")
    pricing_currency: Currency = Field(description="pricingCurrency")
    pricing_pre_tax_total: DecimalText = Field(description="pricingPreTaxTotal")
    billing_currency: Currency = Field(description="billingCurrency")
    billing_pre_tax_total: DecimalText = Field(description="billingPreTaxTotal")
    pc_to_bc_exchange_rate: DecimalText = Field(description="pcToBCExchangeRate")
    pc_to_bc_exchange_rate_date: date | None = Field(
        default=None, description="pcToBCExchangeRateDate"
    )
    invoice_number: str | None = Field(default=None, description="invoiceNumber (billed only)")
    reason: str | None = Field(default=None, description="why a correction changed the figure")


class ConsumptionBudgetSet(Event):
    """A monthly consumption budget for a reseller (all its customers) or one customer."""

    reseller_id: ResellerId
    scope: BudgetScope
    customer_id: str | None = Field(default=None, description="with scope customer")
    amount_minor: int = Field(gt=0, description="per calendar month, reseller's currency")
    currency: Currency
    thresholds: tuple[int, ...] = Field(default=(50, 80, 100), description="percent of budget")


class ConsumptionMarkupSet(Event):
    """The reseller's consumption markup in basis points on Microsoft's cost (negative: a
    discount), for one meter category, or for all when ``meter_category`` is null."""

    reseller_id: ResellerId
    meter_category: str | None = None
    markup_bps: int = Field(ge=-10_000, le=100_000)


class ConsumptionCloseRequested(Event):
    """Close a reseller's consumption for a month: its summarised lines go to billing."""

    reseller_id: ResellerId
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")


class ConsumptionCloseContinued(Event):
    """The next page of a consumption close (no message's work grows with a reseller's size)."""

    reseller_id: ResellerId
    run_event_id: str
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    after: str = Field(description="the last fact key of the previous page")
    pages: NonNegative


class UsageRated(Event):
    """A usage fact as the hub now rates it: the new figure and what it moved."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    meter_id: Identifier
    meter_category: Identifier
    usage_date: date
    period: str
    stage: UsageStageName
    revision: NonNegative
    outcome: Literal["new", "replaced", "adjusted"]
    quantity: DecimalText
    cost: DecimalText = Field(description="Microsoft's cost in the reseller's currency, exact")
    price: DecimalText = Field(description="the reseller's price, exact")
    delta_minor: int = Field(description="what this figure moved the period's accrual by")
    currency: Currency


class ConsumptionAccrued(Event):
    """The reseller's accrued, not yet invoiced consumption moved: its credit exposure moves by
    ``delta_minor`` (negative once the month's consumption is invoiced)."""

    reseller_id: ResellerId
    currency: Currency
    delta_minor: int
    period: str
    cause: Literal["usage", "invoiced"]


class ConsumptionAdjusted(Event):
    """A figure changed after its period was closed: the next invoice carries the difference."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    meter_id: Identifier
    meter_category: Identifier
    usage_date: date
    period: str = Field(description="the closed period the usage belongs to")
    amount: DecimalText = Field(description="exact difference in the reseller's currency")
    currency: Currency
    reason: str


class ConsumptionBudgetThresholdReached(Event):
    """Consumption reached a threshold of a budget this month (once per threshold per month)."""

    reseller_id: ResellerId
    scope: BudgetScope
    customer_id: str | None = None
    period: str
    threshold_percent: int
    budget_minor: int
    spent_minor: int
    currency: Currency


class ConsumptionAnomalyDetected(Event):
    """A customer's day of spend is more than ``factor`` times its trailing median."""

    reseller_id: ResellerId
    customer_id: Identifier
    usage_date: date
    day_minor: int
    trailing_median_minor: DecimalText
    factor: DecimalText
    currency: Currency


class UsageMismatchFound(Event):
    """Microsoft's billed usage differs from what the hub rated for (subscription, meter, day)."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    meter_id: Identifier
    usage_date: date
    kind: UsageDifferenceKind
    expected: DecimalText | None = Field(description="the hub's figure (none: never rated)")
    billed: DecimalText = Field(description="Microsoft's billed figure")
    invoice_number: str | None = None


class ConsumptionCharged(Event):
    """One summarised consumption line of a month for the invoice: a customer's subscription's
    usage of one meter category (or the adjustments of closed months), in the reseller's
    currency; the parts of a close sum exactly to its rounded total."""

    reseller_id: ResellerId
    line_id: Identifier = Field(description="deterministic: a replayed close adds nothing")
    customer_id: Identifier
    subscription_id: Identifier
    meter_category: Identifier
    period: str
    kind: ConsumptionLineKind
    quantity: DecimalText
    amount_minor: int
    cost_minor: int = Field(description="Microsoft's cost, reseller's currency")
    currency: Currency
    reason: str | None = None


EVENTS: tuple[type[Event], ...] = (
    UsageRecorded,
    ConsumptionBudgetSet,
    ConsumptionMarkupSet,
    ConsumptionCloseRequested,
    ConsumptionCloseContinued,
    UsageRated,
    ConsumptionAccrued,
    ConsumptionAdjusted,
    ConsumptionBudgetThresholdReached,
    ConsumptionAnomalyDetected,
    UsageMismatchFound,
    ConsumptionCharged,
)
