"""Subcommands of ``hub``, one module per area; each exposes ``add_commands(commands)``.

A handler takes ``(args, settings)`` and returns the exit code. Output for people goes to
stdout; progress and errors go to stderr through ``say``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from hub.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
Subcommands = Any  # argparse's _SubParsersAction, which typeshed keeps private


def say(message: str) -> None:
    print(f"hub: {message}", file=sys.stderr, flush=True)
