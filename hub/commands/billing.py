"""`hub billing close|dunning|reconcile|confirm-payment|import-statement`: finance's runs and
confirmations, driven by command, not clock.

Each publishes a ``BillingRunRequested`` for every reseller on ``hub.billing.inputs``; the
worker fans it out per reseller. ``reconcile`` first reads Microsoft's reconciliation lines
through the Partner Center adapter and publishes them (finance's copy on
``hub.reconciliation.lines``, billing's on ``hub.billing.inputs`` keyed by reseller).
``confirm-payment`` and ``import-statement`` publish ``PaymentConfirmed`` ops commands: a
reseller's payment report is a claim until finance confirms the money arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from time import monotonic

from hub.commands import Subcommands, say
from hub.commands.arg_types import amount, iso_date_text, period, reseller_id
from hub.commands.billing_progress import CloseProgress, reseller_ids, wait_for_close
from hub.commands.progress import Progress
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.connectors.partner_center.models import InvoiceLineItem
from hub.domain.invoicing import period_bounds
from hub.domain.money import Money
from hub.errors import ValidationFailed
from hub.schemas.codec import Codec
from hub.schemas.events.billing import BillingRun, BillingRunRequested, ReconciliationLineReceived
from hub.schemas.events.ingress import ConfirmationSource, PaymentConfirmed
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.validation import validate
from hub.settings import Settings
from hub.topics import Topic, TopicCatalog

_LINE_NAMESPACE = uuid.UUID("3c1f0c52-6a0e-5b8e-9d43-1f2a7b6c5d4e")
# Fixed forever: a payment confirmed twice (same reseller and payment id) is one event.
_CONFIRMATION_NAMESPACE = uuid.UUID("9b7e4d21-5c3a-5f18-8e6d-2a4c1b0f7e93")
# The columns of a bank-statement file (CSV, one confirmed payment per row).
STATEMENT_COLUMNS = ("reseller_id", "payment_id", "amount", "currency", "received_on", "reference")


def confirmation_command(
    *,
    reseller_id: str,
    payment_id: str,
    amount: Decimal,
    currency: str,
    received_on: date,
    by: str,
    source: ConfirmationSource,
    now: datetime,
    reference: str | None = None,
    invoice_ids: tuple[str, ...] = (),
) -> PaymentConfirmed:
    """Finance's confirmation of one payment; the same reseller and payment give the same id."""
    event_id = uuid.uuid5(_CONFIRMATION_NAMESPACE, f"{reseller_id}/{payment_id}")
    return validate(
        PaymentConfirmed,
        {
            "event_id": event_id,
            "event_time": now,
            "correlation_id": f"payment-{reseller_id}-{payment_id}",
            "reseller_id": reseller_id,
            "payment_id": payment_id,
            "amount_minor": _minor(amount, currency),
            "currency": currency,
            "received_at": datetime.combine(received_on, time(0), tzinfo=UTC),
            "method": "bank_transfer",
            "reference": reference,
            "invoice_ids": invoice_ids,
            "confirmed_by": by,
            "source": source,
        },
    )


