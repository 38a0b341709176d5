"""Deadlines in hours or in Chinese working days (工作日), counted in China's time zone.

Working days follow the State Council's holiday schedule, including the make-up working days
(调休) that fall on weekends, through the ``chinese-calendar`` package. A year the package does
not cover yet (it ships each year's schedule once published, in December) counts Monday to
Friday; upgrade the package to get the new year's holidays.

A deadline of *n* working days is the end (24:00, China time) of the *n*-th working day after
the day it starts, as periods are counted in law (民法典 Art. 201: the starting day is not
counted; Art. 203: a period ending on a holiday ends on the first working day after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
MAX_HOURS = 24 * 366
MAX_WORKING_DAYS = 250


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day in mainland China (weekdays only beyond the calendar)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the installed calendar does not cover
        return day.weekday() < 5


def add_working_days(start: datetime, days: int) -> datetime:
    """The end (24:00 China time) of the ``days``-th working day after ``start``'s day, in UTC."""
    day = start.astimezone(CHINA).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), CHINA).astimezone(UTC)


@dataclass(frozen=True)
class Deadline:
    """How long an instance may stay in a state: ``hours`` or ``working_days``, not both."""

    hours: int | None = None
    working_days: int | None = None

    def problem(self) -> str | None:
        """Why this deadline is invalid, or ``None``."""
        if (self.hours is None) == (self.working_days is None):
            return "a deadline needs exactly one of hours or working_days"
        if self.hours is not None and not (
            isinstance(self.hours, int) and 1 <= self.hours <= MAX_HOURS
        ):
            return f"deadline hours must be an integer from 1 to {MAX_HOURS}"
        if self.working_days is not None and not (
            isinstance(self.working_days, int) and 1 <= self.working_days <= MAX_WORKING_DAYS
        ):
            return f"deadline working_days must be an integer from 1 to {MAX_WORKING_DAYS}"
        return None

    def due(self, start: datetime) -> datetime:
        """When an instance that enters the state at ``start`` (timezone-aware) is due."""
        if self.hours is not None:
            return start.astimezone(UTC) + timedelta(hours=self.hours)
        assert self.working_days is not None
        return add_working_days(start, self.working_days)

    @property
    def label(self) -> str:
        """The deadline in Chinese, e.g. ``24 小时`` or ``3 个工作日``."""
        if self.hours is not None:
            return f"{self.hours} 小时"
        return f"{self.working_days} 个工作日"
