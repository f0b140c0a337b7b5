"""`hub renewals upcoming|preview|load-promotions`: what renews soon and at what price, what next
month's price lists change at a reseller's renewals (revenue and credit exposure), and
Microsoft's promotions into the hub.

Both ask the worker's renewals pages (``GET /renewals/<reseller>/upcoming/?days=N`` and
``/renewals/<reseller>/preview/?month=YYYY-MM``): the flow's table is the state the renewals are
made from. Exit codes: 3 no worker answered, or it refused the token; 2 a wrong argument.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.commands import Subcommands, add_output_flag, emit, say
from hub.commands.arg_types import reseller_id
from hub.commands.orders import WorkerRefused, WorkerUnreachable, get_json, worker_base
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish
from hub.domain.money import Money
from hub.domain.price_lists import Promotion
from hub.schemas.codec import Codec
from hub.schemas.events.renewals import PromotionPublished
from hub.settings import Settings
from hub.topics import Topic

EXIT_USAGE = 2
EXIT_HUB_ERROR = 3


def _money(minor: int | None, currency: str) -> str:
    if minor is None:
        return "-"
    try:
        return str(Money(minor=minor, currency=currency))
    except ValueError:
        return f"{minor} {currency} (minor units)"


def _month(text: str) -> str:
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not 1 <= int(parts[1]) <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-03")
    return text


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 1100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 0 to 1100")
    return value


def _ask(settings: Settings, path: str, query: dict[str, str]) -> tuple[int, Any] | int:
    url = f"{worker_base(settings)}{path}?{urllib.parse.urlencode(query)}"
    try:
        return get_json(settings, url)
    except WorkerUnreachable as exc:
        say(
            f"{exc}; is a worker running the renewals flow? (hub run, or hub worker; "
            "HUB_WORKER_WEB_HOST and HUB_WORKER_WEB_PORT say where it listens)"
        )
        return EXIT_HUB_ERROR
    except WorkerRefused:
        say("the worker asks for a token: set HUB_WORKER_WEB_TOKEN to the worker's")
        return EXIT_HUB_ERROR


def _path(reseller: str, page: str) -> str:
    return f"/renewals/{urllib.parse.quote(reseller, safe='')}/{page}/"


def upcoming_text(doc: dict[str, Any]) -> str:
    rows = doc["renewals"]
    if not rows:
        return f"nothing of {doc['reseller_id']} renews within {doc['days']} days"
    lines = [f"{len(rows)} renewal(s) of {doc['reseller_id']} within {doc['days']} days:"]
    for r in rows:
        cur = r["currency"]
        what = (
            f"{r['quantity']} x {r['catalog_item_id']} {r['term']}/{r['billing_cycle']}"
            if r["renews"]
            else "expires"
        )
        change = "" if r["change_bps"] is None else f" ({r['change_bps'] / 100:+.2f}%)"
        price = (
            f"at {_money(r['unit_price_minor'], cur)} per seat and period{change}, "
            f"now {_money(r['current_unit_price_minor'], cur)}"
        )
        flag = " [scheduled change]" if r["scheduled_change"] else ""
        note = f" - {r['note']}" if r["note"] else ""
        lines.append(
            f"  {r['renews_at'][:10]}  {r['subscription_id']}  {r['customer_id']}  "
            f"{what} {price}{flag}{note}"
        )
    return "\n".join(lines)


def preview_text(doc: dict[str, Any]) -> str:
    if not doc["previews"]:
        return f"nothing of {doc['reseller_id']} renews in {doc['month']}"
    lines = [f"renewals of {doc['reseller_id']} in {doc['month']}:"]
    for p in doc["previews"]:
        cur = p["currency"]
        for ln in p["lines"]:
            new = _money(ln["renewal_unit_price_minor"], cur)
            lines.append(
                f"  {ln['renews_on']}  {ln['subscription_id']}  {ln['quantity']} x "
                f"{ln['catalog_item_id']}  {_money(ln['current_unit_price_minor'], cur)} -> {new}"
                + (f" - {ln['note']}" if ln["note"] else "")
            )
        lines.append(
            f"  {cur}: revenue over the renewed terms {_money(p['revenue_change_minor'], cur)}, "
            f"credit exposure at renewal {_money(p['exposure_change_minor'], cur)}"
            + (f", {p['unpriced']} without a price" if p["unpriced"] else "")
        )
    return "\n".join(lines)


def _upcoming(args: argparse.Namespace, settings: Settings) -> int:
    answer = _ask(settings, _path(args.reseller, "upcoming"), {"days": str(args.days)})
    if isinstance(answer, int):
        return answer
    status, doc = answer
    if status != 200:
        say(str(doc.get("error", f"the worker answered {status}")))
        return EXIT_USAGE
    emit(args, doc, lambda: upcoming_text(doc))
    return 0


def _preview(args: argparse.Namespace, settings: Settings) -> int:
    query = {"month": args.month} if args.month else {}
    answer = _ask(settings, _path(args.reseller, "preview"), query)
    if isinstance(answer, int):
        return answer
    status, doc = answer
    if status != 200:
        say(str(doc.get("error", f"the worker answered {status}")))
        return EXIT_USAGE
    emit(args, doc, lambda: preview_text(doc))
    return 0


def promotions_from(path: Path) -> list[Promotion]:
    """The promotions in a JSON file (a list of objects with ``Promotion``'s fields); raises
    ``ValueError`` naming every record that is wrong."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of promotions")
    found: list[Promotion] = []
    problems: list[str] = []
    for index, item in enumerate(raw):
        try:
            found.append(Promotion.model_validate(item))
        except ValidationError as exc:
            where = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
                for e in exc.errors()
            )
            problems.append(f"{path}: promotion {index}: {where}")
    if problems:
        raise ValueError("\n".join(problems))
    return found


