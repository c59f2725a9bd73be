"""Cycle recurrence engine: upstream's pinned dates, edge cases, validation and properties.

No database: these are plain functions over :mod:`g2p_programs.recurrence`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from g2p_programs.recurrence import (
    MAX_RECURRENT_EVENT,
    RecurrenceConfig,
    RecurrenceExhaustedError,
    cycle_dates_series,
    next_cycle_dates,
    period_start,
)

D = dt.date
TODAY = D(2022, 12, 15)  # upstream's freeze_time in test_cycle_manager_new_cycle.py (a Thursday)


def _series(n: int = 2, start: dt.date = TODAY, **config: Any) -> list[tuple[dt.date, dt.date]]:
    return cycle_dates_series(RecurrenceConfig(**config), start, n)


def _error_locs(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in excinfo.value.errors()]


# --- upstream's five pinned cases (g2p_programs/tests/test_cycle_manager_new_cycle.py) ---------


def test_daily_every_20_days_matches_upstream():
    assert _series(rrule_type="daily", cycle_duration=20) == [
        (D(2022, 12, 15), D(2023, 1, 3)),
        (D(2023, 1, 4), D(2023, 1, 23)),
    ]


def test_yearly_matches_upstream():
    assert _series(rrule_type="yearly", cycle_duration=1) == [
        (D(2022, 12, 15), D(2023, 12, 14)),
        (D(2023, 12, 15), D(2024, 12, 14)),
    ]


def test_monthly_on_day_10_matches_upstream():
    assert _series(rrule_type="monthly", cycle_duration=1, month_by="date", day=10) == [
        (D(2023, 1, 10), D(2023, 2, 9)),
        (D(2023, 2, 10), D(2023, 3, 9)),
    ]


def test_monthly_first_monday_matches_upstream():
    assert _series(rrule_type="monthly", month_by="day", byday="1", weekday="MON") == [
        (D(2023, 1, 2), D(2023, 2, 5)),
        (D(2023, 2, 6), D(2023, 3, 5)),
    ]


def test_weekly_monday_matches_upstream():
    assert _series(rrule_type="weekly", cycle_duration=1, mon=True) == [
        (D(2022, 12, 19), D(2022, 12, 25)),
        (D(2022, 12, 26), D(2023, 1, 1)),
    ]


# --- edge cases -----------------------------------------------------------------------------


def test_defaults_are_upstreams():
    config = RecurrenceConfig()
    assert config.rrule_type == "monthly"
    assert config.cycle_duration == 1
    assert config.month_by == "date"
    assert config.day == 1
    assert config.byday == "1"
    assert config.weekday == "MON"
    assert config.end_type == "count"
    assert config.count == 10
    assert config.until is None
    assert config.week_start == 7  # en_US (Sunday)
    assert next_cycle_dates(config, TODAY) == (D(2023, 1, 1), D(2023, 1, 31))


def test_monthly_day_31_skips_months_without_a_31st():
    # RFC 5545 / dateutil skip invalid dates; upstream does not clamp to the month's end.
    assert _series(4, D(2023, 1, 15), day=31) == [
        (D(2023, 1, 31), D(2023, 3, 30)),
        (D(2023, 3, 31), D(2023, 5, 30)),
        (D(2023, 5, 31), D(2023, 7, 30)),
        (D(2023, 7, 31), D(2023, 8, 30)),
    ]


def test_monthly_day_30_skips_february_only():
    assert _series(2, D(2024, 1, 31), day=30) == [
        (D(2024, 3, 30), D(2024, 4, 29)),
        (D(2024, 4, 30), D(2024, 5, 29)),
    ]


def test_monthly_day_29_hits_february_of_leap_years_only():
    assert next_cycle_dates(RecurrenceConfig(day=29), D(2024, 2, 1)) == (
        D(2024, 2, 29),
        D(2024, 3, 28),
    )
    assert next_cycle_dates(RecurrenceConfig(day=29), D(2023, 2, 1)) == (
        D(2023, 3, 29),
        D(2023, 4, 28),
    )


def test_monthly_last_friday():
    assert _series(3, month_by="day", byday="-1", weekday="FRI") == [
        (D(2022, 12, 30), D(2023, 1, 26)),
        (D(2023, 1, 27), D(2023, 2, 23)),
        (D(2023, 2, 24), D(2023, 3, 30)),
    ]


def test_monthly_last_weekday_on_the_day_itself_starts_that_day():
    # 2022-12-31 is the last Saturday of December.
    assert next_cycle_dates(
        RecurrenceConfig(month_by="day", byday="-1", weekday="SAT"), D(2022, 12, 31)
    ) == (D(2022, 12, 31), D(2023, 1, 27))


def test_monthly_third_wednesday_every_two_months():
    assert _series(2, month_by="day", byday="3", weekday="WED", cycle_duration=2) == [
        (D(2022, 12, 21), D(2023, 2, 14)),
        (D(2023, 2, 15), D(2023, 4, 18)),
    ]


def test_monthly_every_two_months_grid_starts_at_the_requested_month():
    # The rule starts on 2022-12-01, so its months are Dec, Feb, Apr: the 10th of December
    # is before the 15th, so the first cycle starts on 10 February.
    assert _series(2, day=10, cycle_duration=2) == [
        (D(2023, 2, 10), D(2023, 4, 9)),
        (D(2023, 4, 10), D(2023, 6, 9)),
    ]


def test_weekly_several_weekdays():
    assert _series(4, rrule_type="weekly", mon=True, wed=True, fri=True) == [
        (D(2022, 12, 16), D(2022, 12, 18)),
        (D(2022, 12, 19), D(2022, 12, 20)),
        (D(2022, 12, 21), D(2022, 12, 22)),
        (D(2022, 12, 23), D(2022, 12, 25)),
    ]


def test_weekly_every_two_weeks_on_monday():
    # Week start Sunday: the rule's weeks are those of 2022-12-11, 12-25, 2023-01-08.
    assert _series(3, rrule_type="weekly", mon=True, cycle_duration=2) == [
        (D(2022, 12, 26), D(2023, 1, 8)),
        (D(2023, 1, 9), D(2023, 1, 22)),
        (D(2023, 1, 23), D(2023, 2, 5)),
    ]


def test_week_start_decides_which_weeks_pair_up():
    common = {"rrule_type": "weekly", "sun": True, "mon": True, "cycle_duration": 2}
    # Sunday-first (en_US, default): Sun 11 + Mon 12, then Sun 25 + Mon 26.
    assert _series(2, **common) == [
        (D(2022, 12, 25), D(2022, 12, 25)),
        (D(2022, 12, 26), D(2023, 1, 7)),
    ]
    # Monday-first: Mon 12 + Sun 18, then Mon 26 + Sun 1 January.
    assert _series(2, week_start=1, **common) == [
        (D(2022, 12, 18), D(2022, 12, 25)),
        (D(2022, 12, 26), D(2022, 12, 31)),
    ]


def test_period_start():
    thursday = TODAY
    assert period_start(RecurrenceConfig(), thursday) == D(2022, 12, 1)
    assert period_start(RecurrenceConfig(rrule_type="weekly", mon=True), thursday) == D(
        2022, 12, 11
    )
    assert period_start(
        RecurrenceConfig(rrule_type="weekly", mon=True, week_start=1), thursday
    ) == D(2022, 12, 12)
    assert (
        period_start(RecurrenceConfig(rrule_type="weekly", mon=True, week_start=4), thursday)
        == thursday
    )
    assert period_start(RecurrenceConfig(rrule_type="daily"), thursday) == thursday
    assert period_start(RecurrenceConfig(rrule_type="yearly"), thursday) == thursday


def test_yearly_from_29_february_only_hits_leap_years():
    assert _series(2, D(2024, 2, 29), rrule_type="yearly") == [
        (D(2024, 2, 29), D(2028, 2, 28)),
        (D(2028, 2, 29), D(2032, 2, 28)),
    ]
    # 2100 is not a leap year.
    assert next_cycle_dates(RecurrenceConfig(rrule_type="yearly"), D(2096, 2, 29)) == (
        D(2096, 2, 29),
        D(2104, 2, 28),
    )


def test_yearly_across_a_leap_day():
    assert _series(2, D(2023, 3, 1), rrule_type="yearly") == [
        (D(2023, 3, 1), D(2024, 2, 29)),
        (D(2024, 3, 1), D(2025, 2, 28)),
    ]


@pytest.mark.parametrize(
    ("config", "occurrence", "expected_end"),
    [
        ({"day": 10}, D(2023, 1, 10), D(2023, 2, 9)),
        ({"month_by": "day", "weekday": "MON"}, D(2023, 1, 2), D(2023, 2, 5)),
        ({"rrule_type": "weekly", "mon": True}, D(2022, 12, 19), D(2022, 12, 25)),
        ({"rrule_type": "daily", "cycle_duration": 7}, D(2022, 12, 15), D(2022, 12, 21)),
        ({"rrule_type": "yearly"}, D(2022, 12, 15), D(2023, 12, 14)),
    ],
)
def test_start_exactly_on_an_occurrence_starts_that_day(config, occurrence, expected_end):
    assert next_cycle_dates(RecurrenceConfig(**config), occurrence) == (occurrence, expected_end)


def test_start_the_day_after_an_occurrence_waits_for_the_next():
    assert next_cycle_dates(RecurrenceConfig(day=10), D(2023, 1, 11)) == (
        D(2023, 2, 10),
        D(2023, 3, 9),
    )


def test_datetime_start_is_taken_as_its_date():
    assert next_cycle_dates(RecurrenceConfig(day=10), dt.datetime(2023, 1, 10, 23, 59)) == (
        D(2023, 1, 10),
        D(2023, 2, 9),
    )


def test_series_of_zero_is_empty_and_negative_is_refused():
    assert cycle_dates_series(RecurrenceConfig(), TODAY, 0) == []
    with pytest.raises(ValueError, match="n must be 0 or more"):
        cycle_dates_series(RecurrenceConfig(), TODAY, -1)


# --- end of the rule: upstream's count/until quirks -------------------------------------------


def test_count_counts_from_the_period_start_not_per_program():
    # Two occurrences from 2022-12-01 (Dec 10, Jan 10) are enough for one cycle, and the rule
    # restarts from each new cycle's month, so the series never ends.
    assert _series(3, D(2022, 12, 1), day=10, count=2) == [
        (D(2022, 12, 10), D(2023, 1, 9)),
        (D(2023, 1, 10), D(2023, 2, 9)),
        (D(2023, 2, 10), D(2023, 3, 9)),
    ]
    # From the 15th, Dec 10 is used up before the start and Jan 10 has no follower.
    with pytest.raises(RecurrenceExhaustedError, match="ends after 2 occurrences"):
        next_cycle_dates(RecurrenceConfig(day=10, count=2), TODAY)


def test_count_too_small_leaves_no_cycle():
    with pytest.raises(RecurrenceExhaustedError, match="ends after 1 occurrences"):
        next_cycle_dates(RecurrenceConfig(rrule_type="daily", count=1), TODAY)
    # Weekly on Monday from Thursday: the rule starts Sunday 11th, so Monday 12th uses up one
    # of the two occurrences and Monday 19th has no follower.
    with pytest.raises(RecurrenceExhaustedError):
        next_cycle_dates(RecurrenceConfig(rrule_type="weekly", mon=True, count=2), TODAY)
    assert next_cycle_dates(RecurrenceConfig(rrule_type="weekly", mon=True, count=3), TODAY) == (
        D(2022, 12, 19),
        D(2022, 12, 25),
    )


def test_count_is_capped_like_odoo():
    config = RecurrenceConfig(rrule_type="daily", count=10_000)
    assert next_cycle_dates(config, TODAY) == (TODAY, TODAY)
    assert MAX_RECURRENT_EVENT == 720


def test_until_ends_the_series_one_cycle_before_the_last_occurrence():
    config = RecurrenceConfig(end_type="end_date", until=D(2023, 3, 1))
    assert cycle_dates_series(config, D(2023, 1, 15), 1) == [(D(2023, 2, 1), D(2023, 2, 28))]
    with pytest.raises(RecurrenceExhaustedError, match="ends on 2023-03-01"):
        cycle_dates_series(config, D(2023, 1, 15), 2)


def test_until_day_itself_is_an_allowed_occurrence():
    # Occurrences Dec 15 and Dec 25 (= until, inclusive) make one cycle; nothing after it.
    config = RecurrenceConfig(
        rrule_type="daily", cycle_duration=10, end_type="end_date", until=D(2022, 12, 25)
    )
    assert next_cycle_dates(config, TODAY) == (D(2022, 12, 15), D(2022, 12, 24))
    with pytest.raises(RecurrenceExhaustedError):
        next_cycle_dates(config, D(2022, 12, 25))


def test_forever_never_runs_out_in_practice():
    config = RecurrenceConfig(rrule_type="weekly", mon=True, end_type="forever")
    cycles = cycle_dates_series(config, TODAY, 100)
    assert cycles[-1] == (D(2024, 11, 11), D(2024, 11, 17))


def test_rule_that_can_never_match_is_exhausted():
    # Every 12 months from February on the 31st: never.
    config = RecurrenceConfig(day=31, cycle_duration=12, end_type="forever")
    with pytest.raises(RecurrenceExhaustedError, match="no further occurrences"):
        next_cycle_dates(config, D(2023, 2, 10))


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [0, 32, -1])
def test_day_out_of_range_is_refused_on_day(day):
    with pytest.raises(ValidationError) as excinfo:
        RecurrenceConfig(day=day)
    assert _error_locs(excinfo) == [("day",)]


def test_weekly_without_weekday_is_refused_on_mon():
    with pytest.raises(ValidationError) as excinfo:
        RecurrenceConfig(rrule_type="weekly")
    assert _error_locs(excinfo) == [("mon",)]
    assert excinfo.value.errors()[0]["msg"] == "You have to choose at least one day in the week"
    assert excinfo.value.errors()[0]["type"] == "weekday_required"


def test_weekdays_are_ignored_outside_weekly_rules():
    assert RecurrenceConfig(rrule_type="monthly").weekdays == ()
    assert RecurrenceConfig(rrule_type="weekly", tue=True, sun=True).weekdays == (1, 6)


def test_unknown_rrule_type_is_refused_on_rrule_type():
    with pytest.raises(ValidationError) as excinfo:
        RecurrenceConfig(rrule_type="hourly")
    assert _error_locs(excinfo) == [("rrule_type",)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cycle_duration", 0),
        ("count", 0),
        ("week_start", 0),
        ("week_start", 8),
        ("byday", "5"),
        ("weekday", "MONDAY"),
        ("month_by", "week"),
        ("end_type", "never"),
    ],
)
def test_bad_values_are_refused_on_their_field(field, value):
    with pytest.raises(ValidationError) as excinfo:
        RecurrenceConfig(**{field: value})
    assert _error_locs(excinfo) == [(field,)]


def test_end_date_without_until_is_refused_on_until():
    with pytest.raises(ValidationError) as excinfo:
        RecurrenceConfig(end_type="end_date")
    assert _error_locs(excinfo) == [("until",)]


def test_unknown_key_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        RecurrenceConfig.model_validate({"interval": 2})
    assert _error_locs(excinfo) == [("interval",)]


def test_nested_config_errors_carry_the_parent_field():
    from pydantic import BaseModel

    class CycleManagerConfig(BaseModel):
        recurrence: RecurrenceConfig

    with pytest.raises(ValidationError) as excinfo:
        CycleManagerConfig.model_validate({"recurrence": {"rrule_type": "weekly"}})
    assert _error_locs(excinfo) == [("recurrence", "mon")]


# --- JSON -------------------------------------------------------------------------------------


def test_json_round_trip():
    config = RecurrenceConfig(
        rrule_type="weekly",
        cycle_duration=2,
        mon=True,
        thu=True,
        end_type="end_date",
        until=D(2030, 6, 30),
        week_start=1,
    )
    assert RecurrenceConfig.model_validate_json(config.model_dump_json()) == config
    assert config.model_dump(mode="json")["until"] == "2030-06-30"


def test_json_round_trip_of_defaults_is_empty_object():
    assert RecurrenceConfig.model_validate_json("{}") == RecurrenceConfig()


def test_json_schema_describes_the_form():
    schema = RecurrenceConfig.model_json_schema()
    properties = schema["properties"]
    assert schema["additionalProperties"] is False
    assert "required" not in schema
    assert set(properties) == {
        "rrule_type",
        "cycle_duration",
        "month_by",
        "day",
        "byday",
        "weekday",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "end_type",
        "count",
        "until",
        "week_start",
    }
    assert properties["rrule_type"]["enum"] == ["daily", "weekly", "monthly", "yearly"]
    assert properties["rrule_type"]["default"] == "monthly"
    assert (properties["day"]["minimum"], properties["day"]["maximum"]) == (1, 31)
    assert properties["byday"]["enum"] == ["1", "2", "3", "4", "-1"]
    assert properties["weekday"]["enum"] == ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    assert properties["end_type"]["enum"] == ["count", "end_date", "forever"]
    assert properties["week_start"]["default"] == 7
    assert properties["cycle_duration"]["minimum"] == 1


def test_config_is_immutable():
    config = RecurrenceConfig()
    with pytest.raises(ValidationError):
        config.day = 5  # type: ignore[misc]


# --- properties -------------------------------------------------------------------------------

_dates = st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 31))


@st.composite
def _configs(draw: st.DrawFn, *, forever_only: bool = False) -> RecurrenceConfig:
    rrule_type = draw(st.sampled_from(["daily", "weekly", "monthly", "yearly"]))
    values: dict[str, Any] = {
        "rrule_type": rrule_type,
        "cycle_duration": draw(st.integers(min_value=1, max_value=40)),
        "month_by": draw(st.sampled_from(["date", "day"])),
        "day": draw(st.integers(min_value=1, max_value=28 if forever_only else 31)),
        "byday": draw(st.sampled_from(["1", "2", "3", "4", "-1"])),
        "weekday": draw(st.sampled_from(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"])),
        "week_start": draw(st.integers(min_value=1, max_value=7)),
    }
    days = draw(st.lists(st.booleans(), min_size=7, max_size=7))
    if rrule_type == "weekly" and not any(days):
        days[draw(st.integers(min_value=0, max_value=6))] = True
    values.update(zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), days, strict=True))
    if forever_only:
        values["end_type"] = "forever"
    else:
        values["end_type"] = draw(st.sampled_from(["count", "end_date", "forever"]))
        values["count"] = draw(st.integers(min_value=1, max_value=1000))
        values["until"] = draw(_dates)
    return RecurrenceConfig(**values)


def _check_series(config: RecurrenceConfig, start: dt.date, n: int) -> list[tuple[dt.date, ...]]:
    """Cycles one by one as the program manager makes them; stops where the rule runs out."""
    cycles: list[tuple[dt.date, ...]] = []
    request = start
    for _ in range(n):
        try:
            cycle_start, cycle_end = next_cycle_dates(config, request)
        except RecurrenceExhaustedError:
            break
        assert cycle_start >= request
        assert cycle_end >= cycle_start
        if cycles:
            # Contiguous: the next cycle starts exactly the day after the previous end.
            assert cycle_start == cycles[-1][1] + dt.timedelta(days=1)
        # Asking again from the cycle's own start gives the same cycle.
        assert next_cycle_dates(config, cycle_start) == (cycle_start, cycle_end)
        cycles.append((cycle_start, cycle_end))
        request = cycle_end + dt.timedelta(days=1)
    return cycles


@settings(max_examples=300, deadline=None)
@given(config=_configs(), start=_dates)
def test_property_cycles_start_on_or_after_request_and_are_contiguous(config, start):
    cycles = _check_series(config, start, 4)
    for (_, previous_end), (next_start, _) in zip(cycles, cycles[1:], strict=False):
        assert next_start > previous_end  # no overlap
    if len(cycles) == 4:
        assert cycle_dates_series(config, start, 4) == cycles


@settings(max_examples=300, deadline=None)
@given(config=_configs(forever_only=True), start=_dates)
def test_property_forever_rules_always_give_a_contiguous_series(config, start):
    cycles = cycle_dates_series(config, start, 6)
    assert len(cycles) == 6
    assert cycles[0][0] >= start
    for cycle_start, cycle_end in cycles:
        assert cycle_end >= cycle_start
    for (_, previous_end), (next_start, _) in zip(cycles, cycles[1:], strict=False):
        assert next_start == previous_end + dt.timedelta(days=1)
