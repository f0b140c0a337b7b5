"""`hub orders release|reject|show`: finance's review of held orders, and one order's state.

``show`` asks the worker's web view (``GET /orders/<reseller>/<order_id>/`` on
HUB_WORKER_WEB_HOST:HUB_WORKER_WEB_PORT) rather than rebuilding state from the topics: the
worker's table is the state the flow acts on (held, accepted, provisioned, failed, with its
subscriptions), and one small GET is instant where replaying decision and provisioning topics
grows with their ten-year retention. With several workers, ask the one that owns the reseller's
partition.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime

from hub.commands import Handler, Subcommands, say
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish
from hub.schemas.codec import Codec
from hub.schemas.events.orders import OrderReviewDecided, ReviewDecision
from hub.schemas.validation import validate
from hub.settings import Settings
from hub.topics import Topic


def review_command(
    decision: ReviewDecision,
    reseller_id: str,
    order_id: str,
    reviewer: str,
    reason: str | None,
    now: datetime,
) -> OrderReviewDecided:
    """The command event; keyed by reseller id it lands on the order's partition."""
    event_id = uuid.uuid4()
    return validate(
        OrderReviewDecided,
        {
            "event_id": event_id,
            "event_time": now,
            "correlation_id": f"review-{event_id}",
            "reseller_id": reseller_id,
            "order_id": order_id,
            "decision": decision,
            "reviewer": reviewer,
            "reason": reason,
            "decided_at": now,
        },
    )


def _review(decision: ReviewDecision) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        command = review_command(
            decision, args.reseller, args.order_id, args.reviewer, args.reason, datetime.now(UTC)
        )
        topic = settings.catalog.name(Topic.OPS_COMMANDS)
        outgoing = [Outgoing(topic, args.reseller, command)]
        asyncio.run(
            publish(
                settings.kafka_bootstrap_servers,
                Codec(),
                outgoing,
                auth=auth_from_settings(settings),
            )
        )
        say(f"{decision} of order {args.order_id} sent (event {command.event_id})")
        return 0

    return handler


def order_url(settings: Settings, reseller_id: str, order_id: str) -> str:
    path = "/".join(urllib.parse.quote(part, safe="") for part in (reseller_id, order_id))
    return f"http://{settings.worker_web_host}:{settings.web_port}/orders/{path}/"


def _show(args: argparse.Namespace, settings: Settings) -> int:
    url = order_url(settings, args.reseller, args.order_id)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our worker
            state = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            say(f"the worker holds no order {args.order_id} of reseller {args.reseller}")
            return 1
        raise
    except OSError as exc:
        say(f"cannot reach the worker at {url}: {exc}")
        return 2
    print(json.dumps(state, indent=2, sort_keys=True))
    return 0


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub orders release|reject|show``."""
    orders = commands.add_parser("orders", help="held-order review and order state")
    actions = orders.add_subparsers(dest="orders_command", required=True, metavar="ACTION")

    release = actions.add_parser("release", help="release a held order to Microsoft")
    reject = actions.add_parser("reject", help="reject a held order")
    decisions: tuple[tuple[argparse.ArgumentParser, ReviewDecision], ...] = (
        (release, "release"),
        (reject, "reject"),
    )
    for parser, decision in decisions:
        parser.add_argument("order_id")
        parser.add_argument("--reseller", required=True, help="the order's reseller id")
        parser.add_argument("--reviewer", default="ops", help="who decides (audit trail)")
        parser.add_argument(
            "--reason", required=decision == "reject", help="why (shown to the reseller)"
        )
        parser.set_defaults(handler=_review(decision))

    show = actions.add_parser("show", help="one order's state, from the worker's table")
    show.add_argument("order_id")
    show.add_argument("--reseller", required=True, help="the order's reseller id")
    show.set_defaults(handler=_show)
