"""`hub billing close|dunning|reconcile`: finance's month-end runs, driven by command, not clock.

Each publishes a ``BillingRunRequested`` for every reseller on ``hub.billing.inputs``; the
worker fans it out per reseller. ``reconcile`` first reads Microsoft's reconciliation lines
through the Partner Center adapter and publishes them (finance's copy on
``hub.reconciliation.lines``, billing's on ``hub.billing.inputs`` keyed by reseller).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hub.commands import Subcommands, say
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.connectors.partner_center.models import InvoiceLineItem
from hub.domain.invoicing import period_bounds
from hub.domain.money import Money
from hub.schemas.codec import Codec
from hub.schemas.events.billing import BillingRun, BillingRunRequested, ReconciliationLineReceived
from hub.schemas.events.reference import CustomerUpserted, ResellerUpserted
from hub.schemas.validation import validate
from hub.settings import Settings
from hub.topics import Topic, TopicCatalog

_LINE_NAMESPACE = uuid.UUID("3c1f0c52-6a0e-5b8e-9d43-1f2a7b6c5d4e")


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
    topic = TopicCatalog(settings.topic_prefix).name(Topic.RESELLERS)
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
            pages = pc.billed_line_items(invoice_id, correlation_id=correlation)
            return [item async for item in pages]
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
    topics = TopicCatalog(settings.topic_prefix)
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
    topics = TopicCatalog(settings.topic_prefix)
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
    topic = TopicCatalog(settings.topic_prefix).name(Topic.BILLING_INPUTS)
    outgoing = [Outgoing(topic, "all", run)]
    auth = auth_from_settings(settings)
    asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth))


def _close(args: argparse.Namespace, settings: Settings) -> int:
    _, last = period_bounds(args.period)
    as_of = date.fromisoformat(args.as_of) if args.as_of else last + timedelta(days=1)
    run = run_command("close", period=args.period, as_of=as_of, now=datetime.now(UTC))
    _publish_run(settings, run)
    say(f"close of {args.period} requested (issue date {as_of}, event {run.event_id})")
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
    """``hub billing close|dunning|reconcile``."""
    billing = commands.add_parser("billing", help="month-end close, dunning, reconciliation")
    runs = billing.add_subparsers(dest="billing_command", required=True, metavar="RUN")
    close = runs.add_parser("close", help="rate cycle charges and issue the month's invoices")
    close.add_argument("--period", required=True, help="YYYY-MM")
    close.add_argument("--as-of", help="issue date (default: the day after the period)")
    close.set_defaults(handler=_close)
    dunning = runs.add_parser("dunning", help="assess overdue invoices on a day")
    dunning.add_argument("--date", required=True, help="YYYY-MM-DD")
    dunning.set_defaults(handler=_dunning)
    rec = runs.add_parser("reconcile", help="match Microsoft's lines against the hub's costs")
    rec.add_argument("--period", required=True, help="YYYY-MM")
    rec.add_argument("--invoice", help="a Microsoft invoice id (default: unbilled lines)")
    rec.set_defaults(handler=_reconcile)
