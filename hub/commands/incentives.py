"""`hub incentives plans apply FILE` and `hub incentives statement --payee P --period YYYY-MM`.

``plans apply`` checks every plan of a YAML or JSON file (``plans: [...]``), refusing an
unknown key or a wrong value with one line per problem naming the file, the plan and the
line, and publishes each as an ``IncentivePlanSet`` on the compacted plans topic (the latest
record of a plan id is the plan). ``statement`` asks the incentives ledger for a payee's
month and prints the statement it issues.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.commands import Subcommands, add_output_flag, emit, say
from hub.commands.arg_types import period
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, follow, publish
from hub.connectors.reference_problems import (
    Locator,
    ReferenceFileInvalid,
    record_problems,
    yaml_lines,
)
from hub.domain.incentives.plans import Plan, PlanFile
from hub.domain.money import Money
from hub.errors import ValidationFailed
from hub.schemas.codec import Codec
from hub.schemas.events.incentives import (
    IncentivePlanSet,
    IncentiveStatementIssued,
    IncentiveStatementRequested,
)
from hub.settings import Settings
from hub.topics import Topic

# Fixed forever: the same plan document applied twice is one event.
_PLAN_NAMESPACE = uuid.UUID("5f0b6c2e-8d41-5a7e-b3c9-7e2d1a4f6b80")
_REQUEST_NAMESPACE = uuid.UUID("2a9d4e71-3b6c-5f08-9e1a-c4b7d2e5f803")


def _codec(settings: Settings) -> Codec:
    from hub.app import build_codec

    return build_codec(settings)


def load_plans(path: Path) -> list[Plan]:
    """Every plan of ``path``, or ``ReferenceFileInvalid`` listing each problem in one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed("file", str(path), f"cannot be read ({exc.strerror})") from None
    try:
        doc = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise ReferenceFileInvalid(str(path), [f"{path}: not YAML or JSON ({exc})"]) from None
    if not isinstance(doc, dict) or set(doc) != {"plans"} or not isinstance(doc["plans"], list):
        keys = ", ".join(sorted(map(str, doc))) if isinstance(doc, dict) else type(doc).__name__
        raise ReferenceFileInvalid(
            str(path), [f"{path}: expected one key, plans: [a list of plans], got {keys}"]
        )
    locator = Locator(str(path), yaml_lines(text))
    plans: list[Plan] = []
    problems: list[str] = []
    for i, raw in enumerate(doc["plans"]):
        record = ("plans", i)
        plan_id = raw.get("plan_id") if isinstance(raw, dict) else None
        if not isinstance(raw, dict):
            problems.append(f"{locator.where(record, None)}: a plan is a mapping of keys")
            continue
        try:
            plans.append(Plan.model_validate(raw))
        except ValidationError as exc:
            problems += record_problems(Plan, raw, exc, locator, record, plan_id)
    if not problems:
        try:
            PlanFile(plans=tuple(plans))
        except ValidationError as exc:
            problems += [f"{path}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
    if problems:
        raise ReferenceFileInvalid(str(path), problems)
    return plans


def plan_event(plan: Plan, now: datetime) -> IncentivePlanSet:
    body = json.dumps(plan.model_dump(mode="json"), sort_keys=True)
    return IncentivePlanSet(
        event_id=uuid.uuid5(_PLAN_NAMESPACE, body),
        event_time=now,
        correlation_id=f"incentive-plan-{plan.plan_id}",
        plan_id=plan.plan_id,
        payee=plan.payee,
        plan_json=body,
    )


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    plans = load_plans(Path(args.file))
    topic = settings.catalog.name(Topic.INCENTIVE_PLANS)
    now = datetime.now(UTC)
    items = [Outgoing(topic, p.plan_id, plan_event(p, now)) for p in plans]
    auth = auth_from_settings(settings)
    asyncio.run(publish(settings.kafka_bootstrap_servers, _codec(settings), items, auth=auth))
    say(f"applied {len(plans)} incentive plans from {args.file}")
    emit(args, {"applied": [p.plan_id for p in plans]}, "\n".join(p.plan_id for p in plans))
    return 0


def statement_request(payee: str, month: str, now: datetime) -> IncentiveStatementRequested:
    return IncentiveStatementRequested(
        event_id=uuid.uuid5(_REQUEST_NAMESPACE, f"{payee}|{month}|{now.isoformat()}"),
        event_time=now,
        correlation_id=f"incentive-statement-{payee}-{month}",
        payee=payee,
        period=month,
    )


async def _ask(
    settings: Settings, request: IncentiveStatementRequested, timeout_s: float
) -> IncentiveStatementIssued | None:
    codec = _codec(settings)
    auth = auth_from_settings(settings)
    bootstrap = settings.kafka_bootstrap_servers
    answers = settings.catalog.name(Topic.INCENTIVE_STATEMENTS)
    since = int(request.event_time.timestamp() * 1000) - 1000
    ledger = settings.catalog.name(Topic.INCENTIVE_LEDGER)
    await publish(bootstrap, codec, [Outgoing(ledger, request.payee, request)], auth=auth)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    # Closed on return, not at garbage collection: the generator holds a Kafka consumer.
    async with contextlib.aclosing(follow(bootstrap, [answers], since_ms=since, auth=auth)) as rs:
        async for record in rs:
            if record is not None and record.value is not None:
                event = codec.decode(record.value)
                if (
                    isinstance(event, IncentiveStatementIssued)
                    and event.causation_id == request.event_id
                ):
                    return event
            if loop.time() > deadline:
                return None
    return None


def render(statement: IncentiveStatementIssued) -> str:
    lines = [f"incentive statement of {statement.payee} for {statement.period}"]
    if not statement.plans:
        lines.append("  no plan pays this payee in that month")
    for p in statement.plans:

        def money(minor: int, currency: str = p.currency) -> str:
            return f"{Money.of(minor, currency).to_decimal()} {currency}"

        lines += [
            f"  plan {p.plan_id} ({p.kind}), tier reached: {p.tier}",
            f"    accrued   {money(p.accrued_minor)}",
            f"    reversed  {money(p.reversed_minor)}"
            + "".join(f"; {r.reason} {money(r.amount_minor)}" for r in p.reversed_by_reason),
            f"    payable   {money(p.payable_minor)}",
        ]
        if p.capped_minor:
            lines.append(f"    over the cap, not accrued: {money(p.capped_minor)}")
        lines += [f"    {change}" for change in p.tier_changes]
    return "\n".join(lines)


def _statement(args: argparse.Namespace, settings: Settings) -> int:
    request = statement_request(args.payee, args.period, datetime.now(UTC))
    found = asyncio.run(_ask(settings, request, args.timeout))
    if found is None:
        say(
            f"no statement of {args.payee} for {args.period} within {args.timeout:.0f} s; "
            "is a worker running the incentives flow?"
        )
        return 1
    doc: dict[str, Any] = found.model_dump(mode="json")
    emit(args, doc, lambda: render(found))
    return 0


def add_commands(commands: Subcommands) -> None:
    """``hub incentives plans apply FILE`` and ``hub incentives statement``."""
    incentives = commands.add_parser("incentives", help="sales incentive plans and statements")
    sub = incentives.add_subparsers(dest="incentives_command", required=True, metavar="COMMAND")
    plans = sub.add_parser("plans", help="incentive plans (rebates, commissions)")
    plans_sub = plans.add_subparsers(dest="plans_command", required=True, metavar="COMMAND")
    apply = plans_sub.add_parser("apply", help="check a plans file and publish its plans")
    apply.add_argument("file", help="YAML or JSON: plans: [...]")
    add_output_flag(apply)
    apply.set_defaults(handler=_apply)
    statement = sub.add_parser("statement", help="a payee's monthly incentive statement")
    statement.add_argument("--payee", required=True, help="a reseller id or an account manager")
    statement.add_argument("--period", required=True, type=period, help="YYYY-MM")
    statement.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for it (default 60)"
    )
    add_output_flag(statement)
    statement.set_defaults(handler=_statement)
