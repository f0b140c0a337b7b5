"""`hub credits claim|approve|show`: claim evidence, Microsoft's approval, and its audit.

``claim`` rebuilds the subscription index from the topics (``ref.catalog``, ``ref.customers``,
``hub.orders.provisioning``, ``hub.subscriptions.events``) with the same domain fold the worker
uses, rather than asking a worker: a claim is prepared rarely, must cover every reseller's
customers whichever worker owns their partition, and works while no worker runs.
``approve`` publishes ``ServiceCreditApproved`` on ``hub.credits.approved``. ``show`` reads the
approvals and the allocation reports (``hub.credits.audit``) of one incident.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.commands import Subcommands, add_output_flag, emit, say, to_json, wants_json
from hub.commands.arg_types import amount, aware_time, iso_date_text
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, Record, publish, read_all
from hub.domain.claims import Affected, IndexEntry, select_affected
from hub.domain.money import Money
from hub.errors import HubError, SchemaError, ValidationFailed
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.credits import (
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import CatalogItemUpserted, CustomerUpserted
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.schemas.events.support import IncidentDetected
from hub.schemas.validation import validate
from hub.settings import Settings
from hub.topics import Topic


def decode_all(records: Iterable[Record], codec: Codec) -> list[Event]:
    """Every decodable event; what cannot be decoded is already in a dead-letter topic."""
    events = []
    for record in records:
        if record.value is None:
            continue
        try:
            events.append(codec.decode(record.value))
        except SchemaError:
            continue
    return events


def rebuild_index(
    events: Iterable[Event],
) -> tuple[dict[str, IndexEntry], dict[str, CustomerUpserted]]:
    """The credits index (by subscription id) and customers, folded from the topics' events."""
    services: dict[str, str] = {}
    customers: dict[str, CustomerUpserted] = {}
    provisioned: list[SubscriptionProvisioned] = []
    changes: list[SubscriptionChanged] = []
    for event in events:
        if isinstance(event, CatalogItemUpserted):
            services[event.item.catalog_item_id] = event.item.service
        elif isinstance(event, CustomerUpserted):
            customers[event.customer.customer_id] = event
        elif isinstance(event, SubscriptionProvisioned):
            provisioned.append(event)
        elif isinstance(event, SubscriptionChanged):
            changes.append(event)
    index: dict[str, IndexEntry] = {}
    for p in provisioned:
        service = services.get(f"{p.product_id}:{p.sku_id}:{p.availability_id}")
        if service is None or p.subscription_id in index:
            continue
        index[p.subscription_id] = IndexEntry.provisioned(
            subscription_id=p.subscription_id,
            customer_id=p.customer_id,
            reseller_id=p.reseller_id,
            service=service,
            product_id=p.product_id,
            quantity=p.quantity,
            unit_price_minor=p.unit_price_minor,
            billing_cycle=p.billing_cycle,
            currency=p.currency,
            term_start=p.term_start,
            term_end=p.term_end,
            auto_renew=p.auto_renew,
        )
    for c in sorted(changes, key=lambda c: c.effective_at):
        entry = index.get(c.subscription_id)
        if entry is not None:
            index[c.subscription_id] = entry.changed(
                change_id=c.change_id,
                at=c.effective_at,
                status=c.status,
                quantity=c.new_quantity,
                auto_renew=c.auto_renew,
            )
    return index, customers


@dataclass(frozen=True)
class Incident:
    incident_id: str
    service: str
    region: str | None
    window_start: datetime
    window_end: datetime


