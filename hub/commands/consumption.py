"""`hub consumption ingest|budget|markup|close`: Azure plan usage into the hub, and its month end.

``ingest`` pulls daily rated usage from Partner Center (unbilled estimates of the current or
previous month, or an invoice's billed usage, optionally one day only) and publishes one
``UsageRecorded`` per line on ``hub.consumption.inputs``, keyed by the reseller its
``resellerMpnId`` names; the worker's consumption flow does the rest. Run it daily (usage is at
least 24 hours late; an unchanged figure pulled twice changes nothing). ``budget`` and ``markup``
set a reseller's consumption budget and price; ``close`` hands a month's consumption to billing
(run it before ``hub billing close`` of the same month).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from hub.commands import Subcommands, add_output_flag, emit, say
from hub.commands.arg_types import amount, iso_date, period
from hub.commands.billing_progress import reseller_ids
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.connectors.partner_center.usage_ingest import Pulled, UsageSource, pull_usage
from hub.domain.money import Money
from hub.errors import ValidationFailed
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.consumption import (
    ConsumptionBudgetSet,
    ConsumptionCloseRequested,
    ConsumptionMarkupSet,
)
from hub.schemas.events.reference import ResellerUpserted
from hub.settings import Settings
from hub.topics import Topic


async def resellers_by_mpn(settings: Settings) -> dict[str, tuple[str, str]]:
    """PartnerID (``ResellerMpnId``) -> (reseller id, currency), from the reseller topic."""
    codec = Codec()
    found: dict[str, tuple[str, str]] = {}
    topic = settings.catalog.name(Topic.RESELLERS)
    auth = auth_from_settings(settings)
    for record in await read_all(settings.kafka_bootstrap_servers, topic, auth=auth):
        if record.value is None:
            continue
        event = codec.decode(record.value)
        if isinstance(event, ResellerUpserted):
            profile = event.reseller
            found[profile.partner_id] = (profile.reseller_id, profile.currency)
    return found


def _publish(settings: Settings, events: Sequence[Event]) -> int:
    topic = settings.catalog.name(Topic.CONSUMPTION_INPUTS)
    outgoing = [Outgoing(topic, e.reseller_id or "", e) for e in events]
    auth = auth_from_settings(settings)
    return asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth))


def _envelope(reseller_id: str, kind: str) -> dict[str, object]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"consumption-{kind}-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.correction_reason and not args.invoice:
        raise ValidationFailed("--correction-reason", args.correction_reason, "needs --invoice")
    source = UsageSource(
        currency=args.currency.upper(),
        period=args.period,
        invoice_id=args.invoice,
        correction_reason=args.correction_reason,
        day=args.day,
    )
    mapping = {mpn: rid for mpn, (rid, _) in asyncio.run(resellers_by_mpn(settings)).items()}

    async def pull() -> Pulled:
        async with PartnerCenterClient(PartnerCenterConfig.from_settings(settings)) as client:
            return await pull_usage(
                client,
                mapping,
                source,
                now=datetime.now(UTC),
                correlation_id=f"usage-ingest-{uuid.uuid4().hex[:8]}",
            )

    pulled = asyncio.run(pull())
    # Day order: the anomaly rule compares a day with the days before it.
    events = sorted(pulled.events, key=lambda e: (e.usage_date, e.subscription_id, e.meter_id))
    sent = _publish(settings, events)
    unknown = dict(pulled.unknown_resellers)
    emit(
        args,
        {"lines": pulled.lines, "published": sent, "unknown_reseller_mpn_ids": unknown},
        lambda: f"{sent} usage events published from {pulled.lines} lines",
    )
    if unknown:
        skipped = sum(unknown.values())
        say(
            f"{skipped} lines name no onboarded reseller (ResellerMpnId "
            f"{', '.join(sorted(unknown)[:5])}): onboard them, then ingest again"
        )
    return 0


def _budget(args: argparse.Namespace, settings: Settings) -> int:
    currency = args.currency.upper()
    amount_minor = Money.from_decimal(Decimal(args.amount), currency).minor
    event = ConsumptionBudgetSet(
        **_envelope(args.reseller, "budget"),  # type: ignore[arg-type]
        scope="customer" if args.customer else "reseller",
        customer_id=args.customer,
        amount_minor=amount_minor,
        currency=currency,
        thresholds=tuple(args.threshold or (50, 80, 100)),
    )
    _publish(settings, [event])
    who = f"customer {args.customer} of {args.reseller}" if args.customer else args.reseller
    say(f"monthly consumption budget of {who}: {Money.of(amount_minor, currency)}")
    return 0


def _markup(args: argparse.Namespace, settings: Settings) -> int:
    event = ConsumptionMarkupSet(
        **_envelope(args.reseller, "markup"),  # type: ignore[arg-type]
        meter_category=args.meter_category,
        markup_bps=args.bps,
    )
    _publish(settings, [event])
    say(f"consumption markup of {args.reseller} ({args.meter_category or 'all'}): {args.bps} bps")
    return 0


def _close(args: argparse.Namespace, settings: Settings) -> int:
    resellers = [args.reseller] if args.reseller else asyncio.run(reseller_ids(settings))
    events = [
        ConsumptionCloseRequested(
            **_envelope(rid, "close"),  # type: ignore[arg-type]
            period=args.period,
        )
        for rid in resellers
    ]
    _publish(settings, events)
    say(f"consumption close of {args.period} requested for {len(events)} reseller(s)")
    return 0


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub consumption ingest|budget|markup|close``."""
    parser = commands.add_parser("consumption", help="Azure plan usage: ingest, budgets, close")
    actions = parser.add_subparsers(dest="consumption_command", required=True, metavar="ACTION")

    ingest = actions.add_parser("ingest", help="pull daily rated usage from Partner Center")
    ingest.add_argument("--currency", default="USD", help="billing currency to pull (unbilled)")
    ingest.add_argument(
        "--period", choices=("current", "previous"), default="current", help="unbilled month"
    )
    ingest.add_argument("--invoice", help="pull this invoice's billed usage instead")
    ingest.add_argument("--correction-reason", help="billed figures are corrections, for this")
    ingest.add_argument("--day", type=iso_date, help="only this usage day (YYYY-MM-DD)")
    add_output_flag(ingest)
    ingest.set_defaults(handler=_ingest)

    budget = actions.add_parser("budget", help="a monthly consumption budget with thresholds")
    budget.add_argument("reseller")
    budget.add_argument("--customer", help="the customer's budget (default: the reseller's)")
    budget.add_argument("--amount", type=amount, required=True, help="per month, e.g. 500.00")
    budget.add_argument("--currency", required=True, help="the reseller's billing currency")
    budget.add_argument(
        "--threshold", type=int, action="append", help="percent (repeatable; default 50 80 100)"
    )
    budget.set_defaults(handler=_budget)

    markup = actions.add_parser("markup", help="the reseller's markup on Microsoft's usage cost")
    markup.add_argument("reseller")
    markup.add_argument("--bps", type=int, required=True, help="basis points; negative: discount")
    markup.add_argument("--meter-category", help="only this meter category (e.g. Storage)")
    markup.set_defaults(handler=_markup)

    close = actions.add_parser("close", help="hand a month's consumption to billing")
    close.add_argument("--period", type=period, required=True, help="YYYY-MM")
    close.add_argument("--reseller", help="only this reseller (default: every onboarded one)")
    close.set_defaults(handler=_close)
