"""The hub's Prometheus metrics, defined once. Labels are bounded sets: never an id.

A topic label names a topic family, not a topic: a reseller's own topics
(``partner.<id>.billing``, ``reseller.<id>.orders``) count under ``partner.billing`` and
``reseller.orders``, so the number of series does not grow with the number of resellers.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

from hub.topics import INGRESS_KINDS, PartnerTopic

if TYPE_CHECKING:
    from hub.runtime.dead_letter import SourceMessage
    from hub.schemas.envelope import Event


# ``<prefix>partner.<id>.<kind>`` and ``<prefix>reseller.<id>.<kind>``, also as ``<...>.dlq``.
def _kinds(kinds: Iterable[str]) -> str:
    return "|".join(re.escape(kind) for kind in kinds)


_ID = r"[A-Za-z0-9_-]{1,64}"
_PER_RESELLER = re.compile(
    r"(?P<head>^|.*\.)"
    rf"(?:(?P<owner>partner)\.{_ID}\.(?P<kind>{_kinds(PartnerTopic)})"
    rf"|(?P<owner2>reseller)\.{_ID}\.(?P<kind2>{_kinds(INGRESS_KINDS.values())}))"
    r"(?P<tail>\.dlq)?"
)


_CHILDREN: dict[tuple[int, tuple[tuple[str, str], ...]], Any] = {}


def child(metric: Any, **labels: str) -> Any:
    """``metric.labels(**labels)``, looked up once per label values (a lock and two dict
    lookups per call otherwise, on every message). For series whose labels are bounded, as every
    hub series is, and that nothing removes."""
    key = (id(metric), tuple(labels.items()))
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(**labels)
    return found


@functools.lru_cache(maxsize=4096)  # asked per message in and out: a bounded memo, not a regex
def topic_family(topic: str) -> str:
    """The label of ``topic``: a reseller's own topic without its reseller id, others as named.

    >>> topic_family("partner.contoso.billing"), topic_family("reseller.orders")
    ('partner.billing', 'reseller.orders')
    """
    found = _PER_RESELLER.fullmatch(topic)
    if found is None:
        return topic
    head, tail = found.group("head"), found.group("tail") or ""
    owner = found.group("owner") or found.group("owner2")
    kind = found.group("kind") or found.group("kind2")
    return f"{head}{owner}.{kind}{tail}"


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS_IN = Counter(
    "hub_events_in_total", "Events consumed by a flow", ["flow", "topic", "event_type"]
)
EVENTS_OUT = Counter(
    "hub_events_out_total", "Events produced by a flow", ["flow", "topic", "event_type"]
)
# Processing latency runs from the moment the worker took the message: an event's own
# event_time may be days old (a replay, the demo's simulated month, a reseller's late resend) and
# would make the latency say nothing about the hub. How old events are is event-time lag.
PROCESSING_SECONDS = Histogram(
    "hub_processing_latency_seconds",
    "Time from the worker taking a message to the end of its processing (outputs sent)",
    ["flow"],
    buckets=_LATENCY_BUCKETS,
)
EVENT_TIME_LAG = Histogram(
    "hub_event_time_lag_seconds",
    "Age of an event (its event_time to the end of its processing): replays and late or "
    "simulated events are old, so this is no latency",
    ["flow"],
    buckets=(1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 31 * 86400.0),
)
DEAD_LETTERS = Counter(
    "hub_dead_letters_total",
    "Messages dead-lettered, by source topic and error type",
    ["topic", "error_type"],
)
LEFT_TO_OWNER = Counter(
    "hub_events_left_to_owner_total",
    "Undecodable messages an observing flow skipped: the topic's owning flow dead-letters them",
    ["flow", "topic"],
)
RETRIES = Counter("hub_retries_total", "Retries of a retriable failure", ["flow", "error_type"])
CONSUMER_LAG = Gauge(
    "hub_consumer_lag_messages", "Messages behind the end of a partition", ["topic", "partition"]
)
JOURNAL_COMPLETIONS = Counter(
    "hub_journal_completions_total",
    "Journal entries a worker completed after a restart or rebalance (writes made again)",
    ["flow"],
)
JOURNAL_ENTRY_BYTES = Histogram(
    "hub_journal_entry_bytes",
    "Size of each journal entry's body (a message's state writes)",
    ["flow"],
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
)
JOURNAL_BATCH_MESSAGES = Histogram(
    "hub_journal_batch_messages",
    "Messages whose writes and outputs share one journal entry (a batch of one partition)",
    ["flow"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
STATE_REFUSED = Counter(
    "hub_state_refused_total",
    "Messages refused because a state value or output would not fit one Kafka record",
    ["flow"],
)
PARKED = Counter(
    "hub_messages_parked_total",
    "Messages parked in their flow's state after a retriable failure, to be tried again later",
    ["flow", "error_type"],
)

# Failure counters start at 0 for their known label values, so a dashboard shows 0 instead of
# "No data" and increase() sees the first failure (a series born at 1 shows no increase).
# Error types of retries: the retriable errors the hub raises, and "parked" (a parked message's
# retry). Dead letters: the non-retriable errors a message itself causes; others appear when seen.
RETRY_ERROR_TYPES = ("RetriableError", "ExternalServiceError", "PartnerCenterError", "parked")
DEAD_LETTER_ERROR_TYPES = ("SchemaError", "ValidationFailed", "BusinessRuleViolation")


def zero_flow_failures(flow: str) -> None:
    """A flow's failure series at 0: its retries, parked messages and refused state."""
    for error_type in RETRY_ERROR_TYPES:
        RETRIES.labels(flow=flow, error_type=error_type)
        if error_type != "parked":
            PARKED.labels(flow=flow, error_type=error_type)
    STATE_REFUSED.labels(flow=flow)


