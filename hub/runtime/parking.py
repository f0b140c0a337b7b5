"""Parking: a message that cannot be handled yet waits in its flow's state, not in its partition.

Retrying in place (sleep, try again) holds the agent, and once its buffer fills, faust's fetcher
and with it every flow of the worker: one subscription whose product was not in the catalogue
yet stopped billing for minutes. With parking, a retriable failure is tried again in place only
briefly (``inline_attempts``); then the message is written, as it arrived, to the flow's state
under its due time (``parked|<partition>|<due ms>|<event id>``) in the same journaled step that
marks it handled, and the partition moves on. A timer looks at each partition's first parked
entry and, when one is due, sends a tick to that partition of a hub-internal topic the flow's
agent reads; a tick takes the messages due by its time, a page at a time, and handles each again
in its own nested transaction. After the last delay a message still failing is dead-lettered
with its original bytes and the reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.runtime.dead_letter import Headers, SourceMessage

TICK_HEADER = "hub.retry.tick"
PARKED_VIEW = "parked"


@dataclass(frozen=True)
class Parking:
    """Where a flow parks messages and how long each waits."""

    topic: str  # where ticks go: a hub-internal topic the flow's agent reads
    inline_attempts: int = 2
    # Waits before each retry of a parked message; after the last, a dead letter.
    delays_s: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
    page: int = 50

    def delay_ms(self, attempt: int) -> int | None:
        """The wait before parked attempt ``attempt`` (1-based), or None: no attempts left."""
        if attempt > len(self.delays_s):
            return None
        return int(self.delays_s[attempt - 1] * 1000)


def due_in(first: tuple[str, Any] | None, now_ms: int) -> bool:
    """Whether a partition whose first parked entry is ``first`` has a message due."""
    return first is not None and due_of(first[0]) <= now_ms


def tick(now_ms: int) -> tuple[bytes, Headers]:
    """A tick's value and headers: "retry what is due by ``now_ms``"."""
    return json.dumps({"now_ms": now_ms}).encode(), [(TICK_HEADER, b"1")]


def is_tick(source: SourceMessage) -> bool:
    return any(name == TICK_HEADER for name, _ in source.headers)


def tick_time(source: SourceMessage) -> int:
    doc = json.loads(source.value or b"{}")
    return int(doc["now_ms"])


def parked_key(partition: int, due_ms: int, event_id: str) -> str:
    return f"{partition}|{due_ms:015d}|{event_id}"


def due_of(key: str) -> int:
    return int(key.split("|")[1])


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _raw(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def park_doc(source: SourceMessage, attempt: int, error: BaseException) -> dict[str, Any]:
    """The message as it arrived, and why it waits."""
    return {
        "topic": source.topic,
        "partition": source.partition,
        "offset": source.offset,
        "key": _b64(source.key),
        "value": _b64(source.value),
        "headers": [[name, _b64(value)] for name, value in source.headers],
        "attempt": attempt,
        "error": f"{type(error).__name__}: {error}"[:500],
    }


def source_of(doc: Mapping[str, Any]) -> SourceMessage:
    return SourceMessage(
        topic=str(doc["topic"]),
        partition=int(doc["partition"]),
        offset=int(doc["offset"]),
        key=_raw(doc["key"]),
        value=_raw(doc["value"]),
        headers=[(str(name), _raw(value) or b"") for name, value in doc["headers"]],
    )
