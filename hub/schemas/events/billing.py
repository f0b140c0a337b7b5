"""Billing events: Microsoft's reconciliation lines, rated charges, invoices, payments, dunning."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import BillingCycle, BillingMode, ChargeType, ProductKind
from hub.domain.money import Money
from hub.domain.reference import Brand
from hub.schemas.envelope import Event
from hub.schemas.types import (
    Currency,
    DecimalText,
    Identifier,
    NonNegative,
    ResellerId,
    Text,
    UtcDatetime,
)


class ReconciliationLineReceived(Event):
    """One Partner Center reconciliation line (billed or unbilled), columns as Microsoft sends.

    Amounts stay the decimal text Microsoft wrote; ``*_minor`` are the same amounts in minor
    units of ``currency``. ``reseller_id`` is null when ``ResellerMpnId`` maps to no reseller.
    """

    source_id: Identifier = Field(description="invoice id or 'unbilled:<period>'")
    line_number: NonNegative
    partner_id: Identifier = Field(description="PartnerId")
    customer_id: Identifier = Field(description="CustomerId")
    customer_name: str = Field(default="", description="CustomerName")
    customer_country: str = Field(default="", description="CustomerCountry")
    invoice_number: str | None = Field(default=None, description="InvoiceNumber")
    mpn_id: str | None = Field(default=None, description="MpnId")
    reseller_mpn_id: str | None = Field(default=None, description="ResellerMpnId")
    order_id: str | None = Field(default=None, description="OrderId")
    order_date: date | None = Field(default=None, description="OrderDate")
    subscription_id: str | None = Field(default=None, description="SubscriptionId")
    product_id: Identifier = Field(description="ProductId")
    sku_id: Identifier = Field(description="SkuId")
    availability_id: str | None = Field(default=None, description="AvailabilityId")
    product_name: str = Field(default="", description="ProductName")
    sku_name: str = Field(default="", description="SkuName")
    charge_type: ChargeType = Field(description="ChargeType")
    unit_price: DecimalText = Field(description="UnitPrice")
    effective_unit_price: DecimalText = Field(description="EffectiveUnitPrice")
    quantity: int = Field(description="Quantity")
    billable_quantity: DecimalText = Field(description="BillableQuantity")
    subtotal: DecimalText = Field(description="Subtotal")
    tax_total: DecimalText = Field(description="TaxTotal")
    total: DecimalText = Field(description="Total")
    currency: Currency = Field(description="Currency")
    pricing_currency: str | None = Field(default=None, description="PricingCurrency")
    pc_to_bc_exchange_rate: DecimalText | None = Field(
        default=None, description="PCToBCExchangeRate"
    )
    charge_start_date: date = Field(description="ChargeStartDate")
    charge_end_date: date = Field(description="ChargeEndDate")
    term_and_billing_cycle: str = Field(default="", description="TermAndBillingCycle")
    billing_frequency: str = Field(default="", description="BillingFrequency")
    credit_reason_code: str | None = Field(default=None, description="CreditReasonCode")
    subtotal_minor: int
    tax_total_minor: int
    total_minor: int

    @model_validator(mode="after")
    def _minor_units_match_text(self) -> Self:
        for name in ("subtotal", "tax_total", "total"):
            text = getattr(self, name)
            minor = getattr(self, f"{name}_minor")
            expected = Money.from_decimal(Decimal(text), self.currency).minor
            if minor != expected:
                raise ValueError(
                    f"{name}_minor {minor} does not match {name} {text!r} {self.currency} "
                    f"(expected {expected})"
                )
        return self


class ChargeRated(Event):
    """A charge priced for the reseller: Microsoft's cost and the reseller's price, per period."""

    reseller_id: ResellerId
    charge_id: Identifier = Field(description="deterministic: replays rate the same charge id")
    customer_id: Identifier
    subscription_id: Identifier
    charge_type: ChargeType
    product_id: Identifier
    sku_id: Identifier
    product_kind: ProductKind
    billing_cycle: BillingCycle
    quantity: int = Field(description="negative for removeQuantity and credits")
    period_start: date
    period_end: date
    cost_minor: int
    price_minor: int
    currency: Currency
    source_line_id: str | None = Field(default=None, description="reconciliation line it came from")


class Party(BaseModel):
    """Issuer or recipient of an invoice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    party_id: Identifier
    name: Text
    country: str = Field(pattern=r"^[A-Z]{2}$")
    tax_id: str | None = None
    address: str | None = None


