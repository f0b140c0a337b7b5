"""The JSON records of the bridge's own topics: endpoints, parked deliveries, delivery log.

They are plain JSON (not Avro contracts): only the bridge and ``hub webhooks`` read them, and an
endpoint record carries its signing secret, which must never reach a partner-facing schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import SchemaError
from hub.schemas.types import ResellerId, UtcDatetime


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise SchemaError(f"not a {cls.__name__} record: {exc.errors()[0]['msg']}") from exc


class Endpoint(_Record):
    """One reseller's webhook endpoint. ``event_types`` empty: every event of its partner topics.

    Events written to the partner topics before ``created_at`` are not sent (replay sends them).
    During a secret rotation the previous secret also signs until ``previous_secret_until``.
    """

    endpoint_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    reseller_id: ResellerId
    url: str = Field(pattern=r"^https?://")
    event_types: tuple[str, ...] = ()
    secret: str = Field(pattern=r"^whsec_", repr=False)
    previous_secret: str | None = Field(default=None, repr=False)
    previous_secret_until: UtcDatetime | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime

    def secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a delivery at ``now`` (the new one first)."""
        until = self.previous_secret_until
        if self.previous_secret and until is not None and now < until:
            return (self.secret, self.previous_secret)
        return (self.secret,)


class Source(_Record):
    """Where an event was read: the partner topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class Parked(_Record):
    """A delivery waiting for its attempt ``attempt`` at ``due_at`` (epoch seconds).

    The body is kept as it was first built, so every attempt (and a replay) of one event id sends
    the same bytes: a receiver deduplicating by ``webhook-id`` never sees two payloads for one id.
    """

    endpoint_id: str
    reseller_id: ResellerId
    event_id: str
    event_type: str
    body: str
    attempt: int = Field(ge=1)
    due_at: float
    first_attempt_at: float | None = None
    source: Source | None = None
    replay: bool = False
    # A marker, not a delivery: the attempts of this event up to ``attempt`` are over. Read
    # again after a restart, it keeps a finished delivery from being made twice.
    closed: bool = False

    @property
    def chain(self) -> tuple[str, str, bool]:
        """The attempts of one event to one endpoint (a replay starts a chain of its own)."""
        return (self.endpoint_id, self.event_id, self.replay)


class Outcome(StrEnum):
    """What one attempt came to. ``delivered``, ``failed`` and ``skipped`` are final."""

    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    SKIPPED = "skipped"


class Delivery(_Record):
    """One line of the delivery log (``hub.webhooks.deliveries``)."""

    endpoint_id: str
    reseller_id: str
    event_id: str
    event_type: str
    attempt: int
    outcome: Outcome
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0
    at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
    next_attempt_at: UtcDatetime | None = None
    source: Source | None = None
    replay: bool = False
    test: bool = False
