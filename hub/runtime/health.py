"""``/livez`` and ``/readyz`` on every worker's web port, for probes and load balancers.

- ``/livez``: 200 while the worker's event loop serves requests (a hung loop answers nothing).
- ``/readyz``: 200 once the worker is in its consumer group (it was given an assignment, maybe
  empty when there are more workers than partitions), no rebalance or table recovery is under
  way, and its reference data (with the books every worker reads beside it: customers'
  agreements and GDAP relationships) is read up to where it stood at start; else 503. Both
  answer JSON naming each condition, so a 503 says what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.web import Request, Response, View


def readiness(app: Any, reference_loaded: Callable[[], bool]) -> dict[str, bool]:
    """Each readiness condition of ``app`` (a faust app), true when met."""
    recovery = app.tables.recovery
    return {
        "assigned": bool(app.consumer_generation_id),
        "not_rebalancing": not app.rebalancing,
        "tables_recovered": recovery.completed.is_set() and not recovery.in_recovery,
        "reference_loaded": reference_loaded(),
    }


def register(app: faust.App, reference_loaded: Callable[[], bool]) -> None:
    @app.page("/livez")
    async def livez(self: View, request: Request) -> Response:
        return self.json({"live": True})

    @app.page("/readyz")
    async def readyz(self: View, request: Request) -> Response:
        conditions = readiness(app, reference_loaded)
        ready = all(conditions.values())
        return self.json({"ready": ready, **conditions}, status=200 if ready else 503)
