"""The bridge's rules, without I/O: when to try again, which endpoints get an event, when to
give up on an endpoint."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import datetime

from hub.webhooks.records import Endpoint

# Each pause is stretched or shrunk by up to this fraction, so endpoints that failed together
# (a receiver's outage) are not all retried in the same second.
JITTER = 0.2


def retry_delay(
    schedule: Sequence[float],
    attempt: int,
    *,
    elapsed_s: float,
    retry_for_s: float,
    rand: float | None = None,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed, or None
    when retries are over (the next attempt would come ``retry_for_s`` or more after the first).

    ``schedule[i]`` is the pause after the (i+1)-th attempt; its last pause repeats. ``rand``
    in [0, 1) picks the jitter (random when None); ``elapsed_s`` runs from the first attempt.
    """
    if not schedule or any(pause < 0 for pause in schedule):
        raise ValueError("a retry schedule needs at least one pause, none negative")
    if attempt < 1:
        raise ValueError("attempts count from 1")
    base = schedule[min(attempt, len(schedule)) - 1]
    r = random.random() if rand is None else rand  # noqa: S311 (jitter, not a secret)
    pause = base * (1 + JITTER * (2 * r - 1))
    if elapsed_s + pause >= retry_for_s:
        return None
    return pause


def nominal_schedule(schedule: Sequence[float], retry_for_s: float) -> list[float]:
    """The pauses without jitter until the retry window closes (what the README shows)."""
    pauses: list[float] = []
    elapsed = 0.0
    while True:
        pause = retry_delay(
            schedule, len(pauses) + 1, elapsed_s=elapsed, retry_for_s=retry_for_s, rand=0.5
        )
        if pause is None:
            return pauses
        pauses.append(pause)
        elapsed += pause


def wants(endpoint: Endpoint, reseller_id: str, event_type: str) -> bool:
    """Whether ``endpoint`` subscribes to this reseller's event (enabled or not)."""
    if endpoint.reseller_id != reseller_id:
        return False
    return not endpoint.event_types or event_type in endpoint.event_types


def recipients(
    endpoints: Iterable[Endpoint], reseller_id: str, event_type: str, written_at: datetime
) -> list[Endpoint]:
    """Enabled endpoints that get an event written at ``written_at``: subscribed, and added
    before it was written (older events reach a new endpoint by replay only)."""
    return [
        e
        for e in endpoints
        if e.enabled and wants(e, reseller_id, event_type) and written_at >= e.created_at
    ]


def should_disable(failures_in_a_row: int, disable_after: int) -> bool:
    """An endpoint is disabled once this many attempts in a row failed."""
    return failures_in_a_row >= disable_after
