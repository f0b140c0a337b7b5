"""One page of a paged sweep over the relationships state, and what a failure does to it.

The GDAP sweep and the drift sweep each visit up to ``page`` entries of one key prefix per tick,
continuing after a cursor kept in the state. Each visit asks Partner Center, so the sweep must
not turn a Partner Center outage into a backlog:

- a retriable failure (Partner Center unreachable, throttling) stops the page where it is: the
  entries visited so far keep their effects, the cursor stays before the failed entry, and the
  next tick starts there. The tick is processed, not retried or dead-lettered: the timer sends
  another one anyway, and retrying each tick's 50 calls would hold the flow's other requests
  (onboarding, GDAP requests) behind a queue of ticks that grows while Partner Center is away;
- a permanent failure of one entry (its customer gone from the reference data, a refusal)
  skips that entry with a warning, so one bad entry cannot stop the sweep of every other.

Any other exception is a defect and goes to the pipeline (dead letter), as everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from hub.errors import HubError
from hub.runtime.emit import Emit
from hub.runtime.state import scan
from hub.streams.relationships import metrics

log = logging.getLogger(__name__)

Visit = Callable[[str, Any], Awaitable[Sequence[Emit]]]


async def sweep_page(
    state: MutableMapping[str, Any],
    *,
    sweep: str,
    cursor_key: str,
    prefix: str,
    page: int,
    visit: Visit,
) -> list[Emit]:
    """Visits the next page of ``prefix`` entries after the cursor; see the module's doc."""
    after = state.get(cursor_key) or None
    entries: list[tuple[str, Any]] = []
    for key, raw in scan(state, prefix, after=after):
        entries.append((key, raw))
        if len(entries) >= page:
            break
    out: list[Emit] = []
    for key, raw in entries:
        try:
            out += await visit(key, raw)
        except HubError as exc:
            if exc.retriable:
                # The next tick starts at this entry again.
                state[cursor_key] = after or ""
                metrics.SWEEPS.labels(sweep=sweep, outcome="stopped").inc()
                log.warning("%s sweep stopped at %s until its next tick: %s", sweep, key, exc)
                return out
            metrics.SWEEPS.labels(sweep=sweep, outcome="entry_skipped").inc()
            log.warning("%s sweep skipped %s: %s", sweep, key, exc)
        after = key
    state[cursor_key] = entries[-1][0] if len(entries) >= page else ""
    metrics.SWEEPS.labels(sweep=sweep, outcome="swept").inc()
    return out
