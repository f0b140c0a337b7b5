"""Failure counters exist at 0 before the first failure, and processing latency runs from when
the worker took a message, not from the event's own (possibly old) event_time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from hub.domain.enums import Severity
from hub.errors import (
    BusinessRuleViolation,
    ExternalServiceError,
    RetriableError,
    SchemaError,
    ValidationFailed,
)
from hub.metrics import DEAD_LETTER_ERROR_TYPES, RETRY_ERROR_TYPES, FlowTimings
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Outcome, Pipeline
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from tests.support.samples import sample


def _value(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _forget_shared_series() -> None:
    """The registry is the process's: drop what other tests counted, to see what set-up makes."""
    from hub.connectors.partner_center.metrics import metrics_for
    from hub.streams.orders import metrics as orders
    from hub.streams.support import metrics as support

    pc = metrics_for()
    for metric in (pc.throttled, pc.errors, orders.PROVISIONING_FAILURES, support.SLA_BREACHES):
        metric.clear()


def test_failure_counters_are_at_zero_once_a_flow_is_set_up() -> None:
    _forget_shared_series()
    assert _value("hub_orders_provisioning_failures_total", {"retriable": "false"}) is None

    FlowTimings("zero-flow")

    for error_type in RETRY_ERROR_TYPES:
        assert _value("hub_retries_total", {"flow": "zero-flow", "error_type": error_type}) == 0
    assert _value("hub_state_refused_total", {"flow": "zero-flow"}) == 0
    assert (
        _value("hub_messages_parked_total", {"flow": "zero-flow", "error_type": "RetriableError"})
        == 0
    )
    for operation in ("checkout", "create_cart", "authenticate"):
        assert _value("hub_partner_center_throttled_total", {"operation": operation}) == 0
        assert (
            _value("hub_partner_center_errors_total", {"operation": operation, "code": "timeout"})
            == 0
        )
    for retriable in ("true", "false"):
        assert _value("hub_orders_provisioning_failures_total", {"retriable": retriable}) == 0
    for severity in Severity:
        for target in ("initial_response", "resolution"):
            labels = {"target": target, "severity": severity.value}
            assert _value("hub_support_sla_breaches_total", labels) == 0


def test_dead_letter_counters_are_at_zero_for_a_topic_once_a_message_of_it_is_taken() -> None:
    timings = FlowTimings("dlq-flow")
    topic = "reseller.orders.zero-test"
    assert _value("hub_dead_letters_total", {"topic": topic, "error_type": "SchemaError"}) is None

    timings.took(SourceMessage(topic, 0, 1, None, b"", []))

    for error_type in DEAD_LETTER_ERROR_TYPES:
        assert _value("hub_dead_letters_total", {"topic": topic, "error_type": error_type}) == 0


def test_the_zeroed_error_types_are_the_hubs_own() -> None:
    retriable = {RetriableError, ExternalServiceError}
    assert {t.__name__ for t in retriable} <= set(RETRY_ERROR_TYPES)
    non_retriable = {SchemaError, ValidationFailed, BusinessRuleViolation}
    assert {t.__name__ for t in non_retriable} == set(DEAD_LETTER_ERROR_TYPES)


def test_latency_runs_from_taking_the_message_and_event_age_is_lag() -> None:
    now = [1_000.0]
    timings = FlowTimings("clock-flow", clock=lambda: now[0])
    source = SourceMessage("orders", 3, 42, None, b"", [])
    event = sample("OrderAccepted").model_copy(
        update={"event_time": datetime.fromtimestamp(1_000.0, UTC) - timedelta(days=3)}
    )
    before = _value("hub_processing_latency_seconds_sum", {"flow": "clock-flow"}) or 0.0

    timings.took(source)
    now[0] += 0.25
    timings.finished(source, event)

    latency = _value("hub_processing_latency_seconds_sum", {"flow": "clock-flow"})
    assert latency == before + 0.25
    lag = _value("hub_event_time_lag_seconds_sum", {"flow": "clock-flow"})
    assert lag == 3 * 86400 + 0.25


async def test_a_pipeline_reports_an_old_event_fast_with_its_age_as_lag() -> None:
    sent: list[tuple[str, bytes | None]] = []

    async def send(topic: str, key: bytes | None, value: bytes | None, h: Headers) -> None:
        sent.append((topic, key))

    async def handler(event: Event) -> Sequence[Emit]:
        return [Emit("status", "contoso", sample("OrderRejected"))]

    pipeline = Pipeline("old-event-flow", Codec(), send, DeadLetters(send))
    old = sample("OrderAccepted").model_copy(
        update={"event_time": datetime.now(UTC) - timedelta(days=30)}
    )
    source = SourceMessage("orders", 0, 7, b"contoso", Codec().encode(old), [])

    assert await pipeline.process(source, handler) is Outcome.PROCESSED

    labels = {"flow": "old-event-flow"}
    assert _value("hub_processing_latency_seconds_count", labels) == 1
    assert (_value("hub_processing_latency_seconds_sum", labels) or 0) < 5
    assert (_value("hub_event_time_lag_seconds_sum", labels) or 0) >= 30 * 86400
