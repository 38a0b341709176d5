"""Periods of whole local days, and where they start and end in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)
# Far enough from date.min/date.max that converting a local midnight to UTC cannot overflow.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)


class PeriodError(ValueError):
    """A period that cannot be computed; the message names the field."""


@dataclass(frozen=True, slots=True)
class Period:
    """The local days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        for field in ("start", "end"):
            check_day(field, getattr(self, field))
        if self.end < self.start:
            raise PeriodError("end: 结束日期不能早于开始日期 / end must not be before start")

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """``[start, end)`` as aware UTC instants: local midnight of ``start`` and of the
        day after ``end``."""
        return midnight(self.start, zone), midnight(self.end + ONE_DAY, zone)

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += ONE_DAY

    def split(self, fresh_through: date | None) -> tuple[Period | None, Period | None]:
        """The part covered by daily aggregates (days up to ``fresh_through``) and the rest."""
        if fresh_through is None or fresh_through < self.start:
            return None, self
        if fresh_through >= self.end:
            return self, None
        return Period(self.start, fresh_through), Period(fresh_through + ONE_DAY, self.end)


def check_day(field: str, day: date) -> None:
    """:raises PeriodError: ``day`` (the value of ``field``) is out of the supported range."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PeriodError(
            f"{field}: 日期须在 {FIRST_DAY} 至 {LAST_DAY} 之间 / "
            f"must be between {FIRST_DAY} and {LAST_DAY}"
        )


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (aware, UTC) at which ``day`` starts in ``zone``."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The local day of an instant (naive instants are taken as UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).date()


def utc_offset_minutes(day: date, zone: ZoneInfo) -> int:
    """The zone's offset from UTC at the start of ``day``, in minutes."""
    offset = datetime.combine(day, time(), tzinfo=zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds()) // 60


def offset_runs(period: Period, zone: ZoneInfo) -> Iterator[tuple[Period, int | None]]:
    """``period`` cut into runs of days over which the zone's UTC offset stays the same, each
    with that offset in minutes; a day on which it changes (daylight saving) comes alone,
    with ``None``. A zone without daylight saving (Asia/Shanghai) gives one run."""
    start: date | None = None
    current: int | None = None
    for day in period.days():
        offset = utc_offset_minutes(day, zone)
        changes = offset != utc_offset_minutes(day + ONE_DAY, zone)
        if start is not None and (changes or offset != current):
            yield Period(start, day - ONE_DAY), current
            start = None
        if changes:
            yield Period(day, day), None
        elif start is None:
            start, current = day, offset
    if start is not None:
        yield Period(start, period.end), current
