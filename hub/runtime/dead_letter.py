"""Dead letters: a message the hub cannot process goes to ``<topic>.dlq`` unchanged, with why.

The original key, value and headers are kept byte for byte; ``dlq.*`` headers say what failed,
where the message came from and when. The agent then goes on with the next message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.metrics import DEAD_LETTERS, topic_family
from hub.topics import TopicCatalog

Headers = list[tuple[str, bytes]]
# Sends (topic, key, value, headers); the faust producer in a worker, anything in a test.
RawSender = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[None]]

_MAX_MESSAGE = 2000


@dataclass(frozen=True)
class SourceMessage:
    """What the hub received, exactly as it arrived."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers

    @classmethod
    def from_faust(cls, message: Any) -> SourceMessage:
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=normalise_headers(message.headers),
        )


def normalise_headers(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> Headers:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


def dead_letter_headers(source: SourceMessage, error: BaseException, now: datetime) -> Headers:
    message = str(error) or type(error).__name__
    return [
        *source.headers,
        ("dlq.error.type", type(error).__name__.encode()),
        ("dlq.error.message", message[:_MAX_MESSAGE].encode("utf-8", "replace")),
        ("dlq.error.retriable", b"true" if getattr(error, "retriable", False) else b"false"),
        ("dlq.source.topic", source.topic.encode()),
        ("dlq.source.partition", str(source.partition).encode()),
        ("dlq.source.offset", str(source.offset).encode()),
        ("dlq.time", now.isoformat().encode()),
    ]


class DeadLetters:
    """Sends a failed message to its topic's dead-letter topic and counts it."""

    def __init__(self, send: RawSender, clock: Callable[[], datetime] | None = None) -> None:
        self._send = send
        self._clock = clock or (lambda: datetime.now(UTC))

    async def send(self, source: SourceMessage, error: BaseException) -> None:
        headers = dead_letter_headers(source, error, self._clock())
        await self._send(TopicCatalog.dead_letter(source.topic), source.key, source.value, headers)
        DEAD_LETTERS.labels(topic=topic_family(source.topic), error_type=type(error).__name__).inc()
