"""The hub's Prometheus metrics, defined once. Labels are bounded sets: never an id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS_IN = Counter(
    "hub_events_in_total", "Events consumed by a flow", ["flow", "topic", "event_type"]
)
EVENTS_OUT = Counter(
    "hub_events_out_total", "Events produced by a flow", ["flow", "topic", "event_type"]
)
PROCESSING_SECONDS = Histogram(
    "hub_processing_latency_seconds",
    "Time from an event's event_time to the end of its processing",
    ["flow"],
    buckets=_LATENCY_BUCKETS,
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
