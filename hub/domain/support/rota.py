"""Follow-the-sun rota of the distributor's white-label desk: who is on duty at an instant.

Shifts are local wall-clock times in each team's time zone, so DST moves them in UTC exactly as
it moves the people working them. A shift whose end is not after its start runs past midnight
and belongs to the day it started (weekday and holiday checks use that day).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.support.ticket import LANGUAGE_PATTERN

ALL_WEEK = frozenset(range(7))


class Shift(BaseModel):
    """Working hours on some weekdays (0 = Monday), start inclusive, end exclusive, local time."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time
    weekdays: frozenset[int] = ALL_WEEK

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: frozenset[int]) -> frozenset[int]:
        if not value or not value <= ALL_WEEK:
            raise ValueError("weekdays are a non-empty set of 0 (Monday) .. 6 (Sunday)")
        return value

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("shift times are local wall-clock times; the team has the zone")
        return value

    @property
    def wraps_midnight(self) -> bool:
        return self.end <= self.start


class Team(BaseModel):
    """One desk team: where it sits, what it speaks, when it works and when it is off."""

    model_config = ConfigDict(frozen=True)

    team_id: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    timezone: str
    languages: tuple[str, ...] = Field(min_length=1)
    shifts: tuple[Shift, ...] = Field(min_length=1)
    holidays: frozenset[date] = frozenset()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for lang in value:
            if not re.fullmatch(LANGUAGE_PATTERN, lang):
                raise ValueError(f"language {lang!r} is not a BCP 47 tag like 'de' or 'pt-BR'")
        return value


class DeskConfig(BaseModel):
    """The white-label desk: its teams (in order of preference) and the fallbacks."""

    model_config = ConfigDict(frozen=True)

    teams: tuple[Team, ...] = Field(min_length=1)
    default_language: str = Field(default="en", pattern=LANGUAGE_PATTERN)
    # Where a ticket goes when no team at all is on duty (a holiday gap in the rota).
    overflow_queue: str = Field(default="desk.overflow", min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [t.team_id for t in self.teams]
        if len(ids) != len(set(ids)):
            raise ValueError("team ids are unique")
        if not any(speaks(t, self.default_language) for t in self.teams):
            raise ValueError(f"no team speaks the default language {self.default_language!r}")
        return self


def _on_shift(shift: Shift, local: datetime, holidays: frozenset[date]) -> bool:
    now = local.time().replace(tzinfo=None)
    today = local.date()
    if not shift.wraps_midnight:
        started_on = today if shift.start <= now < shift.end else None
    elif now >= shift.start:
        started_on = today
    elif now < shift.end:
        started_on = today - timedelta(days=1)
    else:
        started_on = None
    return (
        started_on is not None
        and started_on.weekday() in shift.weekdays
        and started_on not in holidays
    )


def is_on_duty(team: Team, at: datetime) -> bool:
    """Whether the team works at this instant (``at`` must be timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    local = at.astimezone(ZoneInfo(team.timezone))
    return any(_on_shift(shift, local, team.holidays) for shift in team.shifts)


def teams_on_duty(desk: DeskConfig, at: datetime) -> tuple[Team, ...]:
    """Teams working at ``at``, in the desk's order of preference."""
    return tuple(team for team in desk.teams if is_on_duty(team, at))


def matching_language(team: Team, language: str) -> str | None:
    """The team language that serves ``language``: exact tag first, else the primary subtag."""
    if language in team.languages:
        return language
    primary = language.split("-", 1)[0]
    return primary if primary in team.languages else None


def speaks(team: Team, language: str) -> bool:
    return matching_language(team, language) is not None


def coverage_gaps(
    desk: DeskConfig, start: AwareDatetime, end: AwareDatetime, step: timedelta
) -> list[datetime]:
    """Instants in [start, end) sampled every ``step`` at which nobody is on duty."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    gaps: list[datetime] = []
    at = start
    while at < end:
        if not teams_on_duty(desk, at):
            gaps.append(at)
        at += step
    return gaps


def default_desk_config() -> DeskConfig:
    """Three hubs, 7 days a week, overlapping so DST on either side of the Atlantic leaves no gap.

    In UTC: Singapore 23:00-09:00, Berlin 07:00-17:00 (06:00-16:00 in summer),
    New York 15:00-01:00 (14:00-00:00 in summer).
    """
    return DeskConfig(
        teams=(
            Team(
                team_id="emea",
                timezone="Europe/Berlin",
                languages=("en", "de", "fr", "es", "pt"),
                shifts=(Shift(start=time(8), end=time(18)),),
            ),
            Team(
                team_id="amer",
                timezone="America/New_York",
                languages=("en", "es", "pt", "fr"),
                shifts=(Shift(start=time(10), end=time(20)),),
            ),
            Team(
                team_id="apac",
                timezone="Asia/Singapore",
                languages=("en", "ja"),
                shifts=(Shift(start=time(7), end=time(17)),),
            ),
        ),
        default_language="en",
    )
