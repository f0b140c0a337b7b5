"""The bridge's pure rules: retry pauses, who gets an event, when an endpoint is disabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.webhooks import policy
from hub.webhooks.records import Endpoint

SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
THREE_DAYS = 3 * 24 * 3600.0
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def endpoint(**changes: object) -> Endpoint:
    fields: dict[str, object] = {
        "endpoint_id": "ep1",
        "reseller_id": "r1",
        "url": "https://example.test/hook",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return Endpoint.model_validate(fields)


def test_pauses_follow_the_schedule_and_repeat_its_last() -> None:
    got = [
        policy.retry_delay(SCHEDULE, n, elapsed_s=0, retry_for_s=THREE_DAYS, rand=0.5)
        for n in range(1, 9)
    ]
    assert got == [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0, 36000.0]


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.8), (0.999999, 1.2)])
def test_jitter_stays_within_a_fifth_of_the_pause(rand: float, factor: float) -> None:
    pause = policy.retry_delay(SCHEDULE, 2, elapsed_s=0, retry_for_s=THREE_DAYS, rand=rand)
    assert pause == pytest.approx(300.0 * factor, rel=1e-5)


def test_retries_stop_once_the_next_attempt_would_pass_three_days() -> None:
    late = THREE_DAYS - 10
    assert policy.retry_delay(SCHEDULE, 7, elapsed_s=late, retry_for_s=THREE_DAYS) is None
    pauses = policy.nominal_schedule(SCHEDULE, THREE_DAYS)
    assert sum(pauses) < THREE_DAYS
    assert sum(pauses) + 36000.0 >= THREE_DAYS
    assert pauses[:6] == list(SCHEDULE)
    assert len(pauses) == 11  # 11 retries after the first attempt, over about 2.8 days


def test_compressed_schedule_for_tests_gives_up_quickly() -> None:
    assert policy.nominal_schedule((0.1, 0.2), 1.0) == [0.1, 0.2, 0.2, 0.2, 0.2]


def test_an_empty_or_negative_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="schedule"):
        policy.retry_delay((), 1, elapsed_s=0, retry_for_s=10)
    with pytest.raises(ValueError, match="schedule"):
        policy.retry_delay((-1.0,), 1, elapsed_s=0, retry_for_s=10)


def test_an_endpoint_gets_only_its_resellers_subscribed_events() -> None:
    invoices = endpoint(event_types=("InvoiceIssued",))
    every = endpoint(endpoint_id="ep2")
    other = endpoint(endpoint_id="ep3", reseller_id="r2")
    later = T0 + timedelta(seconds=1)
    assert policy.recipients([invoices, every, other], "r1", "InvoiceIssued", later) == [
        invoices,
        every,
    ]
    assert policy.recipients([invoices, every, other], "r1", "OrderAccepted", later) == [every]
    assert policy.recipients([invoices, every, other], "r2", "OrderAccepted", later) == [other]


def test_disabled_endpoints_and_events_older_than_the_endpoint_are_not_sent() -> None:
    off = endpoint(enabled=False)
    on = endpoint(endpoint_id="ep2")
    assert policy.recipients([off, on], "r1", "OrderAccepted", T0) == [on]
    assert policy.recipients([on], "r1", "OrderAccepted", T0 - timedelta(seconds=1)) == []
    assert policy.wants(off, "r1", "OrderAccepted")  # a replay still selects its events


def test_an_endpoint_is_disabled_after_n_failures_in_a_row() -> None:
    assert not policy.should_disable(2, 3)
    assert policy.should_disable(3, 3)
