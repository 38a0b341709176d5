"""The dashboard's data, read in a few queries on one connection: the unit with its
visible ancestors and children, the metrics' sums, and the 红/黄/绿 counts.

Every figure is the metrics service's: the sums of a metric's additive parts over the
unit's ranges (where its plugin is on) and a period, taken from ``metric_daily`` for the
days it holds and computed live after them, then divided for a ratio (:func:`figure`).
What differs from :class:`MetricReader` is only how the sums are fetched: for *several*
metrics at once, grouped by day, by unit-code prefix (the child units) or by the dimension
(the ticket type), in one query over ``metric_daily`` and one ``UNION ALL`` of the live
aggregates. A week, a type or a child is then a look-up in the groups, so twelve weeks or
thirty villages cost no more queries than one. Statements are built once per shape with
every value bound (building one costs more than running it, docs/benchmarks.md).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Double,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.archives.care import ArchiveCareAssessment
from core.archives.models import ArchivePerson
from core.archives.service import READ as ARCHIVE_READ
from core.archives.village_book import in_force
from core.identity.access import (
    AccessCatalog,
    Actor,
    bound_scope_clause,
    scope_parameters,
    scope_ranges,
)
from core.metrics.catalog import Declared, MetricCatalog
from core.metrics.compute import DAILY, MetricReader, Number, Split, figure, time_bounds
from core.metrics.coverage import Range
from core.metrics.periods import FIRST_DAY, Period, offset_runs
from core.metrics.refresh import day_of
from core.units.api import COLUMNS, rows
from core.units.codes import LEVEL_ORDER, PATH_LENGTH, Level, UnitCode, parse_code, path_upper_bound
from core.units.models import Unit
from core.units.service import OutOfScope

TREND_WEEKS = 12
LEVELS = ("red", "yellow", "green")  # most severe first

Key = tuple[Any, ...]  # (day?, unit-code prefix?, dimension value?): the groups asked for
Sums = dict[str, dict[Key, float]]  # metric key → group → sum

PERSONS: Table = ArchivePerson.__table__  # type: ignore[attr-defined]
ASSESSMENTS: Table = ArchiveCareAssessment.__table__  # type: ignore[attr-defined]


def family(
    conn: Connection, code_text: str, scope: list[tuple[str, str]]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The unit, its visible ancestors (root first) and its visible children, in one query.
    :raises OutOfScope: the unit is not visible (the same 404 as an unknown one)."""
    code = parse_code(code_text)
    ancestors = code.ancestors()
    values = scope_parameters(scope) | {"code": code.code, "ancestors": ancestors}
    units = rows(conn, _family_statement(len(scope)), values)
    found = next((unit for unit in units if unit["code"] == code.code), None)
    if found is None:
        raise OutOfScope(code.code)
    trail = [unit for unit in units if unit["code"] in ancestors[1:]]
    children = [unit for unit in units if unit["parent_code"] == code.code]
    return found, trail, children


@functools.cache
def _family_statement(ranges: int) -> Select:  # type: ignore[type-arg]
    """The units ``:ancestors`` (the unit itself among them) and those whose parent is
    ``:code``, within ``ranges`` bound scope ranges, in tree order."""
    related = or_(
        col(Unit.code).in_(bindparam("ancestors", expanding=True)),
        col(Unit.parent_code) == bindparam("code"),
    )
    scoped = bound_scope_clause(col(Unit.code), ranges)
    return select(*COLUMNS).where(related, scoped).order_by(col(Unit.path))


def child_length(code: UnitCode) -> int | None:
    """The code-prefix length of the units one level down, ``None`` for a grid."""
    if code.level is Level.grid:
        return None
    return PATH_LENGTH[LEVEL_ORDER[code.level.depth + 1]]


@dataclass(frozen=True)
class Grouping:
    """How sums are grouped; each key of :data:`Sums` holds the asked parts in this order."""

    day: bool = False  # by local day
    prefix: int | None = None  # by the first ``prefix`` digits of the unit code
    dimension: bool = False  # by the metric's dimension value (``""`` for none)


def additive_parts(catalog: MetricCatalog, items: Iterable[Declared]) -> list[Declared]:
    """The additive metrics the values of ``items`` are made of, each once, in order."""
    parts: dict[str, Declared] = {}
    for item in items:
        for part in catalog.parts(item):
            parts.setdefault(part.key, part)
    return list(parts.values())


