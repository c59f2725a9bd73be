"""Cycle recurrence: when does the next cycle of a program start and end.

A pure module (no database, no Django) that the default cycle manager calls. It reproduces
upstream OpenG2P exactly: ``g2p.cycle.manager.default.new_cycle`` over
``g2p.cycle.recurrence.mixin``, which inherits Odoo 17's ``calendar.recurrence``
(``OpenG2P/openg2p-program:g2p_programs/models/managers/cycle_manager.py`` and
``…/recurrence_mixin.py``; ``odoo/odoo:addons/calendar/models/calendar_recurrence.py``;
reference notes §2.13.4 and §2.13.1).

How upstream computes a cycle from a requested start date ``start``:

1. The rule starts at the beginning of the period that contains ``start``
   (``calendar.recurrence._get_start_of_period``): monthly rules at the 1st of the month,
   weekly rules at the latest week-start day on or before ``start``, daily and yearly rules at
   ``start`` itself.
2. The rule is an RFC 5545 rule (dateutil's ``rrule``): frequency ``rrule_type``, interval
   ``cycle_duration``; monthly "by date" adds ``BYMONTHDAY=day``, monthly "by day" adds
   ``BYDAY=<byday><weekday>`` (e.g. ``1MO`` first Monday, ``-1FR`` last Friday); weekly adds the
   selected weekdays and ``WKST`` = the week start. Daily and yearly rules have no BYxxx part, so
   RFC 5545 anchors them on the rule's start (a yearly rule from 29 February only hits leap
   years). The rule ends after ``count`` occurrences (at most 720), after ``until`` (inclusive),
   or "forever" (720 occurrences, Odoo's ``MAX_RECURRENT_EVENT``).
3. Walking consecutive occurrences ``(o_k, o_k+1)``, the cycle is the first pair with
   ``o_k >= start``: ``start_date = o_k``, ``end_date = o_k+1 - 1 day``. A cycle therefore never
   starts before ``start``, may start later (monthly on the 10th, asked on the 15th, starts on
   the 10th of the next month), and always lasts until the day before the following occurrence.

Upstream does this in UTC datetimes at midnight and adds 11 hours to both dates before comparing,
so that a one-hour daylight-saving shift of an occurrence (Odoo converts occurrences through the
user's time zone) cannot move it to the previous calendar day. The effect is a comparison of
calendar dates, which is what this module does directly on naive midnights — no time zone enters
the computation. Odoo's other DST hack (``_get_start_of_period`` falls back to ``start`` itself
when the period start is on the other side of a DST change) never changes the result: the
fallback is in the same week or month, so the rule's interval grid and its first occurrence on
or after ``start`` are the same.

Upstream quirks kept on purpose (the acceptance suite compares dates with upstream):

- ``count`` does not cap the number of cycles of a program. The rule is rebuilt from the period
  start at every new cycle, so ``count`` only caps the occurrences looked at in one computation.
  A count smaller than (occurrences between the period start and ``start``) + 2 leaves no
  cycle — always so for ``count=1`` — where upstream crashes with ``StopIteration`` and this
  module raises :class:`RecurrenceExhaustedError`.
- ``until`` is the last day an occurrence may fall on, and a cycle needs the occurrence that
  follows it, so the last cycle ends at least one day before ``until``.
- Monthly "by date" on day 29, 30 or 31 skips the months that lack that day (RFC 5545): day 31
  from January gives 31 January → 30 March, then 31 March → 30 May. Upstream does not clamp to
  the month's last day and neither do we.
- A yearly rule asked on 29 February produces cycles of four years (2024-02-29 → 2028-02-28).

Week start: Odoo uses the week start of the user's language (``res.lang.week_start``, ISO
numbering 1 = Monday … 7 = Sunday). Upstream's tests run as an ``en_US`` user, whose week starts
on Sunday (``base/data/res.lang.csv``: ``en_US`` → ``7``, also the field's default), so the
default here is ``7``. It only changes weekly rules with ``cycle_duration`` ≥ 2 (which weeks
pair up); a deployment in a Monday-first locale sets ``week_start=1``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Literal, Self

from dateutil import rrule as du_rrule
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "BYDAY_LABELS",
    "END_TYPE_LABELS",
    "MAX_RECURRENT_EVENT",
    "MONTH_BY_LABELS",
    "RRULE_TYPE_LABELS",
    "WEEKDAY_LABELS",
    "WEEK_START_LABELS",
    "RecurrenceConfig",
    "RecurrenceExhaustedError",
    "build_rrule",
    "cycle_dates_series",
    "next_cycle_dates",
    "period_start",
]

RRuleType = Literal["daily", "weekly", "monthly", "yearly"]
MonthBy = Literal["date", "day"]
ByDay = Literal["1", "2", "3", "4", "-1"]
Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
EndType = Literal["count", "end_date", "forever"]

# Odoo's selection labels, for forms that render the choices.
RRULE_TYPE_LABELS: dict[str, str] = {
    "daily": "Days",
    "weekly": "Weeks",
    "monthly": "Months",
    "yearly": "Years",
}
MONTH_BY_LABELS: dict[str, str] = {"date": "Date of month", "day": "Day of month"}
BYDAY_LABELS: dict[str, str] = {
    "1": "First",
    "2": "Second",
    "3": "Third",
    "4": "Fourth",
    "-1": "Last",
}
WEEKDAY_LABELS: dict[str, str] = {
    "MON": "Monday",
    "TUE": "Tuesday",
    "WED": "Wednesday",
    "THU": "Thursday",
    "FRI": "Friday",
    "SAT": "Saturday",
    "SUN": "Sunday",
}
END_TYPE_LABELS: dict[str, str] = {
    "count": "Number of repetitions",
    "end_date": "End date",
    "forever": "Forever",
}
WEEK_START_LABELS: dict[int, str] = {
    1: "Monday",
    2: "Tuesday",
    3: "Wednesday",
    4: "Thursday",
    5: "Friday",
    6: "Saturday",
    7: "Sunday",
}

#: Odoo's cap on the occurrences of one rule (``calendar_recurrence.MAX_RECURRENT_EVENT``).
MAX_RECURRENT_EVENT = 720

_FREQ: dict[str, int] = {
    "daily": du_rrule.DAILY,
    "weekly": du_rrule.WEEKLY,
    "monthly": du_rrule.MONTHLY,
    "yearly": du_rrule.YEARLY,
}
# Index = dateutil/Python weekday number (Monday = 0).
_WEEKDAY_CODES: tuple[Weekday, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DAY_FIELDS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ONE_DAY = dt.timedelta(days=1)


class RecurrenceExhaustedError(ValueError):
    """The rule has no pair of occurrences on or after the requested start.

    Happens when ``until`` is reached, when ``count`` is too small, or when the rule can never
    match (e.g. monthly on the 31st every 12 months starting in February). Upstream fails with
    an unhandled ``StopIteration`` in the same situations.
    """


def _field_error(field: str, kind: str, message: str, value: object) -> ValidationError:
    """A ValidationError located on ``field`` (model validators otherwise report no field)."""
    return ValidationError.from_exception_data(
        "RecurrenceConfig",
        [InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=value)],
    )


class RecurrenceConfig(BaseModel):
    """Recurrence of a program's cycles: upstream's ``g2p.cycle.recurrence.mixin`` fields.

    Defaults are upstream's (monthly on the 1st, count 10, ``en_US`` week start Sunday). Stored
    as JSON inside the cycle manager's config; ``model_json_schema()`` renders the form.
    Validation errors are located on the offending field, e.g. ``mon`` for a weekly rule with
    no weekday and ``until`` for an end date that is missing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rrule_type: RRuleType = Field(
        default="monthly",
        title="Recurrence",
        description="Unit of the recurrence: days, weeks, months or years.",
    )
    cycle_duration: Annotated[int, Field(ge=1)] = Field(
        default=1,
        title="Repeat every",
        description="Number of units between two cycle starts (the rule's interval).",
    )
    month_by: MonthBy = Field(
        default="date",
        title="Option",
        description="Monthly rules: on a date of the month, or on the n-th weekday.",
    )
    day: Annotated[int, Field(ge=1, le=31)] = Field(
        default=1,
        title="Date of month",
        description=(
            "Monthly rules by date. Months without this day are skipped (day 31 skips "
            "30-day months and February), as upstream does."
        ),
    )
    byday: ByDay = Field(
        default="1",
        title="By day",
        description='Monthly rules by day: first … fourth, or "-1" for the last, weekday.',
    )
    weekday: Weekday = Field(
        default="MON", title="Weekday", description="Monthly rules by day: which weekday."
    )
    mon: bool = Field(default=False, title="Mon")
    tue: bool = Field(default=False, title="Tue")
    wed: bool = Field(default=False, title="Wed")
    thu: bool = Field(default=False, title="Thu")
    fri: bool = Field(default=False, title="Fri")
    sat: bool = Field(default=False, title="Sat")
    sun: bool = Field(default=False, title="Sun")
    end_type: EndType = Field(
        default="count",
        title="Until",
        description=(
            "count: the rule has `count` occurrences from the start of the period being "
            "computed; end_date: no occurrence after `until`; forever."
        ),
    )
    count: Annotated[int, Field(ge=1)] = Field(
        default=10,
        title="Repeat",
        description=f"Occurrences of the rule when it ends by count (capped at "
        f"{MAX_RECURRENT_EVENT}).",
    )
    until: dt.date | None = Field(
        default=None,
        title="Repeat until",
        description="Last day an occurrence may fall on; required when end_type is end_date.",
    )
    week_start: Annotated[int, Field(ge=1, le=7)] = Field(
        default=7,
        title="First day of week",
        description=(
            "ISO day number (1 = Monday … 7 = Sunday), like Odoo's res.lang.week_start; "
            "7 is en_US's, upstream's default."
        ),
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.rrule_type == "weekly" and not self.weekdays:
            # Odoo's own message (calendar.recurrence._get_rrule).
            raise _field_error(
                "mon",
                "weekday_required",
                "You have to choose at least one day in the week",
                self.mon,
            )
        if self.end_type == "end_date" and self.until is None:
            raise _field_error(
                "until",
                "until_required",
                "A date is required when the recurrence ends on a date",
                self.until,
            )
        return self

    @property
    def weekdays(self) -> tuple[int, ...]:
        """Selected weekdays of a weekly rule, as Python weekday numbers (Monday = 0)."""
        return tuple(i for i, name in enumerate(_DAY_FIELDS) if getattr(self, name))


def period_start(config: RecurrenceConfig, day: dt.date) -> dt.date:
    """Start of the recurrence period that contains ``day`` (upstream ``_get_start_of_period``).

    Monthly → the 1st of the month; weekly → the latest ``week_start`` day on or before
    ``day``; daily and yearly → ``day`` itself.
    """
    if config.rrule_type == "monthly":
        return day.replace(day=1)
    if config.rrule_type == "weekly":
        return day - dt.timedelta(days=(day.isoweekday() - config.week_start) % 7)
    return day


def build_rrule(config: RecurrenceConfig, dtstart: dt.date) -> du_rrule.rrule:
    """The dateutil rule upstream builds (``calendar.recurrence._get_rrule``) from ``dtstart``.

    ``dtstart`` should be a period start (:func:`period_start`). Occurrences are naive
    midnights.
    """
    params: dict[str, object] = {
        "dtstart": dt.datetime.combine(dtstart, dt.time.min),
        "interval": config.cycle_duration,
    }
    if config.rrule_type == "monthly":
        if config.month_by == "date":
            params["bymonthday"] = config.day
        else:
            weekday = du_rrule.weekday(_WEEKDAY_CODES.index(config.weekday))
            params["byweekday"] = weekday(int(config.byday))
    elif config.rrule_type == "weekly":
        params["byweekday"] = tuple(du_rrule.weekday(i) for i in config.weekdays)
        params["wkst"] = du_rrule.weekday(config.week_start - 1)
    if config.end_type == "count":
        params["count"] = min(config.count, MAX_RECURRENT_EVENT)
    elif config.end_type == "forever":
        params["count"] = MAX_RECURRENT_EVENT
    else:
        assert config.until is not None  # guaranteed by RecurrenceConfig's validator
        params["until"] = dt.datetime.combine(config.until, dt.time.max)
    return du_rrule.rrule(_FREQ[config.rrule_type], **params)


def _occurrence_dates(rule: du_rrule.rrule) -> Iterator[dt.date]:
    for occurrence in rule:
        yield occurrence.date()


def next_cycle_dates(config: RecurrenceConfig, start: dt.date) -> tuple[dt.date, dt.date]:
    """Start and end dates (both inclusive) of the cycle that begins on or after ``start``.

    Upstream ``g2p.cycle.manager.default.new_cycle``: the rule is built from the start of the
    period containing ``start``; the cycle is the first pair of consecutive occurrences
    ``(o_k, o_k+1)`` with ``o_k >= start`` and runs from ``o_k`` to the day before ``o_k+1``.
    Pure and cheap: no I/O, a few dozen rule steps in practice.

    Raises:
        RecurrenceExhaustedError: the rule ends (count, until) or can never match before such a
            pair exists.
    """
    if isinstance(start, dt.datetime):
        start = start.date()
    rule_start = period_start(config, start)
    occurrences = _occurrence_dates(build_rrule(config, rule_start))
    previous = next(occurrences, None)
    for following in occurrences:
        assert previous is not None
        if previous >= start:
            return previous, following - _ONE_DAY
        previous = following
    raise RecurrenceExhaustedError(_exhausted_message(config, start, rule_start))


def _exhausted_message(config: RecurrenceConfig, start: dt.date, rule_start: dt.date) -> str:
    if config.end_type == "end_date":
        why = f"it ends on {config.until.isoformat() if config.until else '?'}"
    elif config.end_type == "count":
        why = (
            f"it ends after {min(config.count, MAX_RECURRENT_EVENT)} occurrences counted from "
            f"{rule_start.isoformat()}"
        )
    else:
        why = "it has no further occurrences"
    return (
        f"No cycle can start on or after {start.isoformat()}: the recurrence needs an "
        f"occurrence on or after that day and the one following it, but {why}."
    )


def cycle_dates_series(
    config: RecurrenceConfig, start: dt.date, n: int
) -> list[tuple[dt.date, dt.date]]:
    """``n`` consecutive cycles, as the program manager creates them one after another.

    The first is :func:`next_cycle_dates` from ``start``; each next one is requested from the
    day after the previous end (upstream program manager ``new_cycle``: start = last end + 1
    day), so the cycles are contiguous and never overlap.

    Raises:
        ValueError: ``n`` is negative.
        RecurrenceExhaustedError: the rule ends before ``n`` cycles exist.
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    cycles: list[tuple[dt.date, dt.date]] = []
    next_start = start
    for _ in range(n):
        cycle = next_cycle_dates(config, next_start)
        cycles.append(cycle)
        next_start = cycle[1] + _ONE_DAY
    return cycles
