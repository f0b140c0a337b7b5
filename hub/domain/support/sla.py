"""SLA timers: first-response and resolution targets per severity, a warning, then one breach.

A timer carries its own due times, fixed when the ticket opens, so a policy change never moves
the goalposts of tickets already running and evaluation needs nothing but the timer and a clock.
Targets run on calendar time: the white-label desk works 24x7.

Default targets: first response 2 h / 4 h / 8 h for critical / moderate / minimal (Microsoft's
initial-response targets for A/B/C); resolution 24 h / 3 days / 5 days, our own choice (Microsoft
publishes no CSP resolution target), so a critical outage gets a day, not a working week.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import Severity


class SlaClock(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaTarget(BaseModel):
    model_config = ConfigDict(frozen=True)

    first_response: timedelta
    resolution: timedelta

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.first_response <= timedelta(0):
            raise ValueError("first_response target must be positive")
        if self.resolution < self.first_response:
            raise ValueError("resolution target cannot be shorter than first response")
        return self


class SlaPolicy(BaseModel):
    """Targets for every severity and when to warn, as a whole percentage of the target."""

    model_config = ConfigDict(frozen=True)

    targets: dict[Severity, SlaTarget]
    warn_at_percent: int = Field(default=80, ge=1, le=99)

    @model_validator(mode="after")
    def _every_severity(self) -> Self:
        missing = set(Severity) - set(self.targets)
        if missing:
            raise ValueError(f"no SLA target for {sorted(missing)}")
        return self


def default_sla_policy() -> SlaPolicy:
    return SlaPolicy(
        targets={
            Severity.CRITICAL: SlaTarget(
                first_response=timedelta(hours=2), resolution=timedelta(hours=24)
            ),
            Severity.MODERATE: SlaTarget(
                first_response=timedelta(hours=4), resolution=timedelta(days=3)
            ),
            Severity.MINIMAL: SlaTarget(
                first_response=timedelta(hours=8), resolution=timedelta(days=5)
            ),
        }
    )


class SlaTimer(BaseModel):
    """The SLA state of one ticket; small and serialisable, it lives in a changelog table."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    severity: Severity
    opened_at: AwareDatetime
    response_warn_at: AwareDatetime
    response_due_at: AwareDatetime
    resolution_warn_at: AwareDatetime
    resolution_due_at: AwareDatetime
    responded_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    response_warned: bool = False
    response_breached: bool = False
    resolution_warned: bool = False
    resolution_breached: bool = False


class SlaWarning(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["sla_warning"] = "sla_warning"
    ticket_id: str
    clock: SlaClock
    severity: Severity
    due_at: AwareDatetime
    observed_at: AwareDatetime


class SlaBreached(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["sla_breached"] = "sla_breached"
    ticket_id: str
    clock: SlaClock
    severity: Severity
    due_at: AwareDatetime
    observed_at: AwareDatetime


SlaFact = SlaWarning | SlaBreached


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _warn_after(target: timedelta, percent: int) -> timedelta:
    # Integer microseconds: no float rounding decides whether a warning is due.
    return timedelta(microseconds=target // timedelta(microseconds=1) * percent // 100)


def start_sla_timer(
    ticket_id: str, severity: Severity, opened_at: datetime, policy: SlaPolicy
) -> SlaTimer:
    """A running timer for a ticket opened at ``opened_at``."""
    opened = _aware(opened_at, "opened_at")
    target = policy.targets[severity]
    pct = policy.warn_at_percent
    return SlaTimer(
        ticket_id=ticket_id,
        severity=severity,
        opened_at=opened,
        response_warn_at=opened + _warn_after(target.first_response, pct),
        response_due_at=opened + target.first_response,
        resolution_warn_at=opened + _warn_after(target.resolution, pct),
        resolution_due_at=opened + target.resolution,
    )


def record_response(timer: SlaTimer, at: datetime) -> SlaTimer:
    """The first response stops the first-response clock; later responses change nothing."""
    if timer.responded_at is not None:
        return timer
    return timer.model_copy(update={"responded_at": _aware(at, "at")})


def record_resolution(timer: SlaTimer, at: datetime) -> SlaTimer:
    """Resolution stops both clocks (a ticket resolved unanswered needs no first response)."""
    if timer.resolved_at is not None:
        return timer
    return timer.model_copy(update={"resolved_at": _aware(at, "at")})


def _stopped_at(timer: SlaTimer, clock: SlaClock) -> datetime | None:
    if clock is SlaClock.RESOLUTION:
        return timer.resolved_at
    stops = [t for t in (timer.responded_at, timer.resolved_at) if t is not None]
    return min(stops) if stops else None


def _evaluate_clock(
    timer: SlaTimer, clock: SlaClock, now: datetime
) -> tuple[dict[str, bool], list[SlaFact]]:
    if clock is SlaClock.FIRST_RESPONSE:
        warn_at, due_at = timer.response_warn_at, timer.response_due_at
        warned, breached = timer.response_warned, timer.response_breached
        warned_key, breached_key = "response_warned", "response_breached"
    else:
        warn_at, due_at = timer.resolution_warn_at, timer.resolution_due_at
        warned, breached = timer.resolution_warned, timer.resolution_breached
        warned_key, breached_key = "resolution_warned", "resolution_breached"
    if breached:
        return {}, []
    # A clock stopped late still breached: judge it at its stop time, not at "now".
    stopped = _stopped_at(timer, clock)
    effective = now if stopped is None else min(now, stopped)
    if effective >= due_at:
        fact = SlaBreached(
            ticket_id=timer.ticket_id,
            clock=clock,
            severity=timer.severity,
            due_at=due_at,
            observed_at=now,
        )
        # Jumping straight past the deadline skips the warning for good: it would only be noise.
        return {warned_key: True, breached_key: True}, [fact]
    if effective >= warn_at and not warned and stopped is None:
        fact_w = SlaWarning(
            ticket_id=timer.ticket_id,
            clock=clock,
            severity=timer.severity,
            due_at=due_at,
            observed_at=now,
        )
        return {warned_key: True}, [fact_w]
    return {}, []


def evaluate_sla(timer: SlaTimer, now: datetime) -> tuple[SlaTimer, list[SlaFact]]:
    """Facts due at ``now``: each warning and each breach at most once per clock, ever."""
    now = _aware(now, "now")
    updates: dict[str, bool] = {}
    facts: list[SlaFact] = []
    for clock in SlaClock:
        update, clock_facts = _evaluate_clock(timer, clock, now)
        updates.update(update)
        facts.extend(clock_facts)
    return (timer.model_copy(update=updates) if updates else timer), facts


def next_check_at(timer: SlaTimer) -> datetime | None:
    """The next instant at which ``evaluate_sla`` could yield a fact; None when nothing can."""
    clocks = (
        (
            SlaClock.FIRST_RESPONSE,
            timer.response_warn_at,
            timer.response_due_at,
            timer.response_warned,
            timer.response_breached,
        ),
        (
            SlaClock.RESOLUTION,
            timer.resolution_warn_at,
            timer.resolution_due_at,
            timer.resolution_warned,
            timer.resolution_breached,
        ),
    )
    candidates: list[datetime] = []
    for clock, warn_at, due_at, warned, breached in clocks:
        stopped = _stopped_at(timer, clock)
        if breached or (stopped is not None and stopped < due_at):
            continue
        # A clock stopped after its deadline still owes its breach.
        candidates.append(due_at if warned or stopped is not None else warn_at)
    return min(candidates) if candidates else None