def grouped_sums(
    reader: MetricReader,
    parts: Sequence[Declared],
    ranges: tuple[Range, ...],
    period: Period,
    grouping: Grouping = Grouping(),
) -> Sums:
    """The sums of additive ``parts`` over ``ranges`` and ``period``, grouped: at most two
    queries whatever the number of parts, one over the daily aggregates for the days each
    holds, one (a ``UNION ALL`` of each part's own aggregate) computing the later days live.
    Both statements are built once per shape, with every value bound."""
    reader.prefetch(parts)
    found: Sums = {part.key: defaultdict(float) for part in parts}
    values: dict[str, Any] = scope_parameters(list(ranges))
    daily_shape: list[str] = []
    live_shape: list[tuple[Declared, int | None]] = []
    for part in parts:
        fresh = reader.fresh_through(part.key) if reader.aggregates else None
        daily, live = period.split(fresh)
        if daily is not None:
            n = len(daily_shape)
            daily_shape.append(part.key)
            values |= {f"daily_start_{n}": daily.start, f"daily_end_{n}": daily.end}
        if live is None:
            continue
        source = part.source
        assert source is not None, "sums are for additive metrics"
        by_day = grouping.day and not source.dated
        for run, offset in offset_runs(live, reader.zone) if by_day else [(live, 0)]:
            n = len(live_shape)
            live_shape.append((part, offset))
            lo, hi = time_bounds(source, run, reader.zone)
            values |= {f"live_lo_{n}": lo, f"live_hi_{n}": hi, f"live_day_{n}": run.start}
    statements = []
    if daily_shape:
        statements.append(_daily_statement(tuple(daily_shape), len(ranges), grouping))
    if live_shape:
        dialect = reader.conn.dialect.name
        zone = reader.zone.key
        statements.append(_live_statement(tuple(live_shape), len(ranges), grouping, dialect, zone))
    for statement in statements:
        for metric, *key, value in reader.conn.execute(statement, values):
            found[metric][_key(grouping, key)] += float(value or 0)
    return found


@functools.lru_cache(maxsize=64)
def _daily_statement(keys: tuple[str, ...], ranges: int, grouping: Grouping) -> Select:  # type: ignore[type-arg]
    """``metric_daily`` summed per metric (``keys``, each over the days
    ``:daily_start_{n}``–``:daily_end_{n}``) and group, within ``ranges`` bound ranges."""
    columns: list[ColumnElement[Any]] = []
    if grouping.day:
        columns.append(DAILY.day)
    if grouping.prefix is not None:
        columns.append(Split(length=grouping.prefix).key(DAILY.unit_code, None))
    if grouping.dimension:
        columns.append(DAILY.dimension)
    which = or_(
        *(
            and_(
                DAILY.metric == key,
                DAILY.day >= bindparam(f"daily_start_{n}", type_=Date),
                DAILY.day <= bindparam(f"daily_end_{n}", type_=Date),
            )
            for n, key in enumerate(keys)
        )
    )
    return (
        select(DAILY.metric, *columns, func.sum(DAILY.value))
        .where(which, bound_scope_clause(DAILY.unit_code, ranges))
        .group_by(DAILY.metric, *columns)
    )


@functools.lru_cache(maxsize=64)
def _live_statement(
    shape: tuple[tuple[Declared, int | None], ...],
    ranges: int,
    grouping: Grouping,
    dialect: str,
    zone: str,
) -> CompoundSelect:
    """Each part's aggregate as :func:`core.metrics.compute.live_query` takes it (over
    ``:live_lo_{n}``–``:live_hi_{n}``), grouped, all in one ``UNION ALL``. By day through
    the local-day expression of the daily refresh for the zone's UTC offset (``None``: the
    offset changes that day, and the run is that one day, ``:live_day_{n}``)."""
    selects = []
    for n, (part, offset) in enumerate(shape):
        source = part.source
        assert source is not None
        grouped: list[ColumnElement[Any]] = []
        columns: list[ColumnElement[Any]] = [literal(part.key, String)]
        if grouping.day:
            if offset is None:
                columns.append(bindparam(f"live_day_{n}", type_=Date))
            else:
                day = day_of(source, dialect, ZoneInfo(zone), offset)
                columns.append(day)
                grouped.append(day)
        if grouping.prefix is not None:
            prefix = Split(length=grouping.prefix).key(source.unit, None)
            columns.append(prefix)
            grouped.append(prefix)
        if grouping.dimension:
            if source.dimension is None:
                columns.append(literal_column("''"))
            else:
                columns.append(source.dimension)
                grouped.append(source.dimension)
        total = func.count() if source.value is None else func.sum(source.value)
        query = (
            select(*columns, cast(total, Double))
            .select_from(source.from_)
            .where(
                bound_scope_clause(source.unit, ranges),
                source.time >= bindparam(f"live_lo_{n}", type_=source.time.type),
                source.time < bindparam(f"live_hi_{n}", type_=source.time.type),
            )
        )
        if source.where is not None:
            query = query.where(source.where)
        selects.append(query.group_by(*grouped) if grouped else query)
    return union_all(*selects)


def _key(grouping: Grouping, values: Sequence[Any]) -> Key:
    """A group's key with its parts in one form whichever query gave them: days as dates
    (SQLite's ``date()`` gives text), dimension values as text (``""`` for none)."""
    key = list(values)
    if grouping.day and isinstance(key[0], str):
        key[0] = date.fromisoformat(key[0])
    if grouping.dimension:
        key[-1] = key[-1] or ""
    return tuple(key)


