"""`hub credits ...` commands."""

from __future__ import annotations

from hub.commands import Subcommands


def add_commands(commands: Subcommands) -> None:
    """Adds this area's subcommands (none yet)."""
