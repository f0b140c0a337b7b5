"""One agent for ``hub.ops.commands``: each flow registers the command types it handles.

Several flows take ops commands (release a held order, resolve an incident). One consumer
dispatching by contract gives every command exactly one outcome: handled by its flow, or
dead-lettered as unknown. Two agents on one topic would each see every message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import faust

from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Handler
from hub.schemas.envelope import Event
from hub.streams.context import Context
from hub.topics import Topic

# Every ops command some flow handles. A worker that runs only some flows (``HUB_FLOWS``) passes
# over the ones its flows do not handle: another flow group's worker reads the same topic in its
# own consumer group and handles them. A flow adding a command declares it here (checked when the
# app is built), so no group takes a command of another group's for an unknown one.
COMMANDS: frozenset[str] = frozenset(
    {"OrderReviewDecided", "PaymentConfirmed", "IncidentResolutionRequested"}
)


def dispatcher(
    handlers: Mapping[type[Event], Handler], *, every_flow: bool, owns_unknown: bool
) -> Handler:
    """The command dispatch of one worker.

    ``every_flow``: this worker runs all the hub's flows, so a command without a handler here is
    unknown and dead-lettered. Otherwise a declared command without a handler here is another
    group's and passed over, and an undeclared one is dead-lettered only where ``owns_unknown``
    (one flow group), so it gets one outcome.
    """
    undeclared = sorted(t.__name__ for t in handlers if t.__name__ not in COMMANDS)
    if undeclared:
        raise ValueError(
            f"ops commands {', '.join(undeclared)} are not declared in "
            "hub.streams.ops_commands.COMMANDS"
        )
    known = ", ".join(sorted(t.__name__ for t in handlers)) or "none"

    async def dispatch(event: Event) -> Sequence[Emit]:
        handler = handlers.get(type(event))
        if handler is not None:
            return await handler(event)
        name = type(event).__name__
        if not every_flow and (name in COMMANDS or not owns_unknown):
            return []
        raise ValidationFailed("event", name, f"not an ops command ({known})")

    return dispatch


def register(
    app: faust.App, ctx: Context, *, every_flow: bool = True, owns_unknown: bool = True
) -> None:
    """Registers the dispatching agent; call after every flow has added its handlers."""
    dispatch = dispatcher(dict(ctx.ops_handlers), every_flow=every_flow, owns_unknown=owns_unknown)
    pipeline = ctx.pipeline("ops-commands")

    @app.agent(ctx.source(Topic.OPS_COMMANDS), name="ops.commands", concurrency=1)
    async def ops_commands(stream: Any) -> None:
        await pipeline.run(stream, dispatch)
