"""Reconciliation: Microsoft's billing lines matched against the hub's own cost lines.

Rules from Partner Center's "Modern invoice reconciliation file" and "Recon file charge types":

- Cost is ``EffectiveUnitPrice x PCToBCExchangeRate x BillableQuantity``. ``UnitPrice`` may
  show a new list price mid-term that is not billed, so it is never compared.
- A seat change is two lines under one key (the refund of the old quantity with a negative
  EffectiveUnitPrice, and the charge for the new total). Lines under one key (subscription,
  charge type, charge start and end) are therefore compared line by line, in an order that does
  not depend on the order either side listed them; a line with no counterpart is a finding, so a
  difference inside one side (two Microsoft lines at 10.00 and 10.01 against two at 10.00) is.
- ``customerCredit`` lines (service credits, with negative amounts) are matched against the hub's
  service-credit pass-through per subscription and month, by amount.

Every key that differs becomes one ``ReconciliationMismatch`` naming each difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.domain.enums import ChargeType
from hub.domain.money import check_currency, exponent
from hub.domain.rating import RatedLine, RoundingRule

MatchKey = tuple[str, ChargeType, date, date]


class ReconciliationPolicy(BaseModel):
    """The rounding rule the hub expects Microsoft to apply and the per-line tolerance.

    The default is the documented field-table formula (``RoundingRule.UNIT_PRICE_FIRST``, see
    ``rating.RoundingRule``) with no tolerance: a line matches when its amount is exact.
    ``tolerance_minor`` allows that many minor units per line.
    """

    model_config = ConfigDict(frozen=True)

    rounding: RoundingRule = RoundingRule.UNIT_PRICE_FIRST
    tolerance_minor: int = Field(default=0, ge=0)


DEFAULT_POLICY = ReconciliationPolicy()


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def line_cost(
    effective_unit_price: Decimal,
    billable_quantity: Decimal,
    currency: str,
    *,
    exchange_rate: Decimal = Decimal(1),
    rounding: RoundingRule = RoundingRule.UNIT_PRICE_FIRST,
) -> int:
    """Microsoft's subtotal of one line in minor units of the billing ``currency``.

    ``effective_unit_price`` is in the pricing currency; ``exchange_rate`` is the line's
    PCToBCExchangeRate. ROUNDDOWN rounds toward zero, as the spreadsheet function does, so a
    refund mirrors its charge exactly.
    """
    unit = effective_unit_price * exchange_rate
    quantum = _quantum(currency)
    if rounding is RoundingRule.UNIT_PRICE_FIRST:
        total = unit.quantize(quantum, rounding=ROUND_DOWN) * billable_quantity
        # A decimal quantity (Azure rows) can leave digits past the minor unit.
        total = total.quantize(quantum, rounding=ROUND_DOWN)
    else:
        total = (unit * billable_quantity).quantize(quantum, rounding=ROUND_DOWN)
    return int(total.scaleb(exponent(currency)))


class ReconciliationLine(BaseModel):
    """One Partner Center reconciliation line, fields named as Microsoft names the columns.

    Amounts are in major units as the file has them (``12.50``); dates are charge days.
    ``effective_unit_price`` is in the pricing currency, ``pc_to_bc_exchange_rate`` converts it
    to the billing ``currency`` (1 when both are the same).
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
    quantity: Decimal = Field(alias="Quantity")
    billable_quantity: Decimal | None = Field(default=None, alias="BillableQuantity")
    subtotal: Decimal = Field(alias="Subtotal")
    tax_total: Decimal = Field(default=Decimal(0), alias="TaxTotal")
    total: Decimal | None = Field(default=None, alias="Total")
    currency: str = Field(alias="Currency")
    pricing_currency: str | None = Field(default=None, alias="PricingCurrency")
    pc_to_bc_exchange_rate: Decimal = Field(default=Decimal(1), alias="PCToBCExchangeRate")
    charge_start_date: date = Field(alias="ChargeStartDate")
    charge_end_date: date = Field(alias="ChargeEndDate")
    term_and_billing_cycle: str | None = Field(default=None, alias="TermAndBillingCycle")
    billing_frequency: str | None = Field(default=None, alias="BillingFrequency")
    credit_reason_code: str | None = Field(default=None, alias="CreditReasonCode")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @field_validator("pc_to_bc_exchange_rate", mode="before")
    @classmethod
    def _rate(cls, value: object) -> object:
        return Decimal(1) if value in (None, "") else value

    @property
    def key(self) -> MatchKey:
        return match_key(
            self.subscription_id, self.charge_type, self.charge_start_date, self.charge_end_date
        )

    def billing_unit_price(self) -> Decimal:
        """EffectiveUnitPrice in the billing currency (UnitPrice where the file has none)."""
        eup = self.unit_price if self.effective_unit_price is None else self.effective_unit_price
        return eup * self.pc_to_bc_exchange_rate

    def billed_quantity(self) -> Decimal:
        return self.quantity if self.billable_quantity is None else self.billable_quantity


