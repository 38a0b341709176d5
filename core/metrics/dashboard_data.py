"""The dashboard's data, read in a few queries on one connection: the unit with its
visible ancestors and children, the metrics' sums, and the 红/黄/绿 counts.

Every figure is the metrics service's: the sums of a metric's additive parts over the
unit's ranges (where its plugin is on) and a period, taken from ``metric_daily`` for the
days it holds and computed live after them, then divided for a ratio (:func:`figure`).
What differs from :class:`MetricReader` is only how the sums are fetched: for *several*
metrics at once, grouped by day, by unit-code prefix (the child units) or by the dimension
(the ticket type), in one query over ``metric_daily`` and, for the days after it, one
sub-select per family of parts read from the same rows (:func:`_live_plan`), in ``UNION
ALL`` statements short enough for psycopg to parse once. A week, a type or a child is then
a look-up in the groups, so twelve weeks or thirty villages cost no more queries than one.
Statements are built once per shape with every value bound (building one costs more than
running it, docs/benchmarks.md), each window bound once however many parts share it.
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
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import URL, Connection, Dialect
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
from core.metrics.spec import Source
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
    """The sums of additive ``parts`` over ``ranges`` and ``period``, grouped: one query
    over the daily aggregates for the days each holds, and the later days computed live in
    one sub-select per family of parts (:func:`_live_plan`), packed into as few statements
    as psycopg's statement cache allows. Every statement is built once per shape, with each
    window bound once however many parts share it."""
    reader.prefetch(parts)
    found: Sums = {part.key: defaultdict(float) for part in parts}
    values: dict[str, Any] = scope_parameters(list(ranges))
    daily: dict[Period, list[str]] = {}
    windows: dict[tuple[Any, ...], int] = {}
    live: list[tuple[Declared, int, int | None]] = []
    for part in parts:
        fresh = reader.fresh_through(part.key) if reader.aggregates else None
        aggregated, rest = period.split(fresh)
        if aggregated is not None:
            daily.setdefault(aggregated, []).append(part.key)
        if rest is None:
            continue
        source = part.source
        assert source is not None, "sums are for additive metrics"
        by_day = grouping.day and not source.dated
        for run, offset in offset_runs(rest, reader.zone) if by_day else [(rest, 0)]:
            lo, hi = time_bounds(source, run, reader.zone)
            window = (_time_type(source), lo, hi)
            n = windows.get(window)
            if n is None:
                n = windows[window] = len(windows)
                values[f"live_lo_{n}"], values[f"live_hi_{n}"] = lo, hi
            if offset is None:  # the day the offset changes: the run is that one day
                values[f"live_day_{n}"] = run.start
            live.append((part, n, offset))
    conn = reader.conn
    if daily:
        shape = tuple(tuple(keys) for keys in daily.values())
        for n, aggregated in enumerate(daily):
            values[f"daily_start_{n}"], values[f"daily_end_{n}"] = aggregated.start, aggregated.end
        statement = _daily_statement(shape, len(ranges), grouping)
        for metric, *key, value in conn.execute(statement, values).all():
            found[metric][_key(grouping, key)] += float(value or 0)
    if live:
        dialect = conn.dialect
        plan = _live_plan(
            tuple(live), len(ranges), grouping, dialect.name, dialect.driver, reader.zone.key
        )
        width = plan.width
        for statement in plan.statements:
            for family, *row in conn.execute(statement, values).all():
                key = _key(grouping, row[:width])
                for metric, column, present in plan.layout[family]:
                    if present is None or row[present]:
                        found[metric][key] += float(row[column] or 0)
    return found


def _time_type(source: Source) -> type:
    """What a window of the source's time column is bound as: parts share a window's
    parameters only when their columns take the same type (the values tell dates from
    naive and from aware timestamps)."""
    return type(source.time.type)


@functools.lru_cache(maxsize=64)
def _daily_statement(shape: tuple[tuple[str, ...], ...], ranges: int, grouping: Grouping) -> Select:  # type: ignore[type-arg]
    """``metric_daily`` summed per metric and group, for the metric keys of ``shape[n]``
    over the days ``:daily_start_{n}``–``:daily_end_{n}`` (one window for most pages),
    within ``ranges`` bound ranges. The keys are written into the statement (they name
    declared metrics, ``plugin.name``), so that the parameters are the windows' and the
    ranges' only."""
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
                DAILY.metric.in_([_text(key) for key in keys]),
                DAILY.day >= bindparam(f"daily_start_{n}", type_=Date),
                DAILY.day <= bindparam(f"daily_end_{n}", type_=Date),
            )
            for n, keys in enumerate(shape)
        )
    )
    return (
        select(DAILY.metric, *columns, func.sum(DAILY.value))
        .where(which, bound_scope_clause(DAILY.unit_code, ranges))
        .group_by(DAILY.metric, *columns)
    )


