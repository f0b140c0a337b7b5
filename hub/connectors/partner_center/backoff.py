"""Exponential backoff with full jitter, and the rule for honouring ``Retry-After``."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts every try, the first included."""

    max_attempts: int = 5
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 20.0
    # A Retry-After longer than this is not slept through inline: the error goes back to the
    # caller, still retriable, so a stream can park the work instead of holding a partition.
    max_inline_wait_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base_s < 0 or self.backoff_cap_s < 0:
            raise ValueError("backoff times cannot be negative")


def backoff_delay(
    attempt: int, policy: RetryPolicy, rng: random.Random, retry_after: float | None = None
) -> float:
    """Delay before try ``attempt + 1``: full jitter, never shorter than the server asked for."""
    ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * (2 ** (attempt - 1)))
    jitter = rng.uniform(0.0, ceiling)
    if retry_after is None:
        return jitter
    return max(retry_after, jitter)
