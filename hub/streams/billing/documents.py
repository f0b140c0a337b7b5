"""Contract events from billing's domain results: rated lines, invoices, dunning, mismatches.

Every event derives its id from the event that caused it (``caused_by``), and its time from
that event's time, so a replay of the same inputs produces byte-identical events.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from hub.domain.collections import DunningNotice, DunningStage
from hub.domain.enums import BillingMode, ChargeType
from hub.domain.invoicing import Invoice, InvoiceKind, line_description
from hub.domain.rating import RatedLine
from hub.domain.reconciliation import Difference, ReconciliationMismatch
from hub.domain.reference import Brand
from hub.domain.revenue import RevenueSchedule
from hub.domain.tax import TaxRule, TaxTreatment
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events import billing as b

_MISMATCH_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hub:billing:mismatch")


_REFUNDED = {ChargeType.CANCEL_IMMEDIATE, ChargeType.CUSTOMER_CREDIT}

STAGE_NAMES: dict[DunningStage, b.DunningStage] = {
    DunningStage.REMINDER: "reminder",
    DunningStage.FINAL_NOTICE: "final_notice",
    DunningStage.CREDIT_HOLD: "credit_hold",
}


def envelope(cause: Event, kind: str, *parts: object) -> dict[str, Any]:
    """The envelope of an event derived from ``cause``: id and time from it, so a replay of the
    same inputs gives the same event."""
    return {**caused_by(cause, kind, *parts), "event_time": cause.event_time}


def charge_rated(cause: Event, line: RatedLine) -> b.ChargeRated:
    """``quantity`` is negative for refunds and credits, as the contract says: a cancellation,
    a credit, or the refund line of a seat change (whatever its charge type)."""
    refund = line.charge_type in _REFUNDED or line.cost_minor < 0 or line.price_minor < 0
    sign = -1 if refund else 1
    return b.ChargeRated.model_validate(
        {
            **envelope(cause, "ChargeRated", line.line_id),
            "reseller_id": line.reseller_id,
            "charge_id": line.line_id,
            "customer_id": line.customer_id,
            "subscription_id": line.subscription_id,
            "charge_type": line.charge_type,
            "product_id": line.product_id,
            "sku_id": line.sku_id,
            "product_kind": line.kind,
            "billing_cycle": line.billing_cycle,
            "quantity": sign * line.quantity,
            "period_start": line.period_start,
            "period_end": line.period_end,
            "cost_minor": line.cost_minor,
            "price_minor": line.price_minor,
            "currency": line.currency,
        }
    )


def _tax_label(rule: TaxRule, rate_bps: int, treatment: TaxTreatment) -> str:
    if treatment is not TaxTreatment.STANDARD:
        return f"{rule.name} {treatment.value}"
    percent = (Decimal(rate_bps) / 100).normalize()  # 1900 -> 19, 290 -> 2.9; never a float
    return f"{rule.name} {percent:f}%"


def document(
    cause: Event,
    invoice: Invoice,
    *,
    reseller_id: str,
    issuer: b.Party,
    recipient: b.Party,
    billing_mode: BillingMode,
    brand: Brand | None,
    language: str,
    tax_rule: TaxRule,
) -> b.InvoiceIssued | b.CreditNoteIssued:
    """An invoice as ``InvoiceIssued``; a negative one as ``CreditNoteIssued`` with its amounts
    turned positive (the contract's credit note states what is owed back)."""
    credit = invoice.kind is InvoiceKind.CREDIT_NOTE
    sign = -1 if credit else 1
    lines = tuple(
        b.InvoiceLine(
            line_id=ln.line_id,
            description=line_description(ln, language),
            customer_id=ln.customer_id,
            subscription_id=ln.subscription_id,
            charge_type=ln.charge_type,
            product_kind=ln.kind,
            product_id=ln.product_id,
            quantity=ln.quantity,
            unit_price_minor=ln.unit_price_minor,
            amount_minor=sign * ln.amount_minor,
            tax_rate_bps=ln.tax_rate_bps,
            period_start=ln.period_start,
            period_end=ln.period_end,
        )
        for ln in invoice.lines
    )
    taxes = tuple(
        b.TaxAmount(
            rate_bps=t.rate_bps,
            taxable_minor=sign * t.taxable_minor,
            tax_minor=sign * t.tax_minor,
            label=_tax_label(tax_rule, t.rate_bps, t.treatment),
        )
        for t in invoice.tax_summary
    )
    common: dict[str, Any] = {
        **envelope(cause, invoice.kind.value, invoice.invoice_id),
        "reseller_id": reseller_id,
        "number": invoice.number,
        "issuer": issuer,
        "recipient": recipient,
        "issued_on": invoice.issue_date,
        "currency": invoice.currency,
        "billing_mode": billing_mode,
        "brand": brand if billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL else None,
        "lines": lines,
        "taxes": taxes,
        "subtotal_minor": sign * invoice.subtotal_minor,
        "tax_minor": sign * invoice.tax_minor,
        "total_minor": sign * invoice.total_minor,
    }
    if credit:
        return b.CreditNoteIssued.model_validate(
            {
                **common,
                "credit_note_id": invoice.invoice_id,
                "reason": "refunds and credits exceed the charges of the period",
            }
        )
    return b.InvoiceIssued.model_validate(
        {**common, "invoice_id": invoice.invoice_id, "due_date": invoice.due_date}
    )


def revenue_recognised(
    cause: Event,
    reseller_id: str,
    customer_id: str,
    subscription_id: str,
    schedule: RevenueSchedule,
    period: str,
) -> b.RevenueRecognised | None:
    """The schedule's entry for ``period``, or None when the schedule has none that month."""
    amount = sum(e.amount_minor for e in schedule.entries if e.period == period)
    if not any(e.period == period for e in schedule.entries):
        return None
    to_date = sum(e.amount_minor for e in schedule.entries if e.period <= period)
    return b.RevenueRecognised.model_validate(
        {
            **envelope(cause, "RevenueRecognised", schedule.source_id, period),
            "reseller_id": reseller_id,
            "charge_id": schedule.source_id,
            "customer_id": customer_id,
            "subscription_id": subscription_id,
            "period": period,
            "amount_minor": amount,
            "recognised_to_date_minor": to_date,
            "charge_total_minor": schedule.total_minor,
            "currency": schedule.currency,
        }
    )


def dunning_reached(
    cause: Event,
    reseller_id: str,
    currency: str,
    stage: DunningStage,
    notices: list[DunningNotice],
) -> b.DunningStageReached:
    """One event per stage reached in one currency, naming every invoice that reached it."""
    return b.DunningStageReached.model_validate(
        {
            **envelope(cause, "DunningStageReached", currency, stage.name),
            "reseller_id": reseller_id,
            "stage": STAGE_NAMES[stage],
            "days_overdue": max(n.days_overdue for n in notices),
            "overdue_minor": sum(n.balance_minor for n in notices),
            "currency": currency,
            "invoice_ids": tuple(sorted(n.invoice_id for n in notices)),
            "credit_hold": stage is DunningStage.CREDIT_HOLD,
        }
    )


# The contract names one kind per mismatch; the most telling difference gives it.
_KIND_ORDER: tuple[tuple[Difference, b.MismatchKind, str], ...] = (
    (Difference.MISSING_IN_HUB, "missing_in_hub", "SubscriptionId"),
    (Difference.MISSING_AT_MICROSOFT, "missing_at_microsoft", "SubscriptionId"),
    (Difference.CURRENCY, "amount_differs", "Currency"),
    (Difference.UNIT_PRICE, "price_differs", "UnitPrice"),
    (Difference.QUANTITY, "quantity_differs", "Quantity"),
    (Difference.AMOUNT, "amount_differs", "Subtotal"),
)
_COLUMNS = {d: column for d, _, column in _KIND_ORDER}


def mismatch_id(reseller_id: str, period: str, m: ReconciliationMismatch) -> str:
    key = "|".join(
        (
            reseller_id,
            period,
            m.subscription_id,
            m.charge_type.value,
            m.charge_start.isoformat(),
            m.charge_end.isoformat(),
        )
    )
    return str(uuid.uuid5(_MISMATCH_NAMESPACE, key))


def mismatch_event(
    cause: Event, reseller_id: str, period: str, m: ReconciliationMismatch
) -> b.ReconciliationMismatch:
    """One event per differing match key; ``field`` lists every column that differs."""
    kind, primary = next((k, d) for d, k, _ in _KIND_ORDER if d in m.differences)
    expected = actual = None
    difference: int | None = None
    currency: str | None = None
    if m.hub is not None and m.microsoft is not None:
        currency = m.hub.currency if m.hub.currency == m.microsoft.currency else None
        if primary is Difference.UNIT_PRICE:
            expected, actual = str(m.hub.unit_price), str(m.microsoft.unit_price)
        elif primary is Difference.QUANTITY:
            expected, actual = str(m.hub.quantity), str(m.microsoft.quantity)
        elif primary is Difference.CURRENCY:
            expected, actual = m.hub.currency, m.microsoft.currency
        else:
            expected, actual = str(m.hub.amount_minor), str(m.microsoft.amount_minor)
        if currency is not None:
            difference = m.microsoft.amount_minor - m.hub.amount_minor
    mid = mismatch_id(reseller_id, period, m)
    return b.ReconciliationMismatch.model_validate(
        {
            **envelope(cause, "ReconciliationMismatch", mid),
            "reseller_id": reseller_id,
            "mismatch_id": mid,
            "kind": kind,
            "subscription_id": m.subscription_id,
            "charge_type": m.charge_type,
            "field": ",".join(_COLUMNS[d] for d in m.differences),
            "expected": expected,
            "actual": actual,
            "difference_minor": difference,
            "currency": currency,
        }
    )


def fanned_out(cause: b.BillingRunRequested, reseller_id: str) -> b.BillingRunRequested:
    """The run for one reseller, derived from a run for all of them."""
    return b.BillingRunRequested.model_validate(
        {
            **cause.model_dump(),
            **envelope(cause, "BillingRunRequested", reseller_id),
            "reseller_id": reseller_id,
        }
    )


def day_after(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)