def statement_commands(path: Path, *, by: str, now: datetime) -> list[PaymentConfirmed]:
    """One confirmation per row of a bank-statement CSV (columns ``STATEMENT_COLUMNS``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        confirmation_command(
            reseller_id=row["reseller_id"],
            payment_id=row["payment_id"],
            amount=Decimal(row["amount"]),
            currency=row["currency"],
            received_on=date.fromisoformat(row["received_on"]),
            by=by,
            source="bank_statement",
            now=now,
            reference=row.get("reference") or None,
        )
        for row in rows
    ]


def run_command(
    run: BillingRun, *, period: str | None, as_of: date, now: datetime, by: str = "ops"
) -> BillingRunRequested:
    """The run for every reseller (no ``reseller_id``: the worker fans it out)."""
    event_id = uuid.uuid4()
    return validate(
        BillingRunRequested,
        {
            "event_id": event_id,
            "event_time": now,
            "correlation_id": f"billing-{run}-{period or as_of.isoformat()}-{event_id}",
            "run": run,
            "period": period,
            "as_of": as_of,
            "requested_by": by,
        },
    )


def charge_end_day(item: InvoiceLineItem) -> date:
    """ChargeEndDate as the last charged day, the way the hub's lines state it.

    Partner Center's files give the last day at midnight (inclusive). A line whose end carries
    the subscription's start time of day instead (the simulator's periods run from instant to
    instant) ends at that instant, so its last charged day is the day before.
    """
    end, anchor = item.charge_end_date.astimezone(UTC), item.subscription_start_date
    if anchor is not None:
        anchor = anchor.astimezone(UTC)
        if anchor.time() != time(0) and end.time() == anchor.time():
            return (end - timedelta(days=1)).date()
    return end.date()


def _minor(amount: Decimal, currency: str) -> int:
    return Money.from_decimal(amount, currency).minor


def line_event(
    item: InvoiceLineItem,
    *,
    source_id: str,
    line_number: int,
    reseller_id: str | None,
    now: datetime,
) -> ReconciliationLineReceived:
    """One adapter line as the contract; same source and line number give the same event id."""
    event_id = uuid.uuid5(_LINE_NAMESPACE, f"{source_id}|{line_number}")
    return validate(
        ReconciliationLineReceived,
        {
            "event_id": event_id,
            "event_time": now,
            "correlation_id": f"reconciliation-{source_id}",
            "reseller_id": reseller_id,
            "source_id": source_id,
            "line_number": line_number,
            "partner_id": item.partner_id,
            "customer_id": item.customer_id,
            "customer_name": item.customer_name,
            "customer_country": item.customer_country,
            "invoice_number": item.invoice_number or None,
            "mpn_id": item.mpn_id or None,
            "reseller_mpn_id": item.reseller_mpn_id or None,
            "order_id": item.order_id,
            "order_date": item.order_date.date(),
            "subscription_id": item.subscription_id,
            "product_id": item.product_id,
            "sku_id": item.sku_id,
            "availability_id": item.availability_id,
            "product_name": item.product_name,
            "sku_name": item.sku_name,
            "charge_type": item.charge_type,
            "unit_price": str(item.unit_price),
            "effective_unit_price": str(item.effective_unit_price),
            "quantity": item.quantity,
            "billable_quantity": str(item.billable_quantity),
            "subtotal": str(item.subtotal),
            "tax_total": str(item.tax_total),
            "total": str(item.total),
            "currency": item.currency,
            "pricing_currency": item.pricing_currency or None,
            "pc_to_bc_exchange_rate": str(item.pc_to_bc_exchange_rate),
            "charge_start_date": item.charge_start_date.date(),
            "charge_end_date": charge_end_day(item),
            "term_and_billing_cycle": item.term_and_billing_cycle,
            "billing_frequency": item.billing_frequency,
            "credit_reason_code": item.credit_reason_code or None,
            "subtotal_minor": _minor(item.subtotal, item.currency),
            "tax_total_minor": _minor(item.tax_total, item.currency),
            "total_minor": _minor(item.total, item.currency),
        },
    )


def reconciliation_outgoing(
    items: Iterable[InvoiceLineItem],
    *,
    period: str,
    source_id: str,
    resellers_by_mpn: Mapping[str, str],
    topics: TopicCatalog,
    now: datetime,
) -> list[Outgoing]:
    """The period's lines for finance (by subscription) and for billing (by reseller)."""
    first, last = period_bounds(period)
    out: list[Outgoing] = []
    for number, item in enumerate(items):
        if not first <= item.charge_start_date.date() <= last:
            continue
        reseller = resellers_by_mpn.get(item.reseller_mpn_id)
        event = line_event(
            item, source_id=source_id, line_number=number, reseller_id=reseller, now=now
        )
        out.append(Outgoing(topics.name(Topic.RECONCILIATION_LINES), item.subscription_id, event))
        if reseller is not None:
            out.append(Outgoing(topics.name(Topic.BILLING_INPUTS), reseller, event))
    return out


async def resellers_by_mpn(settings: Settings) -> dict[str, str]:
    """ResellerMpnId -> reseller id, from the compacted reseller topic (latest profile wins)."""
    topic = settings.catalog.name(Topic.RESELLERS)
    codec = Codec()
    mapping: dict[str, str] = {}
    for record in await read_all(
        settings.kafka_bootstrap_servers, topic, auth=auth_from_settings(settings)
    ):
        if record.value is None:
            continue
        event = codec.decode(record.value)
        if isinstance(event, ResellerUpserted):
            mapping[event.reseller.partner_id] = event.reseller.reseller_id
    return mapping


