"""The billing flow's agents (not wired yet)."""

from __future__ import annotations

import faust

from hub.streams.context import Context


def register(app: faust.App, ctx: Context) -> None:
    """Registers this flow's agents on `app` (none yet)."""
