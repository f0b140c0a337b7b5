"""A flow's outside connections, closed when the worker stops.

A flow's Partner Center port holds an aiohttp session; left open at shutdown, aiohttp logs
"Unclosed client session" as an error on every worker stop. Each flow hands its port's stop
(and, where the session must exist before the first message, its start) to the worker here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
import mode

Step = Callable[[], Awaitable[None]]


def close_at_shutdown(app: faust.App, stop: Step, start: Step | None = None) -> None:
    """Run ``start`` (if given) with the worker's services and ``stop`` when the worker stops."""

    class Connection(mode.Service):
        async def on_start(self) -> None:
            if start is not None:
                await start()

        async def on_stop(self) -> None:
            await stop()

    app.service(Connection)
