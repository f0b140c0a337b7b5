"""`hub orders release|reject|list|show`: finance's review of held orders, and one order's state.

``show`` asks the worker's web view (``GET /orders/<reseller>/<order_id>/`` on
HUB_WORKER_WEB_HOST:HUB_WORKER_WEB_PORT) rather than rebuilding state from the topics: the
worker's table is the state the flow acts on (held, accepted, provisioned, failed, with its
subscriptions), and one small GET is instant where replaying decision and provisioning topics
grows with their ten-year retention. Any worker answers: it forwards to the owner of the
reseller's partition. ``list --held`` follows ``GET /orders-held/`` page by page;
``release``/``reject`` first ask whether the order exists and is held. Every request carries
HUB_WORKER_WEB_TOKEN when it is set. Exit codes: 1 no such order, or not held; 3 no worker
answered, or it refused the token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from hub.commands import Handler, Subcommands, add_output_flag, emit, say, wants_json
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish
from hub.schemas.codec import Codec
from hub.schemas.events.orders import OrderReviewDecided, ReviewDecision
from hub.schemas.validation import validate
from hub.settings import Settings
from hub.topics import Topic
from hub.web_access import bearer_headers


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


# Exit codes beyond 0 (done) and 1 (no such order, or not one to act on), as every command:
EXIT_USAGE = 2  # the command was given wrong
EXIT_HUB_ERROR = 3  # no worker answered, or it refused the token: start one, fix a setting


class WorkerUnreachable(Exception):
    """No worker answered at the URL (or it answered with a server error)."""

    def __init__(self, url: str, detail: object) -> None:
        self.url = url
        super().__init__(f"cannot reach the worker at {url}: {detail}")


class WorkerRefused(Exception):
    """The worker asked for a bearer token this command did not have (HTTP 401)."""


def worker_base(settings: Settings) -> str:
    """The worker's web server as this machine reaches it (every-interface binds via loopback)."""
    host = settings.worker_web_host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{settings.web_port}"


def order_url(settings: Settings, reseller_id: str, order_id: str) -> str:
    path = "/".join(urllib.parse.quote(part, safe="") for part in (reseller_id, order_id))
    return f"{worker_base(settings)}/orders/{path}/"


def held_url(settings: Settings, query: dict[str, str]) -> str:
    return f"{worker_base(settings)}/orders-held/?{urllib.parse.urlencode(query)}"


def get_json(settings: Settings, url: str) -> tuple[int, Any]:
    """``(status, document)`` of a GET to a worker page, with the token when one is set; a 404
    is an answer. Raises ``WorkerUnreachable`` (nothing answered, or a server error) or
    ``WorkerRefused`` (401)."""
    request = urllib.request.Request(url, headers=bearer_headers(settings))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our worker
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise WorkerRefused(url) from exc
        if exc.code in (400, 404):
            try:
                return exc.code, json.loads(exc.read())
            except ValueError:
                return exc.code, {}
        raise WorkerUnreachable(url, f"HTTP {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise WorkerUnreachable(url, exc) from exc


def _unreachable(exc: WorkerUnreachable) -> int:
    say(
        f"{exc}; is a worker running? (hub run, or hub worker; HUB_WORKER_WEB_HOST and "
        "HUB_WORKER_WEB_PORT say where it listens)"
    )
    return EXIT_HUB_ERROR


def _refused() -> int:
    say("the worker asks for a token: set HUB_WORKER_WEB_TOKEN to the worker's")
    return EXIT_HUB_ERROR


def check_held(settings: Settings, reseller_id: str, order_id: str) -> str | None:
    """None if the order exists and is held, else the line saying why it cannot be decided."""
    status, doc = get_json(settings, order_url(settings, reseller_id, order_id))
    if status == 404:
        return f"no order {order_id} of reseller {reseller_id}: nothing was sent"
    order_status = doc.get("status")
    if order_status != "held":
        return (
            f"order {order_id} of reseller {reseller_id} is {order_status}, not held: "
            "nothing was sent"
        )
    return None


def _review(decision: ReviewDecision) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        # The worker's table says whether the order is held: a command for an order that is
        # not would only be dead-lettered by the flow, after this command had said "sent".
        try:
            refusal = check_held(settings, args.reseller, args.order_id)
        except WorkerUnreachable as exc:
            return _unreachable(exc)
        except WorkerRefused:
            return _refused()
        if refusal is not None:
            say(refusal)
            return 1
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


def _show(args: argparse.Namespace, settings: Settings) -> int:
    try:
        status, state = get_json(settings, order_url(settings, args.reseller, args.order_id))
    except WorkerUnreachable as exc:
        return _unreachable(exc)
    except WorkerRefused:
        return _refused()
    if status == 404:
        say(f"the worker holds no order {args.order_id} of reseller {args.reseller}")
        return 1
    # Its text form was always this JSON document: scripts reading it keep working.
    emit(args, state, lambda: json.dumps(state, indent=2, sort_keys=True))
    return 0


def held_orders(settings: Settings, reseller_id: str | None) -> Iterator[dict[str, Any]]:
    """Every held order (of ``reseller_id``), page by page as the worker hands them out."""
    query: dict[str, str] = {} if reseller_id is None else {"reseller": reseller_id}
    while True:
        status, page = get_json(settings, held_url(settings, query))
        if status != 200:
            raise WorkerUnreachable(held_url(settings, query), page.get("error", status))
        yield from page["orders"]
        following = page.get("next")
        if following is None:
            return
        query = {k: v for k, v in query.items() if k == "reseller"}
        query["partition"] = str(following["partition"])
        if following.get("after") is not None:
            query["after"] = str(following["after"])


_COLUMNS = ("reseller_id", "order_id", "customer_id", "reason_code", "commitment", "held_at")


def _row(order: dict[str, Any]) -> dict[str, str]:
    commitment = f"{order.get('order_commitment_minor')} {order.get('currency')} (minor units)"
    return {
        **{k: str(order.get(k) or "") for k in _COLUMNS},
        "commitment": commitment,
    }


def _list(args: argparse.Namespace, settings: Settings) -> int:
    if not args.held:
        say("hub orders list lists held orders: add --held (and --reseller R for one reseller's)")
        return EXIT_USAGE
    count = 0
    try:
        for order in held_orders(settings, args.reseller):
            if wants_json(args):
                print(json.dumps(order, sort_keys=True), flush=True)
            else:
                if count == 0:
                    print("\t".join(_COLUMNS))
                print("\t".join(_row(order)[k] for k in _COLUMNS), flush=True)
            count += 1
    except WorkerUnreachable as exc:
        return _unreachable(exc)
    except WorkerRefused:
        return _refused()
    whose = f" of reseller {args.reseller}" if args.reseller else ""
    say(
        f"{count} held order(s){whose}"
        + ("; decide with hub orders release/reject" if count else "")
    )
    return 0


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub orders release|reject|list|show``."""
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

    listing = actions.add_parser("list", help="held orders waiting for review, from the worker")
    listing.add_argument("--held", action="store_true", help="orders held for finance review")
    listing.add_argument("--reseller", help="only this reseller's orders")
    # Under -o json (or --json) one JSON document a line, as the orders arrive (JSON Lines).
    add_output_flag(listing, json_alias=True)
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="one order's state, from the worker's table")
    show.add_argument("order_id")
    show.add_argument("--reseller", required=True, help="the order's reseller id")
    add_output_flag(show)
    show.set_defaults(handler=_show)