def match_key(subscription_id: str, ct: ChargeType, start: date, end: date) -> MatchKey:
    """The key a line is matched under; credits are matched per subscription and month."""
    if ct is ChargeType.CUSTOMER_CREDIT:
        first = start.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return (subscription_id, ct, first, following - timedelta(days=1))
    return (subscription_id, ct, start, end)


class Difference(StrEnum):
    MISSING_AT_MICROSOFT = "missing_at_microsoft"
    MISSING_IN_HUB = "missing_in_hub"
    CURRENCY = "currency"
    QUANTITY = "quantity"
    UNIT_PRICE = "unit_price"
    AMOUNT = "amount"


class Side(BaseModel):
    """One side of a key's findings: the lines that differ, summed. Quantities are magnitudes
    (Microsoft and the hub sign refunds on different columns); the unit price is the first
    differing line's, signed, per seat for the charged days, in the billing currency."""

    model_config = ConfigDict(frozen=True)

    currency: str
    quantity: Decimal
    unit_price: Decimal
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


@dataclass(frozen=True, order=True)
class _Item:
    """One line as compared: signed unit in the billing currency, magnitude of quantity."""

    unit: Decimal
    quantity: Decimal
    amount_minor: int
    currency: str
    ref: str

    @property
    def sign(self) -> int:
        return -1 if self.amount_minor < 0 or (self.amount_minor == 0 and self.unit < 0) else 1


def _sign(value: Decimal | int) -> int:
    return -1 if value < 0 else 1


def _microsoft_item(ln: ReconciliationLine) -> _Item:
    amount = to_minor(ln.subtotal, ln.currency)
    unit = ln.billing_unit_price()
    quantity = ln.billed_quantity()
    # Refunds carry their sign on EffectiveUnitPrice (seat changes) or on Quantity (older
    # files); the subtotal's sign is the line's, whichever column carries it.
    sign = _sign(amount) if amount != 0 else _sign(unit) * _sign(quantity)
    return _Item(abs(unit) * sign, abs(quantity), amount, ln.currency, ln.order_id or "")


_SIX_PLACES = Decimal("0.000001")


def _hub_item(ln: RatedLine) -> _Item:
    sign = _sign(ln.cost_minor)
    unit = Decimal(ln.unit_cost_minor) * ln.days / ln.period_days
    unit = unit.scaleb(-exponent(ln.currency)) * sign
    if unit.as_tuple().exponent < -6:  # type: ignore[operator]
        # A prorated unit price to six places, as Microsoft writes EffectiveUnitPrice.
        unit = unit.quantize(_SIX_PLACES, rounding=ROUND_HALF_UP)
    return _Item(unit, Decimal(abs(ln.quantity)), ln.cost_minor, ln.currency, ln.line_id)


def _hub_key(ln: RatedLine) -> MatchKey:
    return match_key(ln.subscription_id, ln.charge_type, ln.period_start, ln.period_end)


def _credit_item(items: Sequence[_Item]) -> _Item:
    # Credits compare by amount only: Microsoft credits the provider per subscription, the hub
    # passes it on in its own allocation lines.
    return _Item(
        Decimal(0),
        Decimal(0),
        sum(i.amount_minor for i in items),
        items[0].currency,
        ",".join(sorted(i.ref for i in items)),
    )


def _group(items: Iterable[tuple[MatchKey, _Item]]) -> dict[MatchKey, list[_Item]]:
    groups: dict[MatchKey, list[_Item]] = {}
    for key, item in items:
        groups.setdefault(key, []).append(item)
    for key, group in groups.items():
        if key[1] is ChargeType.CUSTOMER_CREDIT:
            groups[key] = [_credit_item(group)]
        else:
            group.sort(key=lambda i: (i.unit, i.quantity, i.amount_minor, i.currency))
    return groups


_ONE = Decimal(1)


def _unit_differs(a: _Item, b: _Item) -> bool:
    # Prorated unit prices carry more digits than the minor unit (Microsoft writes six); only a
    # difference of a whole minor unit or more is a different price.
    return abs(a.unit - b.unit) >= _ONE.scaleb(-exponent(a.currency))


