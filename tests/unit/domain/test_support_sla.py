"""SLA timers: a warning before the deadline, a breach exactly once, stopped by response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.domain.enums import Severity
from hub.domain.support.sla import (
    SlaBreached,
    SlaClock,
    SlaFact,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    SlaWarning,
    default_sla_policy,
    evaluate_sla,
    next_check_at,
    record_resolution,
    record_response,
    start_sla_timer,
)

T0 = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
H = timedelta(hours=1)


def critical() -> SlaTimer:
    return start_sla_timer("T-1", Severity.CRITICAL, T0, default_sla_policy())


def of(facts: list[SlaFact], kind: type[SlaFact], clock: SlaClock) -> list[SlaFact]:
    return [f for f in facts if isinstance(f, kind) and f.clock is clock]


@pytest.mark.parametrize(
    ("severity", "hours"),
    [(Severity.CRITICAL, 2), (Severity.MODERATE, 4), (Severity.MINIMAL, 8)],
)
def test_default_first_response_targets_are_microsofts_2_4_8_hours(
    severity: Severity, hours: int
) -> None:
    timer = start_sla_timer("T", severity, T0, default_sla_policy())
    assert timer.response_due_at - T0 == timedelta(hours=hours)
    assert timer.response_warn_at - T0 == timedelta(hours=hours) * 8 / 10


def test_default_resolution_targets_are_one_three_and_five_days() -> None:
    policy = default_sla_policy()
    got = [policy.targets[s].resolution for s in Severity]
    assert got == [timedelta(days=1), timedelta(days=3), timedelta(days=5)]


def test_warning_comes_once_then_breach_exactly_once_then_silence() -> None:
    timer = critical()
    timer, facts = evaluate_sla(timer, T0 + timedelta(minutes=95))
    assert facts == []
    timer, facts = evaluate_sla(timer, T0 + timedelta(minutes=96))  # 80 % of 2 h
    assert [type(f) for f in facts] == [SlaWarning]
    assert facts[0].clock is SlaClock.FIRST_RESPONSE
    timer, facts = evaluate_sla(timer, T0 + timedelta(minutes=110))
    assert facts == []
    timer, facts = evaluate_sla(timer, T0 + 2 * H)
    assert facts == [
        SlaBreached(
            ticket_id="T-1",
            clock=SlaClock.FIRST_RESPONSE,
            severity=Severity.CRITICAL,
            due_at=T0 + 2 * H,
            observed_at=T0 + 2 * H,
        )
    ]
    for later in (2 * H, 3 * H, 10 * H):
        timer, facts = evaluate_sla(timer, T0 + later)
        assert of(facts, SlaBreached, SlaClock.FIRST_RESPONSE) == []
        assert of(facts, SlaWarning, SlaClock.FIRST_RESPONSE) == []


def test_first_evaluation_after_the_deadline_breaches_without_a_late_warning() -> None:
    timer, facts = evaluate_sla(critical(), T0 + 5 * H)
    assert [type(f) for f in facts] == [SlaBreached]
    timer, facts = evaluate_sla(timer, T0 + 6 * H)
    assert facts == []


def test_response_before_the_deadline_stops_the_first_response_clock_only() -> None:
    timer = record_response(critical(), T0 + H)
    timer, facts = evaluate_sla(timer, T0 + 3 * H)
    assert facts == []
    timer, facts = evaluate_sla(timer, T0 + 23 * H)
    assert [(type(f), f.clock) for f in facts] == [(SlaWarning, SlaClock.RESOLUTION)]
    timer, facts = evaluate_sla(timer, T0 + 24 * H)
    assert [(type(f), f.clock) for f in facts] == [(SlaBreached, SlaClock.RESOLUTION)]


def test_response_recorded_late_still_breaches_once_even_if_nobody_looked_in_time() -> None:
    timer = record_response(critical(), T0 + 3 * H)
    timer, facts = evaluate_sla(timer, T0 + 4 * H)
    assert of(facts, SlaBreached, SlaClock.FIRST_RESPONSE) != []
    _, facts = evaluate_sla(timer, T0 + 5 * H)
    assert facts == []


def test_resolution_stops_both_clocks() -> None:
    timer = record_resolution(critical(), T0 + 30 * timedelta(minutes=1))
    timer, facts = evaluate_sla(timer, T0 + 100 * H)
    assert facts == []
    assert next_check_at(timer) is None


def test_second_response_does_not_move_the_first() -> None:
    timer = record_response(critical(), T0 + H)
    assert record_response(timer, T0 + 3 * H).responded_at == T0 + H


def test_next_check_is_the_next_warning_then_the_deadline() -> None:
    timer = critical()
    assert next_check_at(timer) == T0 + timedelta(minutes=96)
    timer, _ = evaluate_sla(timer, T0 + timedelta(minutes=96))
    assert next_check_at(timer) == T0 + 2 * H
    timer, _ = evaluate_sla(timer, T0 + 2 * H)
    assert next_check_at(timer) == T0 + timedelta(hours=24) * 8 / 10


def test_next_check_still_owes_the_breach_of_a_clock_stopped_too_late() -> None:
    timer = record_response(critical(), T0 + 3 * H)
    assert next_check_at(timer) == T0 + 2 * H


def test_policy_without_every_severity_is_rejected() -> None:
    target = SlaTarget(first_response=H, resolution=2 * H)
    with pytest.raises(ValidationError, match="no SLA target"):
        SlaPolicy(targets={Severity.CRITICAL: target})


def test_resolution_target_shorter_than_first_response_is_rejected() -> None:
    with pytest.raises(ValidationError, match="shorter"):
        SlaTarget(first_response=2 * H, resolution=H)


def test_naive_evaluation_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_sla(critical(), datetime(2025, 3, 30, 3, 0))


def test_configured_targets_and_warning_percentage_are_used() -> None:
    target = SlaTarget(first_response=10 * H, resolution=20 * H)
    policy = SlaPolicy(targets=dict.fromkeys(Severity, target), warn_at_percent=50)
    timer = start_sla_timer("T", Severity.MINIMAL, T0, policy)
    assert timer.response_warn_at == T0 + 5 * H
    assert timer.response_due_at == T0 + 10 * H


@settings(max_examples=300, deadline=None)
@given(
    severity=st.sampled_from(list(Severity)),
    offsets=st.lists(st.integers(min_value=0, max_value=8 * 24 * 3600), max_size=25),
    respond_after=st.one_of(st.none(), st.integers(min_value=0, max_value=8 * 24 * 3600)),
)
def test_each_clock_warns_at_most_once_and_breaches_exactly_when_due(
    severity: Severity, offsets: list[int], respond_after: int | None
) -> None:
    timer = start_sla_timer("T", severity, T0, default_sla_policy())
    if respond_after is not None:
        timer = record_response(timer, T0 + timedelta(seconds=respond_after))
    seen: list[SlaFact] = []
    for offset in sorted(offsets):
        # A restart between evaluations: the timer goes through its table's serialisation.
        timer = SlaTimer.model_validate_json(timer.model_dump_json())
        timer, facts = evaluate_sla(timer, T0 + timedelta(seconds=offset))
        seen.extend(facts)
    last = T0 + timedelta(seconds=max(offsets, default=0))
    stop = None if respond_after is None else T0 + timedelta(seconds=respond_after)
    effective = last if stop is None else min(last, stop)
    for clock in SlaClock:
        warnings = of(seen, SlaWarning, clock)
        breaches = of(seen, SlaBreached, clock)
        assert len(warnings) <= 1
        assert len(breaches) <= 1
        if warnings and breaches:
            assert seen.index(warnings[0]) < seen.index(breaches[0])
        due = timer.response_due_at if clock is SlaClock.FIRST_RESPONSE else timer.resolution_due_at
        clock_effective = effective if clock is SlaClock.FIRST_RESPONSE else last
        assert bool(breaches) == (bool(offsets) and clock_effective >= due)
