"""Invoices and credit notes from rated lines: numbering, due dates, tax per rate, totals.

Pure: the caller keeps each issuer's last invoice number and passes it in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hub.domain.enums import BillingMode, ChargeType, ProductKind
from hub.domain.rating import RatedLine
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.tax import TaxRule, TaxTreatment, tax_line
from hub.errors import ValidationFailed

_INVOICE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hub:billing:invoice")


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str
    charge_type: ChargeType
    subscription_id: str
    customer_id: str
    product_id: str
    sku_id: str
    kind: ProductKind
    quantity: int
    unit_price_minor: int
    period_start: date
    period_end: date
    amount_minor: int
    tax_rate_bps: int
    tax_minor: int
    tax_treatment: TaxTreatment


class TaxSummary(BaseModel):
    """One row of "tax per rate": what was taxed at that rate and the tax it gave."""

    model_config = ConfigDict(frozen=True)

    jurisdiction: str
    rate_bps: int
    treatment: TaxTreatment
    taxable_minor: int
    tax_minor: int


class Invoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    invoice_id: str
    number: str
    sequence: int
    kind: InvoiceKind
    issuer_id: str
    recipient_id: str
    currency: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    lines: tuple[InvoiceLine, ...]
    tax_summary: tuple[TaxSummary, ...]
    subtotal_minor: int
    tax_minor: int
    total_minor: int


@dataclass(frozen=True)
class Distributor:
    """The distributor as the issuer of reseller-billed invoices."""

    party_id: str
    name: str
    country: str


@dataclass(frozen=True)
class Party:
    party_id: str
    name: str
    country: str


@dataclass(frozen=True)
class Issuing:
    """Who invoices whom, taxed where, in which language, under which number series."""

    issuer: Party
    recipient: Party
    tax_country: str
    tax_region: str | None
    resale_exempt: bool
    language: str
    series: str  # the key of the last number used: one continuous series each
    prefix: str  # the invoice number's prefix


def issuing(
    profile: ResellerProfile, customer: Customer | None, distributor: Distributor
) -> Issuing:
    """White-label: the reseller invoices its customer in its own name, taxed where the
    customer is, in the customer's language, in the reseller's own series. Otherwise the
    distributor invoices the reseller (resale exempt when the profile says so), in one continuous
    series per reseller account, so every series lives on its reseller's partition."""
    rid = profile.reseller_id
    if profile.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL:
        if customer is None:
            raise ValidationFailed("customer_id", None, "a white-label invoice needs its customer")
        return Issuing(
            issuer=Party(rid, profile.name, profile.country),
            recipient=Party(customer.customer_id, customer.name, customer.country),
            tax_country=customer.country,
            tax_region=customer.region,
            resale_exempt=False,
            language=customer.language,
            series=f"{rid}:white-label",
            prefix=rid.upper(),
        )
    d = distributor
    return Issuing(
        issuer=Party(d.party_id, d.name, d.country),
        recipient=Party(rid, profile.name, profile.country),
        tax_country=profile.country,
        tax_region=None,
        resale_exempt=profile.tax_exempt_resale,
        language=profile.languages[0],
        series=f"{d.party_id}:{rid}",
        prefix=f"D{d.party_id}-{rid.upper()}",
    )