class InvoiceLine(BaseModel):
    """One invoice line; ``amount_minor`` is before tax."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: Identifier
    description: Text
    customer_id: str | None = None
    subscription_id: str | None = None
    charge_type: ChargeType | None = None
    product_kind: ProductKind
    product_id: str | None = Field(
        default=None,
        description="Microsoft's product id (v2; DZH318Z0BPS6 is the Azure plan's consumption)",
    )
    quantity: int
    unit_price_minor: int
    amount_minor: int
    tax_rate_bps: NonNegative = Field(description="tax rate in basis points, 1900 = 19%")
    period_start: date | None = None
    period_end: date | None = None


class TaxAmount(BaseModel):
    """Tax at one rate over the lines taxed at that rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_bps: NonNegative
    taxable_minor: int
    tax_minor: int
    label: str = Field(default="", description="e.g. 'VAT 19%'")


class _Document(Event):
    """Fields shared by invoices and credit notes, with their sums checked."""

    reseller_id: ResellerId
    number: Identifier
    issuer: Party
    recipient: Party
    issued_on: date
    currency: Currency
    billing_mode: BillingMode
    brand: Brand | None = Field(default=None, description="the reseller's brand when white-label")
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    taxes: tuple[TaxAmount, ...] = ()
    subtotal_minor: int
    tax_minor: int
    total_minor: int

    @model_validator(mode="after")
    def _sums(self) -> Self:
        subtotal = sum(line.amount_minor for line in self.lines)
        tax = sum(t.tax_minor for t in self.taxes)
        if self.subtotal_minor != subtotal:
            raise ValueError(f"subtotal_minor {self.subtotal_minor} != sum of lines {subtotal}")
        if self.tax_minor != tax:
            raise ValueError(f"tax_minor {self.tax_minor} != sum of taxes {tax}")
        if self.total_minor != subtotal + tax:
            raise ValueError(f"total_minor {self.total_minor} != subtotal + tax {subtotal + tax}")
        if self.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL and self.brand is None:
            raise ValueError("a white-label document needs the reseller's brand")
        return self


class InvoiceIssued(_Document):
    """An invoice to a reseller, or to an end customer in the reseller's name (white-label)."""

    invoice_id: Identifier
    due_date: date
    # v2: each line names its product (consumption lines are the Azure plan's).
    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")


class CreditNoteIssued(_Document):
    """A credit note (amounts positive, meaning owed back), e.g. a refund or a service credit."""

    credit_note_id: Identifier
    invoice_id: str | None = Field(default=None, description="the invoice it corrects, if any")
    reason: Text
    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")


PaymentMethod = Literal["bank_transfer", "card", "direct_debit", "other"]


class PaymentReceived(Event):
    """A reseller (or white-labelled customer) paid; ``invoice_ids`` are what it settles."""

    reseller_id: ResellerId
    payment_id: Identifier
    amount_minor: int = Field(gt=0)
    currency: Currency
    received_at: UtcDatetime
    method: PaymentMethod
    reference: str | None = None
    invoice_ids: tuple[str, ...] = ()


class RevenueRecognised(Event):
    """The part of a charge earned in one month (an annual charge is recognised monthly)."""

    reseller_id: ResellerId
    charge_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    period: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    amount_minor: int
    recognised_to_date_minor: int
    charge_total_minor: int
    currency: Currency


DunningStage = Literal["reminder", "first_notice", "final_notice", "credit_hold", "collections"]


