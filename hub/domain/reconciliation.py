"""Reconciliation: Microsoft's billing lines matched against the hub's own cost lines.

Match key: subscription, charge type, charge start and end date. Every key that differs
becomes one ``ReconciliationMismatch`` naming each difference and carrying both sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.domain.enums import ChargeType
from hub.domain.money import check_currency, exponent
from hub.domain.rating import RatedLine

MatchKey = tuple[str, ChargeType, date, date]


class ReconciliationLine(BaseModel):
    """One Partner Center reconciliation line, fields named as Microsoft names the columns.

    Amounts are in major units as the file has them (``12.50``); dates are charge days.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    partner_id: str | None = Field(default=None, alias="PartnerId")
    customer_id: str | None = Field(default=None, alias="CustomerId")
    reseller_mpn_id: str | None = Field(default=None, alias="ResellerMpnId")
    order_id: str | None = Field(default=None, alias="OrderId")
    invoice_number: str | None = Field(default=None, alias="InvoiceNumber")
    subscription_id: str = Field(alias="SubscriptionId")
    product_id: str | None = Field(default=None, alias="ProductId")
    sku_id: str | None = Field(default=None, alias="SkuId")
    availability_id: str | None = Field(default=None, alias="AvailabilityId")
    charge_type: ChargeType = Field(alias="ChargeType")
    unit_price: Decimal = Field(alias="UnitPrice")
    effective_unit_price: Decimal | None = Field(default=None, alias="EffectiveUnitPrice")
    quantity: int = Field(alias="Quantity")
    billable_quantity: Decimal | None = Field(default=None, alias="BillableQuantity")
    subtotal: Decimal = Field(alias="Subtotal")
    tax_total: Decimal = Field(default=Decimal(0), alias="TaxTotal")
    total: Decimal | None = Field(default=None, alias="Total")
    currency: str = Field(alias="Currency")
    charge_start_date: date = Field(alias="ChargeStartDate")
    charge_end_date: date = Field(alias="ChargeEndDate")
    term_and_billing_cycle: str | None = Field(default=None, alias="TermAndBillingCycle")
    billing_frequency: str | None = Field(default=None, alias="BillingFrequency")
    credit_reason_code: str | None = Field(default=None, alias="CreditReasonCode")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @property
    def key(self) -> MatchKey:
        return (
            self.subscription_id,
            self.charge_type,
            self.charge_start_date,
            self.charge_end_date,
        )


class Difference(StrEnum):
    MISSING_AT_MICROSOFT = "missing_at_microsoft"
    MISSING_IN_HUB = "missing_in_hub"
    CURRENCY = "currency"
    QUANTITY = "quantity"
    UNIT_PRICE = "unit_price"
    AMOUNT = "amount"


class Side(BaseModel):
    """One side of a key, summed over its lines. Quantities compare by magnitude, since
    Microsoft and the hub may sign refunds on different columns."""

    model_config = ConfigDict(frozen=True)

    currency: str
    quantity: int
    unit_price: Decimal  # major units, per seat per billing period
    amount_minor: int
    line_refs: tuple[str, ...]


class ReconciliationMismatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    charge_type: ChargeType
    charge_start: date
    charge_end: date
    differences: tuple[Difference, ...]
    microsoft: Side | None
    hub: Side | None


class ReconciliationSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    invoice_number: str | None
    matched: int
    mismatched: int
    microsoft_total_minor: dict[str, int]
    hub_total_minor: dict[str, int]


class ReconciliationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    mismatches: tuple[ReconciliationMismatch, ...]
    summary: ReconciliationSummary


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units to minor units, half up (Microsoft's files are already at the minor unit)."""
    return int(amount.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _microsoft_sides(lines: Iterable[ReconciliationLine]) -> dict[MatchKey, Side]:
    sides: dict[MatchKey, Side] = {}
    for ln in lines:
        prior = sides.get(ln.key)
        ref = ln.order_id or ln.subscription_id
        side = Side(
            currency=ln.currency,
            quantity=abs(ln.quantity),
            unit_price=ln.unit_price,
            amount_minor=to_minor(ln.subtotal, ln.currency),
            line_refs=(ref,),
        )
        sides[ln.key] = side if prior is None else _merge(prior, side)
    return sides


def _hub_sides(lines: Iterable[RatedLine]) -> dict[MatchKey, Side]:
    sides: dict[MatchKey, Side] = {}
    for ln in lines:
        key = (ln.subscription_id, ln.charge_type, ln.period_start, ln.period_end)
        unit = Decimal(ln.unit_cost_minor).scaleb(-exponent(ln.currency))
        side = Side(
            currency=ln.currency,
            quantity=abs(ln.quantity),
            unit_price=unit,
            amount_minor=ln.cost_minor,
            line_refs=(ln.line_id,),
        )
        prior = sides.get(key)
        sides[key] = side if prior is None else _merge(prior, side)
    return sides


def _merge(a: Side, b: Side) -> Side:
    # Several lines under one key (two seat changes the same day) are compared as their sum;
    # a unit price that differs inside one side is itself a finding, kept as the first one.
    return Side(
        currency=a.currency if a.currency == b.currency else f"{a.currency}/{b.currency}",
        quantity=a.quantity + b.quantity,
        unit_price=a.unit_price,
        amount_minor=a.amount_minor + b.amount_minor,
        line_refs=(*a.line_refs, *b.line_refs),
    )


def reconcile(
    microsoft: Iterable[ReconciliationLine],
    hub: Iterable[RatedLine],
    *,
    invoice_number: str | None = None,
    amount_tolerance_minor: int = 0,
) -> ReconciliationResult:
    """Match Microsoft's lines to the hub's cost lines and list every difference.

    ``amount_tolerance_minor`` allows for Microsoft rounding a unit price down before
    multiplying; zero means exact. Mismatches are ordered by key so a rerun is identical.
    """
    ms = _microsoft_sides(microsoft)
    ours = _hub_sides(hub)
    mismatches: list[ReconciliationMismatch] = []
    matched = 0
    for key in sorted(ms.keys() | ours.keys()):
        m, h = ms.get(key), ours.get(key)
        diffs: list[Difference] = []
        if m is None:
            diffs.append(Difference.MISSING_AT_MICROSOFT)
        elif h is None:
            diffs.append(Difference.MISSING_IN_HUB)
        elif m.currency != h.currency:
            diffs.append(Difference.CURRENCY)
        else:
            if m.quantity != h.quantity:
                diffs.append(Difference.QUANTITY)
            if m.unit_price != h.unit_price:
                diffs.append(Difference.UNIT_PRICE)
            if abs(m.amount_minor - h.amount_minor) > amount_tolerance_minor:
                diffs.append(Difference.AMOUNT)
        if not diffs:
            matched += 1
            continue
        sid, ct, start, end = key
        mismatches.append(
            ReconciliationMismatch(
                subscription_id=sid,
                charge_type=ct,
                charge_start=start,
                charge_end=end,
                differences=tuple(diffs),
                microsoft=m,
                hub=h,
            )
        )
    return ReconciliationResult(
        mismatches=tuple(mismatches),
        summary=ReconciliationSummary(
            invoice_number=invoice_number,
            matched=matched,
            mismatched=len(mismatches),
            microsoft_total_minor=_totals(ms.values()),
            hub_total_minor=_totals(ours.values()),
        ),
    )


def _totals(sides: Iterable[Side]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for side in sides:
        totals[side.currency] = totals.get(side.currency, 0) + side.amount_minor
    return dict(sorted(totals.items()))
