"""The simulator's reconciliation ledger: charge lines, invoices, and paging of line items."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from hub.connectors.partner_center.models import Invoice, InvoiceLineItem
from hub.domain.enums import ChargeType
from hub.simulator.partner_center.billing import (
    line_subtotal,
    pricing_unit_price,
    prorated_unit_price,
    tax_on,
)


@dataclass(frozen=True)
class ChargeContext:
    """What a line needs to know about the subscription it charges."""

    partner_id: str
    reseller_mpn_id: str
    customer_id: str
    customer_name: str
    customer_domain: str
    customer_country: str
    order_id: str
    order_date: datetime
    subscription_id: str
    product_id: str
    sku_id: str
    availability_id: str
    product_name: str
    sku_name: str
    currency: str
    term_and_billing_cycle: str
    billing_frequency: str
    subscription_start: datetime
    subscription_end: datetime
    # Priced in another currency than billed: Microsoft's PricingCurrency and PCToBCExchangeRate.
    pricing_currency: str = ""
    exchange_rate: Decimal = Decimal(1)


@dataclass
class LedgerLine:
    reference_id: str
    context: ChargeContext
    charge_type: ChargeType
    unit_price: Decimal
    days: int
    period_days: int
    billable_quantity: int
    charge_start: datetime
    charge_end: datetime
    posted_at: datetime
    tax_rate: Decimal
    invoice_number: str = ""
    refund: bool = False
    credit_reason_code: str = ""

    def render(self) -> InvoiceLineItem:
        ctx = self.context
        rate = ctx.exchange_rate
        unit_price = pricing_unit_price(self.unit_price, rate)
        effective = prorated_unit_price(unit_price, self.days, self.period_days)
        if self.refund:
            # The refund line of a seat change: negative EffectiveUnitPrice, the old quantity.
            effective = -effective
        subtotal = line_subtotal(effective, self.billable_quantity, ctx.currency, rate)
        tax = tax_on(subtotal, self.tax_rate, ctx.currency)
        return InvoiceLineItem(
            partner_id=ctx.partner_id,
            customer_id=ctx.customer_id,
            customer_name=ctx.customer_name,
            customer_domain_name=ctx.customer_domain,
            customer_country=ctx.customer_country,
            invoice_number=self.invoice_number,
            mpn_id=ctx.partner_id,
            reseller_mpn_id=ctx.reseller_mpn_id,
            order_id=ctx.order_id,
            order_date=ctx.order_date,
            product_id=ctx.product_id,
            sku_id=ctx.sku_id,
            availability_id=ctx.availability_id,
            sku_name=ctx.sku_name,
            product_name=ctx.product_name,
            charge_type=self.charge_type,
            unit_price=unit_price,
            effective_unit_price=effective,
            quantity=Decimal(abs(self.billable_quantity)),
            billable_quantity=Decimal(self.billable_quantity),
            subtotal=subtotal,
            tax_total=tax,
            total=subtotal + tax,
            currency=ctx.currency,
            pricing_currency=ctx.pricing_currency or ctx.currency,
            pc_to_bc_exchange_rate=rate,
            pc_to_bc_exchange_rate_date=self.charge_start.replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            ),
            subscription_id=ctx.subscription_id,
            subscription_description=ctx.product_name,
            subscription_start_date=ctx.subscription_start,
            subscription_end_date=ctx.subscription_end,
            charge_start_date=self.charge_start,
            charge_end_date=self.charge_end,
            term_and_billing_cycle=ctx.term_and_billing_cycle,
            billing_frequency=ctx.billing_frequency,
            credit_reason_code=self.credit_reason_code,
            reference_id=self.reference_id,
        )


@dataclass
class _InvoiceRecord:
    id: str
    invoice_date: datetime
    currency: str
    references: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    items: list[InvoiceLineItem]
    total_count: int
    next_token: str | None


class Ledger:
    """Lines in posting order. Pages are cut from a snapshot taken at the first page, so a
    line posted while a client is paging cannot shift or duplicate what it reads."""

    def __init__(self) -> None:
        self.lines: list[LedgerLine] = []
        self._invoices: dict[str, _InvoiceRecord] = {}
        self._continuations: dict[str, list[InvoiceLineItem]] = {}

    def post(
        self,
        context: ChargeContext,
        charge_type: ChargeType,
        *,
        unit_price: Decimal,
        days: int,
        period_days: int,
        billable_quantity: int,
        charge_start: datetime,
        charge_end: datetime,
        posted_at: datetime,
        tax_rate: Decimal,
        refund: bool = False,
        credit_reason_code: str = "",
    ) -> LedgerLine:
        line = LedgerLine(
            reference_id=str(uuid.uuid4()),
            context=context,
            charge_type=charge_type,
            unit_price=unit_price,
            days=days,
            period_days=period_days,
            billable_quantity=billable_quantity,
            charge_start=charge_start,
            charge_end=charge_end,
            posted_at=posted_at,
            tax_rate=tax_rate,
            refund=refund,
            credit_reason_code=credit_reason_code,
        )
        self.lines.append(line)
        return line

    def unbilled(
        self, currency: str, period_start: datetime, period_end: datetime
    ) -> list[LedgerLine]:
        return [
            line
            for line in self.lines
            if not line.invoice_number
            and line.context.currency == currency
            and period_start <= line.posted_at < period_end
        ]

    def close_invoices(self, before: datetime, invoice_date: datetime) -> list[Invoice]:
        """Invoice every unbilled line posted before ``before``: one invoice per billing
        currency, as Partner Center issues them; empty when nothing is due."""
        due: dict[str, list[LedgerLine]] = {}
        for line in self.lines:
            if not line.invoice_number and line.posted_at < before:
                due.setdefault(line.context.currency, []).append(line)
        invoices: list[Invoice] = []
        for currency, lines in sorted(due.items()):
            invoice_id = f"G{len(self._invoices) + 1:09d}"
            record = _InvoiceRecord(id=invoice_id, invoice_date=invoice_date, currency=currency)
            for line in lines:
                line.invoice_number = invoice_id
                record.references.append(line.reference_id)
            self._invoices[invoice_id] = record
            invoices.append(self._render_invoice(record))
        return invoices

    def invoices(self) -> list[Invoice]:
        return [self._render_invoice(record) for record in self._invoices.values()]

    def invoice_lines(self, invoice_id: str) -> list[LedgerLine] | None:
        record = self._invoices.get(invoice_id)
        if record is None:
            return None
        wanted = set(record.references)
        return [line for line in self.lines if line.reference_id in wanted]

    def adjust(
        self, select: Callable[[LedgerLine], bool], unit_price: Decimal
    ) -> InvoiceLineItem | None:
        """Change the unit price of the last matching line (a reconciliation test's difference)."""
        for index in range(len(self.lines) - 1, -1, -1):
            if select(self.lines[index]):
                self.lines[index] = replace(self.lines[index], unit_price=unit_price)
                return self.lines[index].render()
        return None

    def first_page(self, lines: list[LedgerLine], size: int) -> Page:
        return self._cut([line.render() for line in lines], size)

    def next_page(self, token: str, size: int) -> Page | None:
        remaining = self._continuations.pop(token, None)
        if remaining is None:
            return None
        return self._cut(remaining, size)

    def _cut(self, items: list[InvoiceLineItem], size: int) -> Page:
        head, rest = items[:size], items[size:]
        token = None
        if rest:
            token = secrets.token_urlsafe(16)
            self._continuations[token] = rest
        return Page(items=head, total_count=len(head), next_token=token)

    def _render_invoice(self, record: _InvoiceRecord) -> Invoice:
        total = sum(
            (line.render().total for line in self.lines if line.invoice_number == record.id),
            Decimal(0),
        )
        return Invoice(
            id=record.id,
            invoice_date=record.invoice_date,
            currency_code=record.currency,
            total_charges=total,
        )