def _text(value: str) -> ColumnElement[str]:
    """An SQL string literal (quotes doubled)."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


# psycopg converts a statement's placeholders once per text only for a statement of at most
# 4,096 bytes with at most 50 parameters (``MAX_CACHED_STATEMENT_LENGTH`` and
# ``MAX_CACHED_STATEMENT_PARAMS`` in psycopg/_queries.py); a longer one is parsed again on
# every execution. The live sub-selects are packed into statements within these limits, per
# driver; a driver not listed takes them all in one statement.
STATEMENT_LIMITS: dict[str, tuple[int, int]] = {"psycopg": (4096, 50)}

Column = tuple[str, int, int | None]  # metric key, its value's column, its presence column


@dataclass(frozen=True)
class LivePlan:
    """The live sums of a shape: the statements, and how to read their rows. A row is the
    family's index, ``width`` key columns, then values; ``layout[family]`` names each part's
    value column and the column saying whether the group has rows of that part (``None``:
    every row of the family has, or the family is not grouped)."""

    statements: tuple[CompoundSelect | Select, ...]  # type: ignore[type-arg]
    width: int
    layout: tuple[tuple[Column, ...], ...]


@functools.lru_cache(maxsize=64)
def _live_plan(
    shape: tuple[tuple[Declared, int, int | None], ...],
    ranges: int,
    grouping: Grouping,
    dialect: str,
    driver: str,
    zone: str,
) -> LivePlan:
    """The parts of ``shape`` (each with its window ``n``, bound as ``:live_lo_{n}``–
    ``:live_hi_{n}``, and its zone offset) in one sub-select per family: the parts over the
    same rows (table, unit, time column, dimension) in the same window. A family's rows are
    read once, with the range and window conditions of each part's own aggregate (so with
    the same indexes); a part's ``where`` becomes a ``CASE`` inside its aggregate unless the
    whole family shares it. The sub-selects are then packed, widest first, into ``UNION
    ALL`` statements within :data:`STATEMENT_LIMITS`."""
    families: dict[tuple[int, ...], list[tuple[Declared, int, int | None]]] = {}
    for member in shape:
        source = member[0].source
        assert source is not None
        dimension = id(source.dimension) if grouping.dimension else 0
        family = (id(source.from_), id(source.unit), id(source.time), dimension, *member[1:])
        families.setdefault(family, []).append(member)
    width = int(grouping.day) + int(grouping.prefix is not None) + int(grouping.dimension)
    built = [
        _family_select(index, members, ranges, grouping, dialect, ZoneInfo(zone), width)
        for index, members in enumerate(families.values())
    ]
    layout = tuple(columns for _, columns in built)
    selects = sorted((query for query, _ in built), key=lambda q: -len(q.selected_columns))
    limits = STATEMENT_LIMITS.get(driver)
    if limits is None:
        return LivePlan((_padded(selects),), width, layout)
    compiler = _dialect(dialect, driver)
    statements: list[CompoundSelect | Select] = []  # type: ignore[type-arg]
    packed: list[Select] = []  # type: ignore[type-arg]
    for query in selects:
        if packed and not _fits(_padded([*packed, query]), compiler, limits):
            statements.append(_padded(packed))
            packed = []
        packed.append(query)
    statements.append(_padded(packed))
    return LivePlan(tuple(statements), width, layout)


def _family_select(
    index: int,
    members: list[tuple[Declared, int, int | None]],
    ranges: int,
    grouping: Grouping,
    dialect: str,
    zone: ZoneInfo,
    width: int,
) -> tuple[Select, tuple[Column, ...]]:  # type: ignore[type-arg]
    """One family's sub-select (see :func:`_live_plan`) and its parts' columns."""
    first, n, offset = members[0]
    source = first.source
    assert source is not None
    keys: list[ColumnElement[Any]] = []
    grouped: list[ColumnElement[Any]] = []
    if grouping.day:
        if offset is None:
            keys.append(bindparam(f"live_day_{n}", type_=Date))
        else:
            day = day_of(source, dialect, zone, offset)
            keys.append(day)
            grouped.append(day)
    if grouping.prefix is not None:
        prefix = Split(length=grouping.prefix).key(source.unit, None)
        keys.append(prefix)
        grouped.append(prefix)
    if grouping.dimension:
        if source.dimension is None:
            keys.append(literal_column("''"))
        else:
            keys.append(source.dimension)
            grouped.append(source.dimension)
    # one condition for every part (or none): it filters the rows, as in the part's own query
    shared = len({id(getattr(part.source, "where", None)) for part, _, _ in members}) == 1
    values: list[ColumnElement[Any]] = []
    columns: list[Column] = []
    for part, _, _ in members:
        rows = part.source
        assert rows is not None
        where = None if shared else rows.where
        column = width + len(values)
        present: int | None = None
        if where is None:
            total = func.count() if rows.value is None else func.sum(rows.value)
        elif rows.value is None:
            total = func.count(case((where, literal_column("1"))))
            present = column if grouped else None
        else:
            total = func.sum(case((where, rows.value)))
            if grouped:
                present = column + 1
        values.append(total if rows.value is None else cast(total, Double))
        if present is not None and present != column:
            values.append(func.count(case((where, literal_column("1")))))
        columns.append((part.key, column, present))
    query = (
        select(literal_column(str(index)), *keys, *values)
        .select_from(source.from_)
        .where(
            bound_scope_clause(source.unit, ranges),
            source.time >= bindparam(f"live_lo_{n}", type_=source.time.type),
            source.time < bindparam(f"live_hi_{n}", type_=source.time.type),
        )
    )
    if shared and source.where is not None:
        query = query.where(source.where)
    return (query.group_by(*grouped) if grouped else query), tuple(columns)


def _padded(selects: list[Select]) -> CompoundSelect | Select:  # type: ignore[type-arg]
    """The sub-selects in one ``UNION ALL``, each padded with ``NULL`` to the first one's
    columns (the widest: PostgreSQL takes a column's type from the left, and a ``NULL``
    there would be text)."""
    if len(selects) == 1:
        return selects[0]
    columns = len(selects[0].selected_columns)
    return union_all(
        *(
            query.add_columns(*[null()] * (columns - len(query.selected_columns)))
            for query in selects
        )
    )


@functools.cache
def _dialect(name: str, driver: str) -> Dialect:
    """A dialect to measure statements with (as the connection's would write them)."""
    return URL.create(f"{name}+{driver}").get_dialect()()


def _fits(statement: CompoundSelect | Select, dialect: Dialect, limits: tuple[int, int]) -> bool:  # type: ignore[type-arg]
    """Whether the statement, as sent (lists expanded), is within ``limits``: its length in
    bytes and its number of parameters (each place of a positional one)."""
    compiled = statement.compile(dialect=dialect)
    sent = compiled.construct_expanded_state(compiled.params)
    places = sent.positiontup if sent.positiontup is not None else sent.parameters
    length, parameters = limits
    return len(sent.statement.encode()) <= length and len(places) <= parameters


def _key(grouping: Grouping, values: Sequence[Any]) -> Key:
    """A group's key with its parts in one form whichever query gave them: days as dates
    (SQLite's ``date()`` gives text), dimension values as text (``""`` for none)."""
    if not grouping.day and not grouping.dimension:
        return tuple(values)
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
    split: Sequence[Declared] = (),
) -> Sums:
    """The period's sums of every counted metric's parts. The parts in ``split`` (of one
    plugin: the ones the tables split) by child unit (:func:`child_length`) and dimension
    value; every other part as one total, in one read per set of ranges (plugins on in the
    same townships share one), since its figure is only shown whole."""
    keys = {part.key for part in split}
    split_ranges: tuple[Range, ...] = ()
    by_ranges: dict[tuple[Range, ...], dict[str, Declared]] = {}
    for item, ranges in counted:
        for part in reader.catalog.parts(item):
            if part.key in keys:
                split_ranges = ranges
            else:
                by_ranges.setdefault(ranges, {}).setdefault(part.key, part)
    sums: Sums = {}
    if split_ranges:
        grouping = Grouping(prefix=child_length(code), dimension=True)
        sums.update(grouped_sums(reader, split, split_ranges, period, grouping))
    for ranges, parts in by_ranges.items():
        sums.update(grouped_sums(reader, list(parts.values()), ranges, period))
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
