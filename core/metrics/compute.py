"""Metric values: read from daily aggregates where they are fresh, computed live elsewhere.

The live query is the aggregate one would write by hand — ``count(*)`` or ``sum(value)``
over the plugin's table, with the unit code in a range (or a few ranges, when some
townships have the plugin off) and the time in ``[start, end)`` — so it is served by the
plugin's indexes on ``unit_code`` and the time column. For the days up to the metric's
``fresh_through`` the same sum is read from ``metric_daily`` instead; the two parts are
added. Values roll up the tree because a unit's range contains its whole subtree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.engine import Connection, Engine

from core.metrics.catalog import Declared
from core.metrics.coverage import Range, in_ranges
from core.metrics.models import MetricDaily, MetricRefresh
from core.metrics.periods import ONE_DAY, Period
from core.metrics.spec import Metric, Source
from core.plugins.errors import PluginDisabled
from core.units.codes import UnitCode

if TYPE_CHECKING:
    from core.kernel import Kernel

Number = int | float
Sums = dict[str | None, float]  # by unit-code prefix; ``None`` when not grouped

DAILY = MetricDaily.__table__.c  # type: ignore[attr-defined]
REFRESH = MetricRefresh.__table__.c  # type: ignore[attr-defined]
FRESHNESS = select(REFRESH.metric, REFRESH.fresh_through)


def figure(metric: Metric, *parts: float) -> Number | None:
    """The value shown for a metric from its additive sums: an integer count, a sum, or a
    ratio (``None`` when its denominator is zero)."""
    if metric.kind == "count":
        return round(parts[0])
    if metric.kind == "sum":
        return round(parts[0], 6)
    numerator, denominator = parts
    if not denominator:
        return None
    return round(metric.scale * numerator / denominator, 6)


def time_bounds(source: Source, period: Period, zone: ZoneInfo) -> tuple[Any, Any]:
    """``[lo, hi)`` for the source's time column: dates for a date column, UTC instants
    (naive for a naive column) for timestamps."""
    if source.dated:
        return period.start, period.end + ONE_DAY
    lo, hi = period.bounds(zone)
    if not source.aware:
        return lo.replace(tzinfo=None), hi.replace(tzinfo=None)
    return lo, hi


@dataclass(frozen=True)
class Split:
    """How sums are taken: all together, or grouped by the first ``length`` digits of the
    unit code, or by the metric's dimension; and whether only one dimension value counts."""

    length: int | None = None  # group by unit-code prefix
    by_dimension: bool = False  # group by the dimension's values
    only: str | None = None  # count the rows of this dimension value only

    def key(self, unit: ColumnElement[str], dimension: ColumnElement[Any] | None) -> Any:
        """The grouping expression, or ``None`` for one total."""
        if self.by_dimension:
            return dimension
        if self.length is None:
            return None
        # The length is inlined: GROUP BY must repeat the SELECT expression exactly.
        prefix = func.substr(unit, literal_column("1"), literal_column(str(int(self.length))))
        return prefix

    def select(self, total: ColumnElement[Any], unit: ColumnElement[str], dimension: Any) -> Select:  # type: ignore[type-arg]
        """``SELECT [key,] total``, grouped by the key, filtered to ``only``."""
        key = self.key(unit, dimension)
        query = select(total) if key is None else select(key.label("key"), total).group_by(key)
        if self.only is not None:
            if dimension is None:
                raise ValueError("this metric has no dimension to filter on")
            query = query.where(dimension == self.only)
        return query


WHOLE = Split()


def live_query(
    source: Source,
    ranges: tuple[Range, ...],
    period: Period,
    zone: ZoneInfo,
    split: Split = WHOLE,
) -> Select:  # type: ignore[type-arg]
    """The hand-written aggregate: the source's rows in ``ranges`` during ``period``."""
    lo, hi = time_bounds(source, period, zone)
    total = func.count() if source.value is None else func.sum(source.value)
    conditions = [in_ranges(source.unit, ranges), source.time >= lo, source.time < hi]
    if source.where is not None:
        conditions.append(source.where)
    query = split.select(total, source.unit, source.dimension)
    return query.select_from(source.from_).where(*conditions)


def daily_query(
    key: str, ranges: tuple[Range, ...], period: Period, split: Split = WHOLE
) -> Select:  # type: ignore[type-arg]
    """The same sum read from ``metric_daily`` (days of ``period`` must all be fresh)."""
    return split.select(func.sum(DAILY.value), DAILY.unit_code, DAILY.dimension).where(
        DAILY.metric == key,
        in_ranges(DAILY.unit_code, ranges),
        DAILY.day >= period.start,
        DAILY.day <= period.end,
    )