def claim_rows(
    incident: Incident, affected: Sequence[Affected], customers: Mapping[str, CustomerUpserted]
) -> list[dict[str, Any]]:
    """One row per affected subscription, with the evidence Microsoft asks for."""
    duration = int((incident.window_end - incident.window_start).total_seconds())
    rows = []
    for a in affected:
        e = a.entry
        known = customers.get(e.customer_id)
        rows.append(
            {
                "incident_id": incident.incident_id,
                "service": incident.service,
                "region": incident.region or "",
                "reseller_id": e.reseller_id,
                "customer_id": e.customer_id,
                "customer_name": known.customer.name if known else "",
                "tenant": (known.customer.tenant_domain or "") if known else "",
                "subscription_id": e.subscription_id,
                "product_id": e.product_id,
                "seats": a.seats,
                "monthly_fee": str(Money.of(a.monthly_fee_minor, e.currency).to_decimal()),
                "currency": e.currency,
                "affected_days": a.affected_days,
                "affected_minutes": a.affected_seconds // 60,
                "incident_minutes": duration // 60,
                "window_start": incident.window_start.isoformat(),
                "window_end": incident.window_end.isoformat(),
            }
        )
    return rows


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    widths = [max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return "\n".join(lines)


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


_CLAIM_COLUMNS = (
    "reseller_id",
    "customer_id",
    "tenant",
    "subscription_id",
    "seats",
    "monthly_fee",
    "currency",
    "affected_days",
    "affected_minutes",
)


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValidationFailed("time", text, "give a timezone, e.g. 2025-03-03T08:00:00Z")
    return value.astimezone(UTC)


async def _read(settings: Settings, *topics: Topic) -> list[Event]:
    catalog = settings.catalog
    codec = Codec()
    events: list[Event] = []
    for topic in topics:
        records = await read_all(
            settings.kafka_bootstrap_servers, catalog.name(topic), auth=auth_from_settings(settings)
        )
        events.extend(decode_all(records, codec))
    return events


def _incident(args: argparse.Namespace, settings: Settings) -> Incident:
    """From the flags, or else from the support flow's ``IncidentDetected``."""
    if args.service and args.window_from and args.window_to:
        return Incident(
            args.incident_id,
            args.service,
            args.region,
            _utc(args.window_from),
            _utc(args.window_to),
        )
    for event in asyncio.run(_read(settings, Topic.INCIDENTS)):
        if isinstance(event, IncidentDetected) and event.incident_id == args.incident_id:
            return Incident(
                event.incident_id,
                args.service or event.service,
                args.region or event.region,
                _utc(args.window_from) if args.window_from else event.window_start,
                _utc(args.window_to) if args.window_to else event.window_end,
            )
    raise ValidationFailed(
        "incident_id",
        args.incident_id,
        "no IncidentDetected with this id: give --service --from --to",
    )


def _claim(args: argparse.Namespace, settings: Settings) -> int:
    try:
        incident = _incident(args, settings)
    except HubError as exc:
        say(str(exc))
        return 1
    events = asyncio.run(
        _read(
            settings,
            Topic.CATALOG,
            Topic.CUSTOMERS,
            Topic.PROVISIONING,
            Topic.SUBSCRIPTION_EVENTS,
        )
    )
    index, customers = rebuild_index(events)

    def region_of(customer_id: str) -> str | None:
        known = customers.get(customer_id)
        return known.customer.region if known else None

    affected = select_affected(
        index.values(),
        service=incident.service,
        window_start=incident.window_start,
        window_end=incident.window_end,
        region=incident.region,
        customer_region=region_of,
    )
    rows = claim_rows(incident, affected, customers)
    if wants_json(args):
        print(to_json(rows))
    elif args.csv:
        sys.stdout.write(render_csv(rows, list(rows[0]) if rows else _CLAIM_COLUMNS))
    else:
        print(
            f"incident {incident.incident_id}: {incident.service}"
            f" region {incident.region or 'any'}"
            f" {incident.window_start.isoformat()} .. {incident.window_end.isoformat()}"
        )
        print(render_table(rows, _CLAIM_COLUMNS))
        resellers = len({r["reseller_id"] for r in rows})
        seats = sum(int(r["seats"]) for r in rows)
        print(f"{len(rows)} subscriptions, {seats} seats, {resellers} resellers")
    return 0


def approval_event(
    *,
    incident_id: str,
    service: str,
    currency: str,
    window_start: datetime,
    window_end: datetime,
    amount: Decimal | None,
    tier_percent: int | None,
    region: str | None,
    credit_id: str | None,
    now: datetime,
    fx_rates: Mapping[str, Decimal] | None = None,
    rate_date: date | None = None,
) -> ServiceCreditApproved:
    """The approval as ops enter it; the credit id defaults to incident and service, so the
    same approval entered twice is recognised and allocated once. ``fx_rates`` are customer
    currency units per one unit of ``currency``, fixed on ``rate_date`` (default: today)."""
    event_id = uuid.uuid4()
    amount_minor = None if amount is None else Money.from_decimal(amount, currency).minor
    if amount is not None and Money.of(amount_minor or 0, currency).to_decimal() != amount:
        raise ValidationFailed("amount", amount, f"has more decimals than {currency} allows")
    return validate(
        ServiceCreditApproved,
        {
            "event_id": event_id,
            "event_time": now,
            "correlation_id": f"credit-{incident_id}",
            "credit_id": credit_id or f"{incident_id}:{service}",
            "incident_id": incident_id,
            "service": service,
            "region": region,
            "window_start": window_start,
            "window_end": window_end,
            "amount_minor": amount_minor,
            "percentage_tier": tier_percent,
            "currency": currency,
            "fx_rates": [
                {"currency": cur, "rate": str(rate), "rate_date": rate_date or now.date()}
                for cur, rate in sorted((fx_rates or {}).items())
            ],
        },
    )


def parse_fx(items: Sequence[str]) -> dict[str, Decimal]:
    """``["GBP=0.85", "JPY=162.5"]`` -> rates by currency; a currency given twice is refused."""
    rates: dict[str, Decimal] = {}
    for item in items:
        cur, sep, text = item.partition("=")
        cur = cur.strip().upper()
        if not sep or not cur:
            raise ValidationFailed("fx", item, "write CUR=RATE, e.g. GBP=0.85")
        try:
            rate = Decimal(text.strip())
        except InvalidOperation:
            raise ValidationFailed("fx", item, "rate must be a decimal, e.g. 0.85") from None
        if not rate.is_finite() or rate <= 0:
            raise ValidationFailed("fx", item, "rate must be a positive decimal")
        if cur in rates:
            raise ValidationFailed("fx", item, f"{cur} given twice")
        rates[cur] = rate
    return rates


def _approve(args: argparse.Namespace, settings: Settings) -> int:
    try:
        incident = _incident(args, settings)
        amount = None if args.amount is None else Decimal(args.amount)
        event = approval_event(
            incident_id=incident.incident_id,
            service=incident.service,
            currency=args.currency,
            window_start=incident.window_start,
            window_end=incident.window_end,
            amount=amount,
            tier_percent=args.tier_percent,
            region=incident.region,
            credit_id=args.credit_id,
            now=datetime.now(UTC),
            fx_rates=parse_fx(args.fx or []),
            rate_date=date.fromisoformat(args.fx_date) if args.fx_date else None,
        )
    except (HubError, InvalidOperation, ValueError) as exc:
        say(f"approval refused: {exc}")
        return 1
    topic = settings.catalog.name(Topic.CREDITS_APPROVED)
    outgoing = [Outgoing(topic, event.incident_id, event)]
    auth = auth_from_settings(settings)
    asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth))
    say(f"credit {event.credit_id} approved (event {event.event_id})")
    return 0