def _load_promotions(args: argparse.Namespace, settings: Settings) -> int:
    try:
        promotions = promotions_from(Path(args.file))
    except ValueError as exc:
        for line in str(exc).splitlines():
            say(line)
        return EXIT_USAGE
    topic = settings.catalog.name(Topic.RENEWAL_PROMOTIONS)
    now = datetime.now(UTC)
    outgoing = [
        Outgoing(
            topic,
            p.promotion_id,
            PromotionPublished(
                event_id=uuid.uuid4(),
                event_time=now,
                correlation_id=f"promotions-{now:%Y%m%d%H%M%S}",
                promotion=p,
            ),
        )
        for p in promotions
    ]
    asyncio.run(
        publish(
            settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth_from_settings(settings)
        )
    )
    emit(
        args,
        {"published": len(outgoing), "topic": topic},
        f"{len(outgoing)} promotion(s) published to {topic}",
    )
    return 0


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub renewals upcoming|preview``."""
    renewals = commands.add_parser("renewals", help="upcoming renewals and price-list previews")
    actions = renewals.add_subparsers(dest="renewals_command", required=True, metavar="ACTION")

    upcoming = actions.add_parser("upcoming", help="what renews soon, and at what price")
    upcoming.add_argument("--reseller", required=True, type=reseller_id)
    upcoming.add_argument("--days", type=_days, default=30, help="how far ahead (default 30)")
    add_output_flag(upcoming)
    upcoming.set_defaults(handler=_upcoming)

    preview = actions.add_parser(
        "preview", help="what a month's price lists change at the reseller's renewals"
    )
    preview.add_argument("--reseller", required=True, type=reseller_id)
    preview.add_argument("--month", type=_month, help="YYYY-MM (default: next month)")
    add_output_flag(preview)
    preview.set_defaults(handler=_preview)

    load = actions.add_parser(
        "load-promotions", help="publish Microsoft's promotions (a JSON list) to the hub"
    )
    load.add_argument("file", help="JSON list of promotions (promotion_id, product_id, ...)")
    add_output_flag(load)
    load.set_defaults(handler=_load_promotions)
