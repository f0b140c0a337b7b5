"""``hub webhooks``: endpoints (add, list, disable, enable, remove, rotate-secret), the delivery
log, replay, a test delivery, and ``run``, the bridge process (hub/webhooks/bridge.py)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from hub.commands import Subcommands, add_output_flag, emit, say
from hub.commands.arg_types import aware_time, reseller_id
from hub.commands.credits import render_table
from hub.errors import SchemaError
from hub.settings import Settings
from hub.topics import PartnerTopic
from hub.webhooks import signing
from hub.webhooks.records import Delivery, Endpoint, Outcome, Parked, Source
from hub.webhooks.store import (
    ReplayFrom,
    ensure_webhook_topics,
    load_deliveries,
    load_endpoints,
    log_delivery,
    park,
    put_endpoint,
    scan_partner_topics,
)


def _endpoint(settings: Settings, endpoint_id: str) -> Endpoint | None:
    found = asyncio.run(load_endpoints(settings)).get(endpoint_id)
    if found is None:
        say(f"no webhook endpoint {endpoint_id!r}: `hub webhooks list` shows them")
    return found


def _add(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    endpoint_id = args.id or f"ep_{uuid.uuid4().hex[:16]}"
    try:
        endpoint = Endpoint(
            endpoint_id=endpoint_id,
            reseller_id=args.reseller_id,
            url=args.url,
            event_types=tuple(args.event_type or ()),
            secret=args.secret or signing.new_secret(),
            created_at=now,
            updated_at=now,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        say(f"endpoint refused: {where}: {first['msg']}")
        return 2
    try:
        Webhook(endpoint.secret)
    except (ValueError, EmptyWebhookSecretError):  # not base64, or nothing after whsec_
        say("endpoint refused: --secret must be whsec_ followed by base64 (or leave it out)")
        return 2
    asyncio.run(ensure_webhook_topics(settings))
    if endpoint_id in asyncio.run(load_endpoints(settings)):
        say(f"endpoint {endpoint_id} exists already: pick another --id or remove it first")
        return 1
    asyncio.run(put_endpoint(settings, endpoint_id, endpoint))
    print(f"endpoint {endpoint_id} for reseller {endpoint.reseller_id}: {endpoint.url}")
    print(f"signing secret (shown once, give it to the receiver): {endpoint.secret}")
    return 0


def _public(endpoint: Endpoint) -> dict[str, Any]:
    return endpoint.model_dump(mode="json", exclude={"secret", "previous_secret"})


def _list(args: argparse.Namespace, settings: Settings) -> int:
    endpoints = sorted(
        asyncio.run(load_endpoints(settings)).values(), key=lambda e: (e.reseller_id, e.created_at)
    )
    if args.reseller:
        endpoints = [e for e in endpoints if e.reseller_id == args.reseller]
    rows = [
        {
            "endpoint": e.endpoint_id,
            "reseller": e.reseller_id,
            "state": "enabled" if e.enabled else "DISABLED",
            "events": ",".join(e.event_types) or "all",
            "url": e.url,
        }
        for e in endpoints
    ]

    def text() -> str:
        lines = [render_table(rows, ["endpoint", "reseller", "state", "events", "url"])]
        lines += [f"{e.endpoint_id}: {e.disabled_reason}" for e in endpoints if e.disabled_reason]
        return "\n".join(lines)

    emit(args, [_public(e) for e in endpoints], text)
    return 0


def _set_enabled(settings: Settings, endpoint_id: str, enabled: bool) -> int:
    endpoint = _endpoint(settings, endpoint_id)
    if endpoint is None:
        return 1
    reason = None if enabled else "disabled by ops"
    changed = endpoint.model_copy(
        update={"enabled": enabled, "disabled_reason": reason, "updated_at": datetime.now(UTC)}
    )
    asyncio.run(put_endpoint(settings, endpoint_id, changed))
    say(f"endpoint {endpoint_id} {'enabled' if enabled else 'disabled'}")
    return 0


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_enabled(settings, args.endpoint_id, False)


def _enable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_enabled(settings, args.endpoint_id, True)


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    if _endpoint(settings, args.endpoint_id) is None:
        return 1
    asyncio.run(put_endpoint(settings, args.endpoint_id, None))
    say(f"endpoint {args.endpoint_id} removed")
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    endpoint = _endpoint(settings, args.endpoint_id)
    if endpoint is None:
        return 1
    now = datetime.now(UTC)
    rotated = endpoint.model_copy(
        update={
            "secret": signing.new_secret(),
            "previous_secret": endpoint.secret,
            "previous_secret_until": now + timedelta(hours=args.overlap_hours),
            "updated_at": now,
        }
    )
    asyncio.run(put_endpoint(settings, args.endpoint_id, rotated))
    print(f"new signing secret for {args.endpoint_id}: {rotated.secret}")
    say(f"the old secret also signs for {args.overlap_hours:g} hours")
    return 0


def _deliveries(args: argparse.Namespace, settings: Settings) -> int:
    found = asyncio.run(load_deliveries(settings))
    if args.endpoint:
        found = [d for d in found if d.endpoint_id == args.endpoint]
    if args.reseller:
        found = [d for d in found if d.reseller_id == args.reseller]
    if args.event_id:
        found = [d for d in found if d.event_id == args.event_id]
    found = found[-args.limit :] if args.limit else found
    rows = [
        {
            "at": d.at.isoformat(timespec="seconds"),
            "endpoint": d.endpoint_id,
            "event_type": d.event_type,
            "event_id": d.event_id,
            "attempt": d.attempt,
            "outcome": d.outcome.value
            + (" (replay)" if d.replay else "")
            + (" (test)" if d.test else ""),
            "status": d.status if d.status is not None else "",
            "error": d.error or "",
        }
        for d in found
    ]
    columns = ["at", "endpoint", "event_type", "event_id", "attempt", "outcome", "status", "error"]
    emit(args, [d.model_dump(mode="json") for d in found], lambda: render_table(rows, columns))
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    endpoint = _endpoint(settings, args.endpoint_id)
    if endpoint is None:
        return 1
    if args.since:
        start = ReplayFrom(since_ms=int(datetime.fromisoformat(args.since).timestamp() * 1000))
    else:
        start = ReplayFrom(offset=args.from_offset, partition=args.partition)
    kinds = [PartnerTopic(args.kind)] if args.kind else list(PartnerTopic)
    records = asyncio.run(scan_partner_topics(settings, endpoint.reseller_id, kinds, start))
    from hub.app import build_codec
    from hub.webhooks import policy
    from hub.webhooks.bridge import decode_event

    codec = build_codec(settings)
    now = datetime.now(UTC).timestamp()
    parked = []
    for r in records:
        if r.value is None:
            continue
        try:
            event = decode_event(codec, r.value)
        except SchemaError:  # undecodable: the bridge skips it as well
            continue
        event_type = type(event).__name__
        if not policy.wants(endpoint, endpoint.reseller_id, event_type):
            continue
        parked.append(
            Parked(
                endpoint_id=endpoint.endpoint_id,
                reseller_id=endpoint.reseller_id,
                event_id=str(event.event_id),
                event_type=event_type,
                body=signing.event_body(event),
                attempt=1,
                due_at=now,
                source=Source(topic=r.topic, partition=r.partition, offset=r.offset),
                replay=True,
            )
        )
    asyncio.run(park(settings, parked))
    say(
        f"{len(parked)} events queued for {endpoint.endpoint_id}"
        + ("" if endpoint.enabled else " (it is disabled: `hub webhooks enable` it to send them)")
    )
    return 0


def _test(args: argparse.Namespace, settings: Settings) -> int:
    endpoint = _endpoint(settings, args.endpoint_id)
    if endpoint is None:
        return 1
    import aiohttp

    from hub.webhooks.sender import send

    now = datetime.now(UTC)
    message_id = f"test_{uuid.uuid4()}"
    payload = signing.body(
        "webhook.test",
        now,
        {"endpoint_id": endpoint.endpoint_id, "reseller_id": endpoint.reseller_id},
    )

    async def attempt() -> int:
        async with aiohttp.ClientSession() as session:
            result = await send(
                session, endpoint, message_id, payload, timeout_s=settings.webhook_timeout_s
            )
        outcome = Outcome.DELIVERED if result.ok else Outcome.FAILED
        await log_delivery(
            settings,
            Delivery(
                endpoint_id=endpoint.endpoint_id,
                reseller_id=endpoint.reseller_id,
                event_id=message_id,
                event_type="webhook.test",
                attempt=1,
                outcome=outcome,
                status=result.status,
                error=result.error,
                duration_ms=result.duration_ms,
                test=True,
            ),
        )
        if result.ok:
            print(f"test delivery {message_id}: HTTP {result.status} in {result.duration_ms} ms")
            return 0
        say(f"test delivery {message_id} failed: {result.error}")
        return 1

    return asyncio.run(attempt())


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from hub.webhooks.bridge import Bridge

    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)

    bridge = Bridge(settings)  # refuses unusable settings before it talks to Kafka

    async def main() -> None:
        await ensure_webhook_topics(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await bridge.run(stop)

    say(f"webhook bridge: group {settings.webhook_group}, Ctrl-C stops it")
    asyncio.run(main())
    return 0


def _id_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint_id", help="the endpoint's id (`hub webhooks list`)")


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub webhooks add|list|disable|enable|remove|rotate-secret|deliveries|replay|test|
    run``."""
    webhooks = commands.add_parser(
        "webhooks", help="deliver resellers' partner-topic events to their HTTP endpoints"
    )
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add an endpoint for a reseller (prints its secret)")
    add.add_argument("reseller_id", type=reseller_id)
    add.add_argument("url", help="http(s) URL the events are POSTed to")
    add.add_argument(
        "--event-type",
        action="append",
        metavar="TYPE",
        help="only this event type, e.g. InvoiceIssued (repeatable; default: every event)",
    )
    add.add_argument("--id", help="the endpoint id (default: ep_<random>)")
    add.add_argument("--secret", help="a whsec_... secret to use (default: a new random one)")
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="endpoints, their state and subscriptions")
    listing.add_argument("--reseller", type=reseller_id, help="only this reseller's")
    add_output_flag(listing, json_alias=True)  # JSON never carries the secrets
    listing.set_defaults(handler=_list)

    for name, handler, text in (
        ("disable", _disable, "stop delivering to an endpoint (deliveries due are skipped)"),
        ("enable", _enable, "deliver to an endpoint again (replay what it missed)"),
        ("remove", _remove, "delete an endpoint"),
    ):
        sub = actions.add_parser(name, help=text)
        _id_arg(sub)
        sub.set_defaults(handler=handler)

    rotate = actions.add_parser("rotate-secret", help="new signing secret; the old one overlaps")
    _id_arg(rotate)
    rotate.add_argument(
        "--overlap-hours",
        type=float,
        default=24.0,
        help="hours the old secret also signs (default 24)",
    )
    rotate.set_defaults(handler=_rotate)

    deliveries = actions.add_parser("deliveries", help="the delivery log, oldest first")
    deliveries.add_argument("--endpoint", help="only this endpoint's")
    deliveries.add_argument("--reseller", type=reseller_id, help="only this reseller's")
    deliveries.add_argument("--event-id", help="only this event's attempts")
    deliveries.add_argument("--limit", type=int, default=50, help="the last N (0: all)")
    add_output_flag(deliveries, json_alias=True)
    deliveries.set_defaults(handler=_deliveries)

    replay = actions.add_parser("replay", help="deliver an endpoint's events again")
    _id_arg(replay)
    start = replay.add_mutually_exclusive_group(required=True)
    start.add_argument("--since", type=aware_time, help="events written from this time (ISO)")
    start.add_argument("--from-offset", type=int, help="events from this offset on")
    replay.add_argument("--kind", choices=[k.value for k in PartnerTopic], help="one topic only")
    replay.add_argument("--partition", type=int, help="with --from-offset: one partition only")
    replay.set_defaults(handler=_replay)

    test = actions.add_parser("test", help="send a signed webhook.test event now")
    _id_arg(test)
    test.set_defaults(handler=_test)

    run = actions.add_parser("run", help="run the bridge (a consumer group; run several)")
    run.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    run.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    run.set_defaults(handler=_run)