def zero_dead_letters(topics: Iterable[str]) -> None:
    """Dead-letter series at 0 for messages from ``topics`` (a worker's source topics)."""
    for topic in topics:
        for error_type in DEAD_LETTER_ERROR_TYPES:
            DEAD_LETTERS.labels(topic=topic_family(topic), error_type=error_type)


def zero_failure_series() -> None:
    """The failure series whose labels are closed sets, at 0: Partner Center errors (timeouts
    and connection errors) and throttles per operation, provisioning failures, SLA breaches."""
    # Imported here: these modules are the flows' and the connector's, loaded by the worker.
    from hub.connectors.partner_center.metrics import metrics_for
    from hub.connectors.partner_center.operations import Operation
    from hub.domain.enums import Severity
    from hub.streams.orders import metrics as orders
    from hub.streams.support import metrics as support

    pc = metrics_for()
    for operation in [*(o.value for o in Operation), "authenticate"]:
        pc.throttled.labels(operation)
        for code in ("timeout", "connection_error"):
            pc.errors.labels(operation, code)
    for retriable in ("true", "false"):
        orders.PROVISIONING_FAILURES.labels(retriable=retriable)
    for target in ("initial_response", "resolution"):
        for severity in Severity:
            support.SLA_BREACHES.labels(target=target, severity=severity.value)


class FlowTimings:
    """One flow's processing latency, measured from when the worker took each message, and the
    event-time lag of what it finished. Constructing it sets the flow's failure series to 0."""

    # Messages taken but never finished (dead-lettered, parked) leave their entry: bounded.
    _MAX_TAKEN = 10_000

    def __init__(self, flow: str, clock: Callable[[], float] = time.time) -> None:
        self._processing = PROCESSING_SECONDS.labels(flow=flow)
        self._lag = EVENT_TIME_LAG.labels(flow=flow)
        self._clock = clock
        self._taken: dict[tuple[str, int, int], float] = {}
        self._topics: set[str] = set()
        zero_flow_failures(flow)
        zero_failure_series()

    def took(self, source: SourceMessage) -> None:
        """The worker has taken ``source``: its processing time starts now."""
        if source.topic not in self._topics:
            self._topics.add(source.topic)
            zero_dead_letters([source.topic])
        if len(self._taken) >= self._MAX_TAKEN:
            del self._taken[next(iter(self._taken))]
        self._taken[(source.topic, source.partition, source.offset)] = self._clock()

    def finished(self, source: SourceMessage, event: Event) -> None:
        """``event`` (from ``source``) is processed and its outputs sent."""
        now = self._clock()
        taken = self._taken.pop((source.topic, source.partition, source.offset), now)
        self._processing.observe(max(0.0, now - taken))
        self._lag.observe(max(0.0, now - event.event_time.timestamp()))
