"""One agent for ``hub.ops.commands``: each flow registers the command types it handles.

Several flows take ops commands (release a held order, resolve an incident). One consumer
dispatching by contract gives every command exactly one outcome: handled by its flow, or
dead-lettered as unknown. Two agents on one topic would each see every message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.streams.context import Context
from hub.topics import Topic


def register(app: faust.App, ctx: Context) -> None:
    """Registers the dispatching agent; call after every flow has added its handlers."""
    handlers = dict(ctx.ops_handlers)
    pipeline = ctx.pipeline("ops-commands")

    async def dispatch(event: Event) -> Sequence[Emit]:
        handler = handlers.get(type(event))
        if handler is None:
            known = ", ".join(sorted(t.__name__ for t in handlers)) or "none"
            raise ValidationFailed("event", type(event).__name__, f"not an ops command ({known})")
        return await handler(event)

    @app.agent(ctx.source(Topic.OPS_COMMANDS), name="ops.commands", concurrency=1)
    async def ops_commands(stream: Any) -> None:
        await pipeline.run(stream, dispatch)