def audit(incident_id: str, events: Iterable[Event]) -> list[dict[str, Any]]:
    """Per credit of the incident: the approval, and its allocation report (parts joined)."""
    approvals: dict[str, ServiceCreditApproved] = {}
    parts: dict[str, dict[int, ServiceCreditAllocationReported]] = {}
    for event in events:
        if isinstance(event, ServiceCreditApproved) and event.incident_id == incident_id:
            approvals.setdefault(event.credit_id, event)
        elif (
            isinstance(event, ServiceCreditAllocationReported) and event.incident_id == incident_id
        ):
            parts.setdefault(event.credit_id, {})[event.part] = event
    out = []
    for credit_id in sorted(approvals.keys() | parts.keys()):
        doc: dict[str, Any] = {"credit_id": credit_id}
        if credit_id in approvals:
            doc["approval"] = approvals[credit_id].model_dump(mode="json")
        got = parts.get(credit_id, {})
        if not got:
            doc["status"] = "pending"
        else:
            first = got[min(got)]
            complete = sorted(got) == list(range(first.parts))
            doc["status"] = "allocated" if complete else "partial report"
            summary = first.model_dump(
                mode="json", exclude={"lines", "excluded", "part", "parts", "event_id"}
            )
            doc.update(summary)
            doc["lines"] = [ln.model_dump(mode="json") for p in sorted(got) for ln in got[p].lines]
            doc["excluded"] = [
                x.model_dump(mode="json") for p in sorted(got) for x in got[p].excluded
            ]
        out.append(doc)
    return out