class MetricReader:
    """Metric values on one connection, under one toggles snapshot.

    :param aggregates: read ``metric_daily`` for the days it covers (the default); with
        ``False`` every value is computed live (tests compare the two paths).
    """

    def __init__(self, conn: Connection, kernel: Kernel, *, aggregates: bool = True) -> None:
        self.conn = conn
        self.kernel = kernel
        self.catalog = kernel.metrics
        self.snapshot = kernel.toggles.snapshot()
        self.zone = ZoneInfo(kernel.settings.timezone)
        self.aggregates = aggregates
        self._fresh: dict[str, date | None] | None = None  # every metric's, once read
        self._sums: dict[tuple[str, tuple[Range, ...], Period, Split], Sums] = {}

    def ranges(self, plugin: str, unit: UnitCode) -> tuple[Range, ...]:
        """Where ``plugin``'s records count below ``unit`` (empty: its metrics are absent)."""
        return self.catalog.coverage.ranges(self.snapshot, plugin, unit)

    def counted_at(self, unit: UnitCode) -> list[tuple[Declared, tuple[Range, ...]]]:
        """Every metric that counts at ``unit`` (its plugin on somewhere under it), with its
        ranges, in catalogue order; how fresh their aggregates are is read in one query."""
        by_plugin: dict[str, tuple[Range, ...]] = {}
        counted = []
        for item in self.catalog.all():
            ranges = by_plugin.get(item.plugin)
            if ranges is None:
                ranges = by_plugin[item.plugin] = self.ranges(item.plugin, unit)
            if ranges:
                counted.append((item, ranges))
        self.prefetch(item for item, _ in counted)
        return counted

    def require(self, plugin: str, unit_code: str) -> tuple[UnitCode, tuple[Range, ...]]:
        """The parsed unit and its ranges. :raises PluginDisabled: the plugin is on nowhere
        under the unit (naming its township, or the county or city itself)."""
        scope, unit = self.kernel.toggles.resolve(unit_code, self.snapshot)
        ranges = self.ranges(plugin, unit)
        if not ranges:
            info = self.kernel.registry.info(plugin)
            raise PluginDisabled(plugin, info.title if info else plugin, scope.name, scope.code)
        return unit, ranges

    def prefetch(self, items: Iterable[Declared] = ()) -> None:
        """Read how far the daily aggregates are fresh: every metric's (``items`` or not), in
        one query without parameters, once per reader. The table holds one row per metric,
        and a statement listing the keys would grow with the plugins past what psycopg
        caches (50 parameters)."""
        if self._fresh is None and self.aggregates:
            self._fresh = {key: day for key, day in self.conn.execute(FRESHNESS)}

    def fresh_through(self, key: str) -> date | None:
        """The last day of ``key`` in the daily aggregates, as read by :meth:`prefetch`."""
        return None if self._fresh is None else self._fresh.get(key)

    def sums(
        self, item: Declared, ranges: tuple[Range, ...], period: Period, split: Split = WHOLE
    ) -> Sums:
        """An additive metric's sums over ``ranges`` and ``period``: one total (key
        ``None``), or grouped as ``split`` says. Remembered, so that a ratio and its terms
        shown together query once."""
        assert item.source is not None, "sums are for additive metrics"
        memo = (item.key, ranges, period, split)
        if memo in self._sums:
            return self._sums[memo]
        self.prefetch([item])
        fresh = self.fresh_through(item.key) if self.aggregates else None
        daily, live = period.split(fresh)
        queries = []
        if daily is not None:
            queries.append(daily_query(item.key, ranges, daily, split))
        if live is not None:
            queries.append(live_query(item.source, ranges, live, self.zone, split))
        totals: Sums = defaultdict(float)
        grouped = split.by_dimension or split.length is not None
        for query in queries:
            if not grouped:
                totals[None] += float(self.conn.execute(query).scalar() or 0)
            else:
                for key, value in self.conn.execute(query):
                    totals[key or ""] += float(value or 0)  # a Numeric sum is a Decimal
        self._sums[memo] = totals
        return totals

    def part_sums(
        self, item: Declared, ranges: tuple[Range, ...], period: Period, split: Split = WHOLE
    ) -> list[Sums]:
        """The sums of each additive part of a metric (one, or a ratio's two)."""
        return [self.sums(part, ranges, period, split) for part in self.catalog.parts(item)]

    def value(
        self, item: Declared, ranges: tuple[Range, ...], period: Period, only: str | None = None
    ) -> Number | None:
        """The metric's value over ``ranges`` and ``period`` (for one dimension value)."""
        parts = self.part_sums(item, ranges, period, Split(only=only))
        return figure(item.metric, *(part.get(None, 0.0) for part in parts))


@contextmanager
def connection(db: Engine | Connection) -> Iterator[Connection]:
    """A connection from an engine (closed afterwards), or the caller's own."""
    if isinstance(db, Connection):
        yield db
        return
    with db.connect() as conn:
        yield conn


def metric_value(
    db: Engine | Connection,
    kernel: Kernel,
    plugin: str,
    metric: str,
    unit_code: str,
    start: date,
    end: date,
    *,
    aggregates: bool = True,
) -> Number | None:
    """The value of ``{plugin}.{metric}`` for the subtree of ``unit_code`` over the local
    days ``start`` to ``end`` (both included), counting only townships where the plugin
    is enabled. No scope check: callers that serve users check the unit first.

    :raises UnknownMetric: no loaded plugin declares it.
    :raises PluginDisabled: the plugin is on nowhere under the unit (the metric is absent).
    :raises UnitCodeError, UnitNotFound: a bad or unknown unit.
    :raises PeriodError: ``end`` before ``start``, or a day out of range.
    """
    item = kernel.metrics.get(plugin, metric)
    period = Period(start, end)
    with connection(db) as conn:
        reader = MetricReader(conn, kernel, aggregates=aggregates)
        _, ranges = reader.require(plugin, unit_code)
        return reader.value(item, ranges, period)