async def fetch_lines(settings: Settings, invoice_id: str | None) -> list[InvoiceLineItem]:
    from hub.connectors.partner_center.client import PartnerCenterClient
    from hub.connectors.partner_center.config import PartnerCenterConfig

    correlation = f"reconcile-{uuid.uuid4()}"
    async with PartnerCenterClient(PartnerCenterConfig.from_settings(settings)) as pc:
        if invoice_id is not None:
            # The invoice's period decides the source: Graph's v2 export after March 2025,
            # the v1 line-item pages before.
            invoices = await pc.list_invoices(correlation_id=correlation)
            invoice = next((i for i in invoices if i.id == invoice_id), None)
            if invoice is None:
                known = ", ".join(i.id for i in invoices[:10]) or "none"
                raise ValidationFailed(
                    "invoice", invoice_id, f"not an invoice of this partner (latest: {known})"
                )
            return [item async for item in pc.billed_lines(invoice, correlation_id=correlation)]
        items: list[InvoiceLineItem] = []
        for currency in sorted(await _currencies(settings)):
            for which in ("previous", "current"):
                pages = pc.unbilled_line_items(currency, which, correlation_id=correlation)
                items += [item async for item in pages]
        return items


async def _currencies(settings: Settings) -> set[str]:
    """Every currency either side may have lines in: the hub costs a subscription in its
    reseller's currency, Microsoft bills it in the customer's market currency. Asking for
    each (unbilled lines are fetched one currency at a time) leaves no line unseen."""
    topics = settings.catalog
    codec = Codec()
    found = set()
    for topic in (Topic.RESELLERS, Topic.CUSTOMERS):
        for record in await read_all(
            settings.kafka_bootstrap_servers, topics.name(topic), auth=auth_from_settings(settings)
        ):
            event = codec.decode(record.value) if record.value is not None else None
            if isinstance(event, ResellerUpserted):
                found.add(event.reseller.currency)
            elif isinstance(event, CustomerUpserted):
                found.add(event.customer.currency)
    return found


async def reconcile(
    settings: Settings, period: str, invoice_id: str | None, now: datetime
) -> tuple[int, int]:
    """Publish the period's lines, then the reconcile run. Returns (lines, unmapped lines)."""
    topics = settings.catalog
    items = await fetch_lines(settings, invoice_id)
    mapping = await resellers_by_mpn(settings)
    source = f"invoice:{invoice_id}" if invoice_id else f"unbilled:{period}"
    outgoing = reconciliation_outgoing(
        items, period=period, source_id=source, resellers_by_mpn=mapping, topics=topics, now=now
    )
    run = run_command("reconcile", period=period, as_of=now.date(), now=now)
    outgoing.append(Outgoing(topics.name(Topic.BILLING_INPUTS), "all", run))
    await publish(
        settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth_from_settings(settings)
    )
    lines = sum(1 for o in outgoing if o.topic == topics.name(Topic.RECONCILIATION_LINES))
    mapped = sum(1 for o in outgoing if isinstance(o.event, ReconciliationLineReceived)) - lines
    return lines, lines - mapped


def _publish_run(settings: Settings, run: BillingRunRequested) -> None:
    topic = settings.catalog.name(Topic.BILLING_INPUTS)
    outgoing = [Outgoing(topic, "all", run)]
    auth = auth_from_settings(settings)
    asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth))


def _publish_confirmations(settings: Settings, commands: list[PaymentConfirmed]) -> None:
    topic = settings.catalog.name(Topic.OPS_COMMANDS)
    outgoing = [Outgoing(topic, c.reseller_id, c) for c in commands]
    auth = auth_from_settings(settings)
    asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth))


def _confirm_payment(args: argparse.Namespace, settings: Settings) -> int:
    command = confirmation_command(
        reseller_id=args.reseller,
        payment_id=args.payment_id,
        amount=Decimal(args.amount),
        currency=args.currency,
        received_on=date.fromisoformat(args.received_on),
        by=args.by,
        source="ops",
        now=datetime.now(UTC),
        reference=args.reference,
        invoice_ids=tuple(args.invoice or ()),
    )
    _publish_confirmations(settings, [command])
    say(f"payment {args.payment_id} of {args.reseller} confirmed (event {command.event_id})")
    return 0


def _import_statement(args: argparse.Namespace, settings: Settings) -> int:
    commands = statement_commands(Path(args.file), by=args.by, now=datetime.now(UTC))
    _publish_confirmations(settings, commands)
    say(f"{len(commands)} payments confirmed from {args.file}")
    return 0