def render_audit(docs: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for doc in docs:
        out.append(f"credit {doc['credit_id']}: {doc['status']}")
        if doc["status"] == "pending":
            continue
        cur = doc["currency"]

        def money(minor: int, currency: str = cur) -> str:
            return str(Money.of(minor, currency))

        out.append(
            f"  approved {money(doc['approved_minor'])} ({doc['basis']}"
            + (f", tier {doc['percentage_tier']}%" if doc.get("percentage_tier") else "")
            + f"), allocated {money(doc['allocated_minor'])},"
            f" remainder {money(doc['remainder_minor'])} ({doc['remainder_reason']}),"
            f" fx rounding {doc['fx_difference_minor']} minor"
        )
        out.append(
            f"  {doc['affected_count']} affected subscriptions,"
            f" {doc['allocation_count']} credited, {len(doc['excluded'])} excluded"
        )
        stated = {r["currency"]: r["rate"] for r in doc.get("approval", {}).get("fx_rates", [])}

        def rate(
            line: Mapping[str, Any], stated: Mapping[str, str] = stated, cur: str = cur
        ) -> str:
            # As the approval stated it; the line's own rate is its 28-digit inverse.
            given = stated.get(line["customer_currency"])
            if given is None:
                return str(line["rate_to_distributor"])
            return f"{given} {line['customer_currency']}/{cur}"

        rows = [
            {
                "reseller_id": ln["reseller_id"],
                "customer_id": ln["customer_id"],
                "subscription_id": ln["subscription_id"],
                "fee_cap": money(ln["monthly_fee_minor"], ln["customer_currency"]),
                "days": f"{ln['affected_days']}/{ln['days_in_month']}",
                "fx_rate": rate(ln),
                "share": money(ln["amount_minor"]),
                "credit": money(ln["customer_amount_minor"], ln["customer_currency"]),
            }
            for ln in doc["lines"]
        ]
        if rows:
            out.append(render_table(rows, list(rows[0])))
        for ex in doc["excluded"]:
            out.append(
                f"  excluded {ex['subscription_id']} ({ex['reseller_id']}/{ex['customer_id']}):"
                f" {ex['reason']}"
            )
    return "\n".join(out)


def _show(args: argparse.Namespace, settings: Settings) -> int:
    events = asyncio.run(_read(settings, Topic.CREDITS_APPROVED, Topic.CREDITS_AUDIT))
    docs = audit(args.incident_id, events)
    if not docs:
        say(f"no approved credit for incident {args.incident_id}")
        return 1
    emit(args, docs, lambda: render_audit(docs))
    return 0


def _window_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "incident_id", help="Microsoft's incident id (or the hub's IncidentDetected)"
    )
    parser.add_argument("--service", help="Microsoft service, e.g. exchange (catalogue 'service')")
    parser.add_argument("--region", help="only customers in this region (unknown regions kept)")
    parser.add_argument(
        "--from", dest="window_from", type=aware_time, help="window start, ISO 8601 with zone"
    )
    parser.add_argument(
        "--to", dest="window_to", type=aware_time, help="window end, ISO 8601 with zone"
    )


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub credits claim|approve|show``."""
    credits = commands.add_parser("credits", help="service credits: claim, approve, audit")
    actions = credits.add_subparsers(dest="credits_command", required=True, metavar="ACTION")

    claim = actions.add_parser("claim", help="affected customers and evidence for a claim")
    _window_flags(claim)
    add_output_flag(claim, json_alias=True)
    claim.add_argument("--csv", action="store_true", help="CSV export (text output only)")
    claim.set_defaults(handler=_claim)

    approve = actions.add_parser("approve", help="enter a credit Microsoft approved")
    _window_flags(approve)
    approve.add_argument("--currency", required=True, help="currency of the approved amount")
    how = approve.add_mutually_exclusive_group(required=True)
    how.add_argument("--amount", type=amount, help="approved amount, e.g. 123.45")
    how.add_argument("--tier-percent", type=int, help="SLA tier: %% of each affected fee")
    approve.add_argument("--credit-id", help="default: <incident_id>:<service>")
    approve.add_argument(
        "--fx",
        action="append",
        metavar="CUR=RATE",
        help="rate for customers billed in CUR: CUR units per 1 unit of --currency "
        "(repeatable, e.g. --fx GBP=0.85 --fx JPY=162.5); without one they are excluded",
    )
    approve.add_argument(
        "--fx-date", type=iso_date_text, help="day the rates were fixed (default: today)"
    )
    approve.set_defaults(handler=_approve)

    show = actions.add_parser("show", help="who got what of an incident's credits, and why")
    show.add_argument("incident_id")
    add_output_flag(show, json_alias=True)
    show.set_defaults(handler=_show)
