"""``hub docs``: (being built)."""

from __future__ import annotations

from hub.commands import Subcommands


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub docs`` (nothing yet)."""