def period_bounds(period: str) -> tuple[date, date]:
    """``"2026-11"`` -> (2026-11-01, 2026-11-30)."""
    try:
        year, month = (int(p) for p in period.split("-"))
        start = date(year, month, 1)
    except ValueError as exc:
        raise ValidationFailed("period", period, "must be YYYY-MM") from exc
    following = date(year + month // 12, month % 12 + 1, 1)
    return start, following - timedelta(days=1)


# Line wording per language; a language without its own wording falls back to English.
_CHARGE_WORDS: dict[str, dict[ChargeType, str]] = {
    "en": {
        ChargeType.NEW: "New subscription",
        ChargeType.RENEW: "Renewal",
        ChargeType.CYCLE_CHARGE: "Subscription fee",
        ChargeType.ADD_QUANTITY: "Seats added",
        ChargeType.REMOVE_QUANTITY: "Seats removed (refund)",
        ChargeType.CANCEL_IMMEDIATE: "Cancellation (refund)",
        ChargeType.CUSTOMER_CREDIT: "Service credit",
    },
    "de": {
        ChargeType.NEW: "Neues Abonnement",
        ChargeType.RENEW: "Verlängerung",
        ChargeType.CYCLE_CHARGE: "Abonnementgebühr",
        ChargeType.ADD_QUANTITY: "Lizenzen hinzugefügt",
        ChargeType.REMOVE_QUANTITY: "Lizenzen entfernt (Gutschrift)",
        ChargeType.CANCEL_IMMEDIATE: "Kündigung (Gutschrift)",
        ChargeType.CUSTOMER_CREDIT: "Servicegutschrift",
    },
    "fr": {
        ChargeType.NEW: "Nouvel abonnement",
        ChargeType.RENEW: "Renouvellement",
        ChargeType.CYCLE_CHARGE: "Frais d'abonnement",
        ChargeType.ADD_QUANTITY: "Licences ajoutées",
        ChargeType.REMOVE_QUANTITY: "Licences retirées (avoir)",
        ChargeType.CANCEL_IMMEDIATE: "Résiliation (avoir)",
        ChargeType.CUSTOMER_CREDIT: "Crédit de service",
    },
}


def line_description(line: InvoiceLine, language: str) -> str:
    """The line's text in ``language`` (a BCP 47 tag; its primary subtag picks the wording)."""
    words = _CHARGE_WORDS.get(language.split("-")[0], _CHARGE_WORDS["en"])
    what = words.get(line.charge_type, line.charge_type.value)
    return (
        f"{what}: {line.product_id}/{line.sku_id} x{line.quantity}, "
        f"{line.period_start.isoformat()}..{line.period_end.isoformat()}"
    )


def invoice_number(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:08d}"


def invoice_id(
    issuer_id: str, recipient_id: str, currency: str, period_start: date, line_ids: Iterable[str]
) -> str:
    """A uuid5 of the issuer, recipient, currency, period and the line ids (order-free)."""
    key = "|".join([issuer_id, recipient_id, currency, period_start.isoformat(), *sorted(line_ids)])
    return str(uuid.uuid5(_INVOICE_NAMESPACE, key))


def recipient_of(line: RatedLine, mode: BillingMode) -> str:
    """Who receives the invoice for ``line``: the reseller, or its customer under white label."""
    return line.customer_id if mode == BillingMode.DISTRIBUTOR_WHITE_LABEL else line.reseller_id


def group_by_recipient(lines: Iterable[RatedLine], mode: BillingMode) -> dict[str, list[RatedLine]]:
    groups: dict[str, list[RatedLine]] = {}
    for line in lines:
        groups.setdefault(recipient_of(line, mode), []).append(line)
    return dict(sorted(groups.items()))


def _unique(lines: Sequence[RatedLine]) -> list[RatedLine]:
    # A redelivered line is the same line: keep one. Two different lines under one id are a bug.
    by_id: dict[str, RatedLine] = {}
    for line in lines:
        seen = by_id.get(line.line_id)
        if seen is not None and seen != line:
            raise ValidationFailed("line_id", line.line_id, "two different lines share one id")
        by_id[line.line_id] = line
    return sorted(
        by_id.values(),
        key=lambda ln: (
            ln.customer_id,
            ln.subscription_id,
            ln.period_start,
            ln.charge_type,
            ln.line_id,
        ),
    )


def build_invoice(
    lines: Sequence[RatedLine],
    *,
    issuer_id: str,
    recipient_id: str,
    currency: str,
    period_start: date,
    period_end: date,
    issue_date: date,
    payment_terms_days: int,
    last_number: int,
    number_prefix: str,
    tax_rule: TaxRule,
    resale_exempt: bool = False,
) -> Invoice:
    """One invoice (or a credit note when the total is negative) for a recipient and period.

    Each line is taxed on its price (``tax.tax_line``), the tax summary groups lines by
    jurisdiction, rate and treatment; subtotal, tax and total are sums of the line figures,
    so they add up exactly. The number is ``last_number + 1`` in the issuer's one series;
    a credit note is due on issue.
    """
    if not lines:
        raise ValidationFailed("lines", 0, "an invoice needs at least one line")
    if payment_terms_days < 0:
        raise ValidationFailed("payment_terms_days", payment_terms_days, "must be >= 0")
    if last_number < 0:
        raise ValidationFailed("last_number", last_number, "must be >= 0")
    unique = _unique(lines)
    out: list[InvoiceLine] = []
    summary: dict[tuple[str, int, TaxTreatment], tuple[int, int]] = {}
    for ln in unique:
        if ln.currency != currency:
            raise ValidationFailed("currency", ln.currency, f"line {ln.line_id} not in {currency}")
        tax = tax_line(ln.price_minor, ln.kind, tax_rule, resale_exempt=resale_exempt)
        out.append(
            InvoiceLine(
                line_id=ln.line_id,
                charge_type=ln.charge_type,
                subscription_id=ln.subscription_id,
                customer_id=ln.customer_id,
                product_id=ln.product_id,
                sku_id=ln.sku_id,
                kind=ln.kind,
                quantity=ln.quantity,
                unit_price_minor=ln.unit_price_minor,
                period_start=ln.period_start,
                period_end=ln.period_end,
                amount_minor=ln.price_minor,
                tax_rate_bps=tax.rate_bps,
                tax_minor=tax.tax_minor,
                tax_treatment=tax.treatment,
            )
        )
        key = (tax.jurisdiction, tax.rate_bps, tax.treatment)
        taxable, taxed = summary.get(key, (0, 0))
        summary[key] = (taxable + ln.price_minor, taxed + tax.tax_minor)
    subtotal = sum(line.amount_minor for line in out)
    tax_total = sum(line.tax_minor for line in out)
    total = subtotal + tax_total
    kind = InvoiceKind.CREDIT_NOTE if total < 0 else InvoiceKind.INVOICE
    sequence = last_number + 1
    due = (
        issue_date
        if kind == InvoiceKind.CREDIT_NOTE
        else issue_date + timedelta(days=payment_terms_days)
    )
    return Invoice(
        invoice_id=invoice_id(
            issuer_id, recipient_id, currency, period_start, (ln.line_id for ln in out)
        ),
        number=invoice_number(number_prefix, sequence),
        sequence=sequence,
        kind=kind,
        issuer_id=issuer_id,
        recipient_id=recipient_id,
        currency=currency,
        period_start=period_start,
        period_end=period_end,
        issue_date=issue_date,
        due_date=due,
        lines=tuple(out),
        tax_summary=tuple(
            TaxSummary(jurisdiction=j, rate_bps=r, treatment=t, taxable_minor=a, tax_minor=x)
            for (j, r, t), (a, x) in sorted(summary.items())
        ),
        subtotal_minor=subtotal,
        tax_minor=tax_total,
        total_minor=total,
    )
