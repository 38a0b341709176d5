"""Visit frequencies, their calendar periods and the states of a plan (pure functions).

A person's visit standard is a number of days (the county's care thresholds: 红 7, 黄 30,
绿 90 by default; a special group's own, e.g. 孤寡老人 7). Plans follow calendar periods so
that "this week's list" and 月探访率 mean what cadres expect: up to 7 days is weekly (Monday
to Sunday), up to 31 monthly, anything longer quarterly. A plan is due on its period's last
day and is overdue from the next day while no visit is recorded.
"""

from __future__ import annotations

from datetime import date, timedelta

FREQUENCIES: dict[str, str] = {"week": "每周", "month": "每月", "quarter": "每季度"}
STATES: dict[str, str] = {
    "planned": "待走访",
    "overdue": "逾期未访",
    "visited": "已走访",
    "reviewed": "已复核",
}
OPEN = ("planned", "overdue")  # a visit may be recorded against these
LEVEL_LABELS: dict[str, str] = {"red": "红", "yellow": "黄", "green": "绿"}


def frequency_for(days: int) -> str:
    """The calendar period of a visit standard of ``days`` days."""
    if days <= 7:
        return "week"
    if days <= 31:
        return "month"
    return "quarter"


def period_of(day: date, frequency: str) -> tuple[date, date]:
    """The first and last day of the ``frequency`` period containing ``day``."""
    if frequency == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    months = 1 if frequency == "month" else 3
    first_month = day.month if months == 1 else 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    after = first_month + months
    end = date(day.year + (after > 12), (after - 1) % 12 + 1, 1) - timedelta(days=1)
    return start, end


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the week of ``day``: "this week" on the volunteer's list."""
    return period_of(day, "week")
