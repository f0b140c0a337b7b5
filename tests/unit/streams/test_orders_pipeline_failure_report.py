"""The pipeline's failure report: a flow may announce a failure as an event, and the message is
still dead-lettered with its original bytes."""

from __future__ import annotations

import random
from collections.abc import Sequence

from hub.errors import BusinessRuleViolation, RetriableError
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Outcome, Pipeline, RetryPolicy
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from tests.support.samples import sample

Sent = list[tuple[str, bytes | None, bytes | None, Headers]]


def _pipeline(sent: Sent) -> Pipeline:
    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    async def no_sleep(_: float) -> None:
        return None

    return Pipeline(
        "test",
        Codec(),
        send,
        DeadLetters(send),
        RetryPolicy(max_attempts=3),
        sleep=no_sleep,
        rng=random.Random(1),
    )


def _source() -> SourceMessage:
    value = Codec().encode(sample("OrderAccepted"))
    return SourceMessage("orders", 0, 7, b"contoso", value, [])


async def test_failure_report_is_sent_before_the_dead_letter_with_the_attempt_count() -> None:
    sent: Sent = []
    seen: list[int] = []

    async def handler(event: Event) -> Sequence[Emit]:
        raise RetriableError("still throttled")

    async def report(event: Event, error: Exception, attempts: int) -> Sequence[Emit]:
        seen.append(attempts)
        return [Emit("status", "contoso", sample("ProvisioningFailed"))]

    outcome = await _pipeline(sent).process(_source(), handler, report)

    assert outcome is Outcome.DEAD_LETTERED
    assert seen == [3]
    assert [topic for topic, *_ in sent] == ["status", "orders.dlq"]
    assert sent[1][2] == _source().value


async def test_without_a_failure_report_the_pipeline_only_dead_letters() -> None:
    sent: Sent = []

    async def handler(event: Event) -> Sequence[Emit]:
        raise BusinessRuleViolation("Nope", "refused")

    assert await _pipeline(sent).process(_source(), handler) is Outcome.DEAD_LETTERED
    assert [topic for topic, *_ in sent] == ["orders.dlq"]


async def test_a_failing_failure_report_still_dead_letters_the_message() -> None:
    sent: Sent = []

    async def handler(event: Event) -> Sequence[Emit]:
        raise BusinessRuleViolation("Nope", "refused")

    async def report(event: Event, error: Exception, attempts: int) -> Sequence[Emit]:
        raise RuntimeError("report broke")

    assert await _pipeline(sent).process(_source(), handler, report) is Outcome.DEAD_LETTERED
    assert [topic for topic, *_ in sent] == ["orders.dlq"]
    assert dict(sent[0][3])["dlq.error.type"] == b"BusinessRuleViolation"
