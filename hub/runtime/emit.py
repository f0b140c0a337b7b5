"""What a handler asks the pipeline to send."""

from __future__ import annotations

from dataclasses import dataclass

from hub.schemas.envelope import Event


@dataclass(frozen=True)
class Emit:
    """One event a handler wants sent: to ``topic`` under ``key``."""

    topic: str
    key: str
    event: Event