def fold(
    catalog: MetricCatalog, sums: Sums, item: Declared, key: Key | None = None
) -> Number | None:
    """The value of ``item`` from grouped sums: over every group, or the one group ``key``;
    each part summed, then :func:`figure` (a ratio of sums, never of ratios)."""
    parts = catalog.parts(item)
    if key is None:
        return figure(item.metric, *(sum(sums[part.key].values()) for part in parts))
    return figure(item.metric, *(sums[part.key].get(key, 0.0) for part in parts))


def regroup(sums: Sums, by: Callable[[Key], Key]) -> Sums:
    """Grouped sums added up into coarser groups (``by`` maps a key to its new key): one
    pass, so that a week, a type or a child is then one look-up."""
    found: Sums = {}
    for metric, groups in sums.items():
        into: dict[Key, float] = defaultdict(float)
        for key, value in groups.items():
            into[by(key)] += value
        found[metric] = into
    return found


def period_sums(
    reader: MetricReader,
    counted: list[tuple[Declared, tuple[Range, ...]]],
    code: UnitCode,
    period: Period,
    grouped: str,
) -> Sums:
    """The period's sums of every counted metric's parts: those of the plugin ``grouped``
    by child unit (:func:`child_length`) and dimension value, for the tables that split
    them; the others' in one read per set of ranges (plugins on in the same townships share
    one)."""
    by_ranges: dict[tuple[Range, ...], list[Declared]] = {}
    split: list[Declared] = []
    split_ranges: tuple[Range, ...] = ()
    for item, ranges in counted:
        if item.plugin == grouped:
            split.append(item)
            split_ranges = ranges
        else:
            by_ranges.setdefault(ranges, []).append(item)
    sums: Sums = {}
    if split:
        grouping = Grouping(prefix=child_length(code), dimension=True)
        parts = additive_parts(reader.catalog, split)
        sums.update(grouped_sums(reader, parts, split_ranges, period, grouping))
    for ranges, items in by_ranges.items():
        parts = additive_parts(reader.catalog, items)
        sums.update(grouped_sums(reader, parts, ranges, period))
    return sums


def monday(day: date) -> date:
    """The Monday of ``day``'s week: the key of a week in the trend."""
    return day - timedelta(days=day.weekday())


def trend_weeks(end: date, count: int = TREND_WEEKS) -> list[Period]:
    """The ``count`` weeks (Monday to Sunday) up to the one holding ``end``, oldest first;
    the last ends on ``end``. Weeks are cut at :data:`FIRST_DAY`, the earliest day a period
    may hold."""
    weeks = []
    for n in range(count - 1, -1, -1):
        first = monday(end) - timedelta(weeks=n)
        last = first + timedelta(days=6) if n else end  # no Sunday past the calendar's end
        if last >= FIRST_DAY:  # none before the first day a period may hold
            weeks.append(Period(max(first, FIRST_DAY), last))
    return weeks


@dataclass(frozen=True)
class CareCounts:
    """Households and persons by care level in force (红/黄/绿). A household counts once,
    at its most severe member's level."""

    households: dict[str, int]
    persons: dict[str, int]

    @property
    def empty(self) -> bool:
        return not any(self.persons.values())


def care_counts(
    conn: Connection, actor: Actor, access: AccessCatalog, unit: UnitCode
) -> CareCounts:
    """Counts for the unit's subtree within the actor's archive scope (``archive.read``, in
    the query), in one query built once per number of scope ranges."""
    scope = scope_ranges(actor, access, ARCHIVE_READ)
    values = scope_parameters(scope) | {"low": unit.path, "high": path_upper_bound(unit.path)}
    by_household = dict.fromkeys(LEVELS, 0)
    by_person = dict.fromkeys(LEVELS, 0)
    for rank, count, *members in conn.execute(_care_statement(len(scope)), values):
        if rank is not None:
            by_household[LEVELS[rank]] += int(count)
        for level, number in zip(LEVELS, members, strict=True):
            by_person[level] += int(number or 0)
    return CareCounts(by_household, by_person)


@functools.cache
def _care_statement(ranges: int) -> Select:  # type: ignore[type-arg]
    """Per household (of persons whose unit is in ``[:low, :high)`` and in ``ranges`` bound
    scope ranges) its most severe level in force and its members at each level; then the
    households counted and the members summed per most severe level."""
    p, a = PERSONS, ASSESSMENTS
    severity = case({level: rank for rank, level in enumerate(LEVELS)}, value=a.c.level)
    at = [func.sum(case((a.c.level == level, 1), else_=0)).label(level) for level in LEVELS]
    households = (
        select(func.min(severity).label("worst"), *at)
        .select_from(p.join(a, and_(a.c.person_id == p.c.id, in_force(a))))
        .where(
            p.c.unit_code >= bindparam("low"),
            p.c.unit_code < bindparam("high"),
            bound_scope_clause(p.c.unit_code, ranges),
        )
        .group_by(p.c.household_id)
        .subquery("households")
    )
    worst = households.c.worst
    return select(
        worst, func.count(), *(func.sum(households.c[level]) for level in LEVELS)
    ).group_by(worst)