def _pair_differences(m: _Item, h: _Item, tolerance: int) -> list[Difference]:
    if m.currency != h.currency:
        return [Difference.CURRENCY]
    diffs: list[Difference] = []
    if m.quantity != h.quantity:
        diffs.append(Difference.QUANTITY)
    if _unit_differs(m, h):
        diffs.append(Difference.UNIT_PRICE)
    if abs(m.amount_minor - h.amount_minor) > tolerance:
        diffs.append(Difference.AMOUNT)
    return diffs


_Fits = Callable[[_Item, _Item], bool]


def _take(pool: list[_Item], m: _Item, fits: _Fits) -> _Item | None:
    for index, item in enumerate(pool):
        if fits(m, item):
            return pool.pop(index)
    return None


@dataclass
class _KeyOutcome:
    differences: set[Difference]
    microsoft: list[_Item]
    hub: list[_Item]


def _compare_key(ms: list[_Item], ours: list[_Item], tolerance: int) -> _KeyOutcome:
    """Pair lines of one key, most alike first; both lists are in canonical order already."""
    ms_left, hub_left = list(ms), list(ours)
    out = _KeyOutcome(set(), [], [])
    passes: tuple[_Fits, ...] = (
        lambda m, h: not _pair_differences(m, h, tolerance),
        lambda m, h: m.sign == h.sign and m.quantity == h.quantity,
        lambda m, h: m.sign == h.sign and not _unit_differs(m, h),
        lambda m, h: m.sign == h.sign,
        lambda m, h: True,
    )
    for fits in passes:
        for m in list(ms_left):
            h = _take(hub_left, m, fits)
            if h is None:
                continue
            ms_left.remove(m)
            diffs = _pair_differences(m, h, tolerance)
            if diffs:
                out.differences.update(diffs)
                out.microsoft.append(m)
                out.hub.append(h)
    if ms_left:
        out.differences.add(Difference.MISSING_IN_HUB)
        out.microsoft.extend(ms_left)
    if hub_left:
        out.differences.add(Difference.MISSING_AT_MICROSOFT)
        out.hub.extend(hub_left)
    return out


def _side(items: Sequence[_Item]) -> Side | None:
    if not items:
        return None
    currencies = sorted({i.currency for i in items})
    return Side(
        currency="/".join(currencies),
        quantity=sum((i.quantity for i in items), Decimal(0)),
        unit_price=items[0].unit,
        amount_minor=sum(i.amount_minor for i in items),
        line_refs=tuple(i.ref for i in items),
    )


_DIFFERENCE_ORDER = tuple(Difference)


def reconcile(
    microsoft: Iterable[ReconciliationLine],
    hub: Iterable[RatedLine],
    *,
    invoice_number: str | None = None,
    amount_tolerance_minor: int | None = None,
    policy: ReconciliationPolicy = DEFAULT_POLICY,
) -> ReconciliationResult:
    """Match Microsoft's lines to the hub's cost lines and list every difference.

    The hub's cost lines already follow ``policy.rounding`` (rating computes them with it);
    ``policy.tolerance_minor`` (or ``amount_tolerance_minor``) is allowed per line. Mismatches
    are ordered by key, and lines inside a key by value, so the result does not depend on the
    order of either input.
    """
    tolerance = policy.tolerance_minor if amount_tolerance_minor is None else amount_tolerance_minor
    ms = _group((ln.key, _microsoft_item(ln)) for ln in microsoft)
    ours = _group(
        (
            match_key(ln.subscription_id, ln.charge_type, ln.period_start, ln.period_end),
            _hub_item(ln),
        )
        for ln in hub
    )
    mismatches: list[ReconciliationMismatch] = []
    matched = 0
    for key in sorted(ms.keys() | ours.keys()):
        m, h = ms.get(key, []), ours.get(key, [])
        if not m:
            outcome = _KeyOutcome({Difference.MISSING_AT_MICROSOFT}, [], h)
        elif not h:
            outcome = _KeyOutcome({Difference.MISSING_IN_HUB}, m, [])
        else:
            outcome = _compare_key(m, h, tolerance)
        if not outcome.differences:
            matched += 1
            continue
        sid, ct, start, end = key
        mismatches.append(
            ReconciliationMismatch(
                subscription_id=sid,
                charge_type=ct,
                charge_start=start,
                charge_end=end,
                differences=tuple(d for d in _DIFFERENCE_ORDER if d in outcome.differences),
                microsoft=_side(outcome.microsoft),
                hub=_side(outcome.hub),
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


def _totals(groups: Iterable[list[_Item]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for group in groups:
        for item in group:
            totals[item.currency] = totals.get(item.currency, 0) + item.amount_minor
    return dict(sorted(totals.items()))
