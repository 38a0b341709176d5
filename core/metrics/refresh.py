"""Keeping ``metric_daily`` fresh: the hourly refresh of recent days, and the full rebuild.

Freshness rule: ``metric_refresh.fresh_through = F`` means every local day up to ``F`` is in
``metric_daily``, computed after the day had ended; readers take those days from there and
compute later days live. A refresh recomputes the days from ``min(F + 1, today -
settle_days)`` to yesterday (the first refresh, and a rebuild, from the first record's day),
then moves ``F`` to yesterday. Today is never aggregated.

Each chunk of days is replaced (delete, then insert the per-unit sums) in one transaction
that first writes the metric's ``metric_refresh`` row: on PostgreSQL that row lock, on
SQLite the database write lock, makes concurrent refreshes of one metric take turns, and a
reader sees each day either before or after its replacement, never half of it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from core.db.types import utcnow
from core.jobs.spec import JobContext
from core.jobs.support import insert as dialect_insert
from core.metrics.catalog import Declared
from core.metrics.compute import DAILY, REFRESH, time_bounds
from core.metrics.models import MetricDaily, MetricRefresh
from core.metrics.periods import FIRST_DAY, ONE_DAY, Period, local_day, offset_runs
from core.metrics.spec import Source

if TYPE_CHECKING:
    from core.kernel import Kernel

log = logging.getLogger("sanmin.metrics")

CHUNK_DAYS = 31  # days replaced per transaction


def refresh_all(
    kernel: Kernel, now: datetime | None = None, *, full: bool = False
) -> dict[str, date | None]:
    """Refresh every additive metric's aggregates (``full``: rebuild them from the first
    record); return each metric's ``fresh_through``.

    A metric whose refresh fails (a plugin's SQL the database refuses) is logged and
    skipped, so that it does not hold back the others; then :class:`RuntimeError` names
    every such metric (the job is retried, and operators see the names).
    """
    zone = ZoneInfo(kernel.settings.timezone)
    now = now or utcnow()
    today = local_day(now, zone)
    fresh: dict[str, date | None] = {}
    failed: list[str] = []
    for item in kernel.metrics.additive():
        try:
            fresh[item.key] = refresh_metric(kernel.engine, item, zone, today, now, full=full)
        except Exception:
            log.exception("Metric %s not refreshed", item.key)
            failed.append(item.key)
    if failed:
        raise RuntimeError(f"metrics not refreshed: {', '.join(failed)}")
    return fresh


def rebuild(kernel: Kernel, now: datetime | None = None) -> dict[str, date | None]:
    """Recompute every aggregate from the first record: after back-dated or deleted
    records older than a metric's ``settle_days``, or on a new installation."""
    return refresh_all(kernel, now, full=True)


def run_refresh(context: JobContext) -> None:
    """The ``metrics.refresh_daily`` job. Days are those of the period's start, so a run
    (or a retry) never aggregates a day that has not ended."""
    fresh = refresh_all(context.kernel, context.period_start)
    log.info("Metric aggregates fresh through %s", fresh)


def refresh_metric(
    engine: Engine,
    item: Declared,
    zone: ZoneInfo,
    today: date,
    now: datetime,
    *,
    full: bool = False,
) -> date | None:
    """Bring one metric's aggregates up to yesterday; return its ``fresh_through``."""
    yesterday = today - ONE_DAY
    with engine.begin() as conn:
        fresh = _claim(conn, item.key, now)
        if fresh is not None and not full:
            first = min(fresh + ONE_DAY, today - timedelta(days=item.metric.settle_days))
        else:
            first = _first_day(conn, item, zone) or today
            # Rows before the first record belong to records deleted since.
            conn.execute(delete(MetricDaily).where(DAILY.metric == item.key, DAILY.day < first))
            if first > yesterday:
                _set_fresh(conn, item.key, yesterday)
                return yesterday
    while first <= yesterday:
        last = min(first + timedelta(days=CHUNK_DAYS - 1), yesterday)
        with engine.begin() as conn:
            current = _claim(conn, item.key, now)
            _replace(conn, item, Period(first, last), zone)
            fresh = last if current is None else max(current, last)
            _set_fresh(conn, item.key, fresh)
        first = last + ONE_DAY
    return fresh


def _claim(conn: Connection, key: str, now: datetime) -> date | None:
    """Write the metric's refresh row (taking its lock) and return its ``fresh_through``."""
    table = MetricRefresh.__table__  # type: ignore[attr-defined]
    conn.execute(
        dialect_insert(conn, table)
        .values(metric=key, refreshed_at=now)
        .on_conflict_do_update(index_elements=["metric"], set_={"refreshed_at": now})
    )
    return conn.execute(select(REFRESH.fresh_through).where(REFRESH.metric == key)).scalar()


def _set_fresh(conn: Connection, key: str, day: date) -> None:
    conn.execute(update(MetricRefresh).where(REFRESH.metric == key).values(fresh_through=day))


def _first_day(conn: Connection, item: Declared, zone: ZoneInfo) -> date | None:
    """The local day of the metric's earliest record, or ``None`` when it has none.
    Records before :data:`FIRST_DAY` (a mistyped year) are left out: no period reaches
    them, and a refresh starting there could not be computed."""
    source = item.source
    assert source is not None
    lowest, _ = time_bounds(source, Period(FIRST_DAY, FIRST_DAY), zone)
    query = select(func.min(source.time)).select_from(source.from_).where(source.time >= lowest)
    if source.where is not None:
        query = query.where(source.where)
    earliest = conn.execute(query).scalar()
    if earliest is None or source.dated:
        return earliest
    return local_day(earliest, zone)


def _replace(conn: Connection, item: Declared, period: Period, zone: ZoneInfo) -> None:
    """Replace the metric's rows for the days of ``period`` by the per-unit, per-day (and
    per-dimension-value) sums:
    one grouped statement per run of days with the same UTC offset (a single scan of the
    period's records), and one per day on which the offset changes."""
    source = item.source
    assert source is not None
    conn.execute(
        delete(MetricDaily).where(
            DAILY.metric == item.key, DAILY.day >= period.start, DAILY.day <= period.end
        )
    )
    total = func.count() if source.value is None else func.coalesce(func.sum(source.value), 0)
    columns = ["metric", "unit_code", "day", "dimension", "value"]
    # A row without a dimension value is kept under "" (live reads group it there too).
    dimension = literal("", String)
    if source.dimension is not None:
        dimension = func.coalesce(source.dimension, literal_column("''"))
    runs = [(period, 0)] if source.dated else offset_runs(period, zone)
    for run, offset in runs:
        lo, hi = time_bounds(source, run, zone)
        if offset is None:
            day: ColumnElement[Any] = literal(run.start, Date)
        else:
            day = day_of(source, conn.dialect.name, zone, offset)
        rows = (
            select(literal(item.key, String), source.unit, day, dimension, total)
            .select_from(source.from_)
            .where(source.unit.is_not(None), source.time >= lo, source.time < hi)
            .group_by(source.unit, day, dimension)
        )
        if source.where is not None:
            rows = rows.where(source.where)
        conn.execute(insert(MetricDaily).from_select(columns, rows))


def day_of(source: Source, dialect: str, zone: ZoneInfo, offset: int) -> ColumnElement[Any]:
    """SQL for the local day of the source's time column (``offset``: the zone's UTC offset
    in minutes, constant over the rows selected). Constants are inlined, so that the
    GROUP BY repeats the SELECT expression exactly."""
    if source.dated:
        return source.time
    if dialect == "postgresql":
        utc = source.time if source.aware else func.timezone(literal_column("'UTC'"), source.time)
        name = "'" + zone.key.replace("'", "''") + "'"
        return cast(func.timezone(literal_column(name), utc), Date)
    # SQLite keeps UTC timestamps as ISO text, which date() reads.
    return func.date(source.time, literal_column(f"'{offset:+d} minutes'"))
