"""What a reseller is told about a message of its own the hub could not decode.

The message is dead-lettered as any other; its writer also gets an ``IngressRejected`` on its
status topic naming where it wrote it (topic, partition, offset) and why, in terms that echo
nothing of the payload: field paths and rules, never values, since on a broker that does not
authenticate the writer is only the key's claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from hub.errors import ValidationFailed
from hub.runtime.dead_letter import SourceMessage
from hub.schemas.envelope import derived_event_id
from hub.schemas.events.ingress import IngressRejected
from hub.schemas.validation import ContractViolation

# The namespace of the ids given to undecodable records (they carry none the hub can read).
_RECORD_NAMESPACE = uuid.UUID("6f1d3c52-5a55-4e7b-9a53-0b1f7f0c2a11")
_MAX_DETAIL = 400
_SCHEMA_HINTS = ("schema id", "fingerprint", "event contract", "no contract", "registry")

UNDECODABLE = "undecodable"
UNKNOWN_SCHEMA = "unknown_schema"
INVALID_EVENT = "invalid_event"


@dataclass(frozen=True)
class Origin:
    """Where the writer put the record: its own topic (through the gateway) or the shared one."""

    topic: str
    partition: int
    offset: int


def origin_of(source: SourceMessage, forwarded_from: str | None, prefix: str) -> Origin:
    """The writer's coordinates: the gateway's ``topic/partition/offset`` header if it is well
    formed, else the record's own; the topic without the hub's prefix."""
    topic, partition, offset = source.topic, source.partition, source.offset
    if forwarded_from is not None:
        parts = forwarded_from.rsplit("/", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            topic, partition, offset = parts[0], int(parts[1]), int(parts[2])
    return Origin(topic.removeprefix(prefix), partition, offset)


def _violation(error: BaseException) -> ContractViolation | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ContractViolation):
            return seen
        seen = seen.__cause__
    return None


def reason_of(error: BaseException) -> tuple[str, str]:
    """(code, detail) of a decode failure; the detail names no value of the payload."""
    violation = _violation(error)
    if violation is not None:
        # A rule's own words can quote the value (pydantic's do): only its kind is kept.
        kinds = (rule.rsplit("(", 1)[-1].rstrip(")") for _path, _value, rule in violation.problems)
        paths = (path for path, _value, _rule in violation.problems)
        rules = "; ".join(f"{path} ({kind})" for path, kind in zip(paths, kinds, strict=True))
        return INVALID_EVENT, f"{violation.contract} breaks its contract: {rules}"[:_MAX_DETAIL]
    if isinstance(error, ValidationFailed):
        return INVALID_EVENT, f"the event breaks its contract ({type(error).__name__})"
    text = (str(error) or type(error).__name__).splitlines()[0]
    code = UNKNOWN_SCHEMA if any(hint in text for hint in _SCHEMA_HINTS) else UNDECODABLE
    if "does not parse" in text:
        # The parser's own words can quote the bytes it choked on: keep the contract's name.
        text = text.split("(", 1)[0].strip()
    return code, text[:_MAX_DETAIL]


def undecodable_report(
    writer: str, origin: Origin, error: BaseException, now: datetime
) -> IngressRejected:
    """The report of one undecodable record to ``writer``; the same record, the same event id."""
    record_id = uuid.uuid5(_RECORD_NAMESPACE, f"{origin.topic}/{origin.partition}/{origin.offset}")
    code, detail = reason_of(error)
    where = f"{origin.topic}/{origin.partition}/{origin.offset}"
    return IngressRejected(
        event_id=derived_event_id(record_id, "IngressRejected", origin.topic),
        event_time=now,
        correlation_id=str(record_id),
        causation_id=None,
        reseller_id=writer,
        topic=origin.topic,
        event_type="unknown",
        rejected_event_id=record_id,
        code=code,
        field="record",
        value=where,
        message=(
            f"the record at {origin.topic} partition {origin.partition} offset "
            f"{origin.offset} was not processed ({code}): {detail}"
        ),
    )
