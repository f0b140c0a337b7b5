"""``hub acl``: the broker ACLs that keep each reseller to its own topics and groups."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from hub.commands import Subcommands, add_output_flag, emit, say
from hub.commands.arg_types import reseller_id
from hub.settings import Settings


def _reseller_ids(args: argparse.Namespace) -> list[str]:
    from hub.connectors.reference_files import load_reference_file, reseller_ids

    resellers = list(args.reseller or [])
    for path in args.resellers_from or []:
        resellers += reseller_ids(load_reference_file(Path(path)))
    return resellers


def _acl_plan(args: argparse.Namespace, settings: Settings) -> int:
    from hub.acl import acl_bindings

    bindings = acl_bindings(settings.catalog, _reseller_ids(args))
    doc = [
        {
            "principal": b.principal,
            "permission": b.permission.name,
            "operation": b.operation.name,
            "resource_type": b.resource_type.name,
            "pattern_type": b.pattern_type.name,
            "resource_name": b.resource_name,
        }
        for b in bindings
    ]
    emit(args, doc, lambda: "\n".join(str(b) for b in bindings))
    return 0


def _acl_apply(args: argparse.Namespace, settings: Settings) -> int:
    from hub.acl import acl_bindings
    from hub.connectors.kafka_acl import apply_acls
    from hub.connectors.kafka_auth import auth_from_settings

    bindings = acl_bindings(settings.catalog, _reseller_ids(args))
    report = asyncio.run(
        apply_acls(settings.kafka_bootstrap_servers, bindings, auth=auth_from_settings(settings))
    )
    for binding in report.created:
        print(f"created    {binding}")
    for binding in report.unmanaged if args.verbose else ():
        print(f"unmanaged  {binding}")
    say(
        f"{len(bindings)} ACLs checked, {len(report.created)} created, "
        f"{len(report.unmanaged)} on the broker not from the catalogue (left as they are)"
    )
    return 0


def add_commands(commands: Subcommands) -> None:
    acl = commands.add_parser("acl", help="per-reseller isolation: ACLs from the topic catalogue")
    actions = acl.add_subparsers(dest="acl_command", required=True, metavar="ACTION")
    for name, handler, text in (
        ("plan", _acl_plan, "print the ACLs the catalogue implies (no broker needed)"),
        ("apply", _acl_apply, "create the missing ACLs on the broker (idempotent)"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument(
            "--reseller", action="append", type=reseller_id, metavar="ID", help="a reseller id"
        )
        sub.add_argument(
            "--resellers-from", action="append", metavar="FILE", help="reseller reference file"
        )
        if name == "apply":
            sub.add_argument("-v", "--verbose", action="store_true", help="list unmanaged ACLs")
        else:
            add_output_flag(sub)
        sub.set_defaults(handler=handler)
