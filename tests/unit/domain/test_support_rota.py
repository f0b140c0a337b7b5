"""Follow-the-sun rota: hour boundaries, time zones, DST, overnight shifts and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.domain.support.rota import (
    DeskConfig,
    Shift,
    Team,
    coverage_gaps,
    default_desk_config,
    is_on_duty,
    matching_language,
    teams_on_duty,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def team_by_id(desk: DeskConfig, team_id: str) -> Team:
    return next(t for t in desk.teams if t.team_id == team_id)


BERLIN = team_by_id(default_desk_config(), "emea")  # 08:00-18:00 Europe/Berlin


def test_shift_start_is_inclusive_and_end_exclusive_in_winter() -> None:
    # January: Berlin is UTC+1, so 08:00-18:00 local is 07:00-17:00 UTC.
    assert not is_on_duty(BERLIN, utc(2025, 1, 15, 6, 59, 59))
    assert is_on_duty(BERLIN, utc(2025, 1, 15, 7, 0))
    assert is_on_duty(BERLIN, utc(2025, 1, 15, 16, 59, 59))
    assert not is_on_duty(BERLIN, utc(2025, 1, 15, 17, 0))


def test_dst_change_moves_the_shift_one_hour_earlier_in_utc() -> None:
    # Europe switched to CEST on Sunday 2025-03-30.
    assert not is_on_duty(BERLIN, utc(2025, 3, 29, 6, 30))  # 07:30 CET
    assert is_on_duty(BERLIN, utc(2025, 3, 31, 6, 30))  # 08:30 CEST
    assert is_on_duty(BERLIN, utc(2025, 3, 29, 16, 30))  # 17:30 CET
    assert not is_on_duty(BERLIN, utc(2025, 3, 31, 16, 30))  # 18:30 CEST


def test_dst_change_on_the_day_itself_uses_the_new_offset_after_the_jump() -> None:
    # 2025-03-30: local 02:00 jumps to 03:00; 07:00 UTC is 09:00 CEST, 06:00 UTC is 08:00 CEST.
    assert is_on_duty(BERLIN, utc(2025, 3, 30, 6, 0))
    assert not is_on_duty(BERLIN, utc(2025, 3, 30, 5, 59))


def test_new_york_and_singapore_cover_different_utc_hours() -> None:
    desk = default_desk_config()

    def ids(at: datetime) -> set[str]:
        return {t.team_id for t in teams_on_duty(desk, at)}

    assert ids(utc(2025, 1, 15, 3, 0)) == {"apac"}  # 11:00 SGT
    assert ids(utc(2025, 1, 15, 12, 0)) == {"emea"}  # 13:00 CET, 07:00 EST
    assert ids(utc(2025, 1, 15, 16, 0)) == {"emea", "amer"}  # overlap
    assert ids(utc(2025, 1, 15, 21, 0)) == {"amer"}  # 16:00 EST
    assert ids(utc(2025, 1, 16, 0, 30)) == {"amer", "apac"}  # 19:30 EST, 08:30 SGT


def test_us_dst_change_moves_new_york_but_not_singapore() -> None:
    amer = team_by_id(default_desk_config(), "amer")
    apac = team_by_id(default_desk_config(), "apac")
    # US switched to EDT on 2025-03-09: 10:00 local is 15:00 UTC before, 14:00 UTC after.
    assert not is_on_duty(amer, utc(2025, 3, 7, 14, 30))
    assert is_on_duty(amer, utc(2025, 3, 10, 14, 30))
    # Singapore has no DST: the same UTC hours every day.
    assert is_on_duty(apac, utc(2025, 3, 7, 23, 0)) == is_on_duty(apac, utc(2025, 3, 10, 23, 0))


def test_default_desk_covers_every_quarter_hour_of_a_year_including_both_dst_changes() -> None:
    desk = default_desk_config()
    gaps = coverage_gaps(desk, utc(2025, 1, 1), utc(2026, 1, 1), timedelta(minutes=15))
    assert gaps == []


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)))
def test_default_desk_always_has_an_english_speaking_team_on_duty(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    assert any("en" in t.languages for t in teams_on_duty(default_desk_config(), at))


NIGHT = Team(
    team_id="night",
    timezone="Europe/Berlin",
    languages=("en",),
    # Starts Monday 22:00 and runs into Tuesday 06:00 local.
    shifts=(Shift(start=time(22), end=time(6), weekdays=frozenset({0})),),
    holidays=frozenset({date(2025, 1, 20)}),
)


def test_overnight_shift_belongs_to_the_day_it_started() -> None:
    # Tuesday 2025-01-14 03:00 CET: the Monday night shift is still running.
    assert is_on_duty(NIGHT, utc(2025, 1, 14, 2, 0))
    # Monday 2025-01-13 03:00 CET: that would be Sunday's shift, which does not exist.
    assert not is_on_duty(NIGHT, utc(2025, 1, 13, 2, 0))
    # Monday 22:00 CET on, 06:00 Tuesday CET off.
    assert is_on_duty(NIGHT, utc(2025, 1, 13, 21, 0))
    assert not is_on_duty(NIGHT, utc(2025, 1, 14, 5, 0))


def test_overnight_shift_starting_on_a_holiday_is_off_all_night() -> None:
    # Monday 2025-01-20 is a holiday: neither its evening nor Tuesday's early hours are worked.
    assert not is_on_duty(NIGHT, utc(2025, 1, 20, 21, 30))
    assert not is_on_duty(NIGHT, utc(2025, 1, 21, 2, 0))
    # The Monday before is an ordinary night.
    assert is_on_duty(NIGHT, utc(2025, 1, 13, 21, 30))


def test_holiday_is_the_teams_local_date_not_the_utc_date() -> None:
    apac = team_by_id(default_desk_config(), "apac").model_copy(
        update={"holidays": frozenset({date(2025, 1, 1)})}
    )
    # 2024-12-31 23:30 UTC is 2025-01-01 07:30 in Singapore: a holiday there.
    assert not is_on_duty(apac, utc(2024, 12, 31, 23, 30))
    # 2025-01-02 01:00 UTC is 09:00 on 2 January in Singapore: back at work.
    assert is_on_duty(apac, utc(2025, 1, 2, 1, 0))


def test_weekday_limited_shift_is_off_at_the_weekend() -> None:
    team = Team(
        team_id="weekdays",
        timezone="Europe/Berlin",
        languages=("de",),
        shifts=(Shift(start=time(9), end=time(17), weekdays=frozenset(range(5))),),
    )
    assert is_on_duty(team, utc(2025, 1, 17, 10, 0))  # Friday 11:00 CET
    assert not is_on_duty(team, utc(2025, 1, 18, 10, 0))  # Saturday


def test_language_matches_exact_tag_then_primary_subtag() -> None:
    team = Team(
        team_id="t",
        timezone="UTC",
        languages=("pt", "en-GB"),
        shifts=(Shift(start=time(0), end=time(0)),),
    )
    assert matching_language(team, "pt-BR") == "pt"
    assert matching_language(team, "en-GB") == "en-GB"
    assert matching_language(team, "en") is None
    assert matching_language(team, "de") is None


def test_equal_start_and_end_means_around_the_clock() -> None:
    team = Team(
        team_id="t", timezone="UTC", languages=("en",), shifts=(Shift(start=time(0), end=time(0)),)
    )
    assert all(is_on_duty(team, utc(2025, 6, 1, h, 0)) for h in range(24))


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        Team(
            team_id="t",
            timezone="Mars/Olympus",
            languages=("en",),
            shifts=(Shift(start=time(0), end=time(0)),),
        )


def test_desk_whose_default_language_nobody_speaks_is_rejected() -> None:
    team = Team(
        team_id="t", timezone="UTC", languages=("de",), shifts=(Shift(start=time(0), end=time(0)),)
    )
    with pytest.raises(ValidationError, match="default language"):
        DeskConfig(teams=(team,), default_language="en")


def test_duplicate_team_ids_are_rejected() -> None:
    team = Team(
        team_id="t", timezone="UTC", languages=("en",), shifts=(Shift(start=time(0), end=time(0)),)
    )
    with pytest.raises(ValidationError, match="unique"):
        DeskConfig(teams=(team, team))


def test_naive_instant_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_on_duty(BERLIN, datetime(2025, 1, 15, 9, 0))


def test_coverage_gaps_reports_the_hours_nobody_works() -> None:
    team = Team(
        team_id="day",
        timezone="UTC",
        languages=("en",),
        shifts=(Shift(start=time(8), end=time(20)),),
    )
    gaps = coverage_gaps(
        DeskConfig(teams=(team,)), utc(2025, 1, 1), utc(2025, 1, 2), timedelta(hours=1)
    )
    assert [g.hour for g in gaps] == [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 22, 23]