class DunningStageReached(Event):
    """A reseller's overdue receivables reached a dunning stage; credit_hold feeds orders."""

    reseller_id: ResellerId
    stage: DunningStage
    days_overdue: NonNegative
    overdue_minor: int = Field(gt=0)
    currency: Currency
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    credit_hold: bool


MismatchKind = Literal[
    "missing_in_hub",
    "missing_at_microsoft",
    "amount_differs",
    "quantity_differs",
    "price_differs",
    "charge_type_differs",
]


class ReconciliationMismatch(Event):
    """Microsoft's reconciliation line and the hub's expectation differ."""

    mismatch_id: Identifier
    kind: MismatchKind
    customer_id: str | None = None
    subscription_id: str | None = None
    order_id: str | None = None
    charge_type: ChargeType | None = None
    field: str | None = Field(default=None, description="which column differs")
    expected: str | None = Field(default=None, description="the hub's value, as text")
    actual: str | None = Field(default=None, description="Microsoft's value, as text")
    difference_minor: int | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _amount_has_currency(self) -> Self:
        if self.difference_minor is not None and self.currency is None:
            raise ValueError("difference_minor needs a currency")
        return self


BillingRun = Literal["close", "dunning", "reconcile"]


class BillingRunRequested(Event):
    """Finance asks for a billing run: close a month, assess dunning, or reconcile a month.

    Month end is this command, never the wall clock. Without ``reseller_id`` it is for every
    reseller (the billing flow fans it out, one per reseller, keyed by reseller id).
    """

    run: BillingRun
    period: str | None = Field(
        default=None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, close/reconcile"
    )
    as_of: date = Field(description="the business day of the run: issue date, dunning date")
    requested_by: str = Field(default="ops", description="who asked (a person or a job)")

    @model_validator(mode="after")
    def _period_for_month_runs(self) -> Self:
        if self.run in ("close", "reconcile") and self.period is None:
            raise ValueError(f"a {self.run} run needs a period (YYYY-MM)")
        return self


BillingRunPhase = Literal["cycle", "invoice", "revenue", "dunning"]
_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class BillingRunContinued(Event):
    """A reseller's month-end close goes on from where its last page stopped.

    The billing flow sends it to itself on ``hub.billing.inputs`` (keyed by reseller): a close
    cycles, invoices and recognises a bounded page per message, so no message's work grows with
    the reseller's size and other messages of the partition run between pages.
    """

    reseller_id: ResellerId
    run_event_id: str = Field(description="event_id of the reseller's BillingRunRequested")
    period: str = Field(pattern=_PERIOD, description="YYYY-MM")
    phase: BillingRunPhase
    after: str = Field(default="", description="the last key the previous page handled")
    pages: int = Field(ge=1, description="pages of this close done so far")


class CurrencyTotal(BaseModel):
    """Invoiced and credited amounts of one currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: Currency
    invoiced_minor: NonNegative
    credited_minor: NonNegative


class BillingRunCompleted(Event):
    """A reseller's close is done: what it rated and issued (finance; ``--wait`` follows it)."""

    reseller_id: ResellerId
    run_event_id: str = Field(description="event_id of the reseller's BillingRunRequested")
    period: str = Field(pattern=_PERIOD, description="YYYY-MM")
    pages: int = Field(ge=1)
    subscriptions_cycled: NonNegative
    charges_rated: NonNegative
    invoices_issued: NonNegative
    credit_notes_issued: NonNegative
    totals: tuple[CurrencyTotal, ...] = ()
    already_closed_by: str | None = Field(
        default=None, description="the run that had closed this month: this one issued nothing"
    )


EVENTS: tuple[type[Event], ...] = (
    ReconciliationLineReceived,
    ChargeRated,
    InvoiceIssued,
    CreditNoteIssued,
    PaymentReceived,
    RevenueRecognised,
    DunningStageReached,
    ReconciliationMismatch,
    BillingRunRequested,
    BillingRunContinued,
    BillingRunCompleted,
)