def _close(args: argparse.Namespace, settings: Settings) -> int:
    _, last = period_bounds(args.period)
    as_of = date.fromisoformat(args.as_of) if args.as_of else last + timedelta(days=1)
    now = datetime.now(UTC)
    run = run_command("close", period=args.period, as_of=as_of, now=now)
    resellers = asyncio.run(reseller_ids(settings)) if args.wait else []
    _publish_run(settings, run)
    say(f"close of {args.period} requested (issue date {as_of}, event {run.event_id})")
    if not args.wait:
        return 0
    progress = CloseProgress(run, resellers)
    started = monotonic()
    with Progress(f"close of {args.period}") as meter:

        def announce(text: str) -> None:
            meter.close()  # a reseller's result gets its own line, below the progress line
            say(text)

        finished = asyncio.run(
            wait_for_close(
                settings,
                progress,
                since_ms=int(now.timestamp() * 1000) - 1000,
                timeout_s=args.timeout,
                say=announce,
                tick=meter.line,
                every_s=1.0 if meter.enabled else 5.0,
            )
        )
    if not finished:
        waiting = progress.waiting_for()
        say(
            f"close of {args.period}: {len(waiting)} of {len(resellers)} resellers not done "
            f"after {args.timeout:.0f} s ({', '.join(waiting[:10])}"
            f"{', ...' if len(waiting) > 10 else ''}); is a worker running? "
            "The close goes on in the worker: run the command with --wait again to follow it."
        )
        return 1
    for text in progress.summary(monotonic() - started):
        say(text)
    return 0


def _dunning(args: argparse.Namespace, settings: Settings) -> int:
    as_of = date.fromisoformat(args.date)
    run = run_command("dunning", period=None, as_of=as_of, now=datetime.now(UTC))
    _publish_run(settings, run)
    say(f"dunning on {as_of} requested (event {run.event_id})")
    return 0


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    lines, unmapped = asyncio.run(reconcile(settings, args.period, args.invoice, datetime.now(UTC)))
    say(f"reconciliation of {args.period}: {lines} Microsoft lines published")
    if unmapped:
        say(f"{unmapped} lines name no known reseller (ResellerMpnId); finance sees them only")
    return 0


def add_commands(commands: Subcommands) -> None:
    """``hub billing close|dunning|reconcile|confirm-payment|import-statement``."""
    billing = commands.add_parser("billing", help="month-end close, dunning, reconciliation")
    runs = billing.add_subparsers(dest="billing_command", required=True, metavar="RUN")
    close = runs.add_parser("close", help="rate cycle charges and issue the month's invoices")
    close.add_argument("--period", required=True, type=period, help="YYYY-MM")
    close.add_argument(
        "--as-of", type=iso_date_text, help="issue date (default: the day after the period)"
    )
    close.add_argument(
        "--wait",
        action="store_true",
        help="follow the close until every reseller's is done: progress, invoices, amounts",
    )
    close.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds --wait waits (default 1800)"
    )
    close.set_defaults(handler=_close)
    dunning = runs.add_parser("dunning", help="assess overdue invoices on a day")
    dunning.add_argument("--date", required=True, type=iso_date_text, help="YYYY-MM-DD")
    dunning.set_defaults(handler=_dunning)
    rec = runs.add_parser("reconcile", help="match Microsoft's lines against the hub's costs")
    rec.add_argument("--period", required=True, type=period, help="YYYY-MM")
    rec.add_argument("--invoice", help="a Microsoft invoice id (default: unbilled lines)")
    rec.set_defaults(handler=_reconcile)
    confirm = runs.add_parser(
        "confirm-payment", help="finance confirms a payment arrived (only then it frees credit)"
    )
    confirm.add_argument("--reseller", required=True, type=reseller_id)
    confirm.add_argument("--payment-id", required=True, help="the reseller's advice's payment id")
    confirm.add_argument("--amount", required=True, type=amount, help="in major units, e.g. 191.59")
    confirm.add_argument("--currency", required=True)
    confirm.add_argument(
        "--received-on", required=True, type=iso_date_text, help="YYYY-MM-DD, from the bank"
    )
    confirm.add_argument("--reference", help="the bank's reference")
    confirm.add_argument("--invoice", action="append", help="an invoice it settles (repeatable)")
    confirm.add_argument("--by", required=True, help="who confirms, for the audit trail")
    confirm.set_defaults(handler=_confirm_payment)
    statement = runs.add_parser(
        "import-statement", help="confirm every payment of a bank-statement CSV"
    )
    statement.add_argument("file", help=f"CSV with columns {', '.join(STATEMENT_COLUMNS)}")
    statement.add_argument("--by", required=True, help="who imports it, for the audit trail")
    statement.set_defaults(handler=_import_statement)
