"""``hub docs``: documents generated from the hub's own contracts (the partners' AsyncAPI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.commands import Subcommands, say
from hub.settings import Settings


def _asyncapi(args: argparse.Namespace, settings: Settings) -> int:
    from hub.asyncapi import asyncapi_document, render

    text = render(asyncapi_document())
    if args.output is None or args.output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    path.write_text(text, encoding="utf-8")
    say(f"wrote {path}")
    return 0


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub docs asyncapi``."""
    docs = commands.add_parser("docs", help="documents generated from the topic catalogue")
    actions = docs.add_subparsers(dest="docs_command", required=True, metavar="ACTION")
    asyncapi = actions.add_parser(
        "asyncapi", help="the AsyncAPI 3.0 document of the topics a reseller writes and reads"
    )
    asyncapi.add_argument(
        "-o", "--output", metavar="FILE", help="write it to FILE (default: standard output)"
    )
    asyncapi.set_defaults(handler=_asyncapi)
