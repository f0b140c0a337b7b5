"""Subcommands of ``hub``, one module per area; each exposes ``add_commands(commands)``.

A handler takes ``(args, settings)`` and returns the exit code. Output for people goes to
stdout; progress and errors go to stderr through ``say``. A read command takes ``-o json``
(``add_output_flag``) and prints through ``emit``, so scripts get one JSON document and
people get text from the same handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from hub.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
Subcommands = Any  # argparse's _SubParsersAction, which typeshed keeps private

OUTPUT_FORMATS = ("text", "json")


def say(message: str) -> None:
    print(f"hub: {message}", file=sys.stderr, flush=True)


def add_output_flag(parser: argparse.ArgumentParser, *, json_alias: bool = False) -> None:
    """``-o json`` / ``--output json`` on a read command; ``--json`` too where it existed."""
    parser.add_argument(
        "-o",
        "--output",
        choices=OUTPUT_FORMATS,
        default="text",
        type=str.lower,
        help="text for people (default) or json for scripts",
    )
    if json_alias:
        parser.add_argument(
            "--json", dest="output", action="store_const", const="json", help="same as -o json"
        )


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "output", "text") == "json"


def to_json(doc: Any) -> str:
    """Stable JSON for scripts: sorted keys; dates, decimals and paths as strings."""
    return json.dumps(doc, indent=2, sort_keys=True, default=str)


def emit(args: argparse.Namespace, doc: Any, text: str | Callable[[], str]) -> None:
    """Print ``doc`` as JSON under ``-o json``, else ``text`` (or what it returns) for people."""
    if wants_json(args):
        print(to_json(doc), flush=True)
        return
    rendered = text() if callable(text) else text
    if rendered:
        print(rendered, flush=True)
