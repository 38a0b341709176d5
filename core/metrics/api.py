"""JSON API for metrics: ``/api/v1/metrics`` and ``/api/v1/metrics/{plugin}/{metric}``."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.db.types import utcnow
from core.identity.access import AccessCatalog, Actor, scope_clause
from core.identity.web import access_catalog, require_permission
from core.kernel import Kernel
from core.metrics.catalog import Declared, UnknownMetric
from core.metrics.compute import MetricReader, Number, Split, figure
from core.metrics.periods import Period, PeriodError, check_day, local_day
from core.units.api import COLUMNS, rows, visible_unit
from core.units.codes import LEVEL_ORDER, PATH_LENGTH, Level, parse_code
from core.units.models import Unit

PERMISSION = "metrics.read"

router = APIRouter(prefix="/metrics")

UnitParam = Query(None, description="单位代码，默认本人单位 / unit code, default: your unit")
StartParam = Query(None, description="起始日（含），默认当月 1 日 / first day, default: 1st")
EndParam = Query(None, description="截止日（含），默认今天 / last day (included), default: today")


class UnitRef(BaseModel):
    code: str
    name: str
    level: Level
    level_label: str


class MetricOut(BaseModel):
    plugin: str
    plugin_title: str
    name: str
    key: str
    title: str
    help: str
    unit_label: str
    kind: str
    dimension_title: str | None = None  # what the figure can be split by (诉求类型)
    value: int | float | None


class MetricsAtUnit(BaseModel):
    unit: UnitRef
    start: date
    end: date
    metrics: list[MetricOut]


class ChildValue(UnitRef):
    value: int | float | None


class GroupValue(BaseModel):
    key: str  # a value of the metric's dimension (a ticket type's code)
    value: int | float | None


class MetricDetail(MetricOut):
    unit: UnitRef
    start: date
    end: date
    dimension: str | None = None  # the one dimension value counted, when asked for
    own: int | float | None = None  # by=child: records attached to the unit itself
    children: list[ChildValue] | None = None  # by=child: one level down
    groups: list[GroupValue] | None = None  # by=dimension: one per value, largest first


def request_period(kernel: Kernel, start: date | None, end: date | None) -> Period:
    """The period a request asks for (default: this month to date, in local days). The
    days given are checked before defaults are derived from them, so an error names the
    parameter the caller sent."""
    today = local_day(utcnow(), ZoneInfo(kernel.settings.timezone))
    try:
        for field, day in (("start", start), ("end", end)):
            if day is not None:
                check_day(field, day)
        end = end or max(today, start or today)
        return Period(start or end.replace(day=1), end)
    except PeriodError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


def unit_ref(found: dict[str, Any]) -> dict[str, Any]:
    return {key: found[key] for key in ("code", "name", "level", "level_label")}


def describe(kernel: Kernel, item: Declared, value: Number | None) -> dict[str, Any]:
    """A metric's declaration and value, as the API shows it."""
    metric = item.metric
    info = kernel.registry.info(item.plugin)
    return {
        "plugin": item.plugin,
        "plugin_title": info.title if info else item.plugin,
        "name": metric.name,
        "key": item.key,
        "title": metric.title,
        "help": metric.help,
        "unit_label": metric.unit_label,
        "kind": metric.kind,
        "dimension_title": kernel.metrics.dimension_title(item),
        "value": value,
    }


@router.get("", summary="单位的全部指标 / every metric at a unit", response_model=MetricsAtUnit)
def metrics_at_unit(
    request: Request,
    unit: str | None = UnitParam,
    start: date | None = StartParam,
    end: date | None = EndParam,
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
) -> dict[str, Any]:
    """Every metric counted at the unit (its whole subtree) over the period. Metrics of a
    plugin that is on nowhere under the unit are left out, not shown as zero."""
    kernel: Kernel = request.app.state.kernel
    period = request_period(kernel, start, end)
    visible = scope_clause(actor, access, PERMISSION, col(Unit.code))
    with kernel.engine.connect() as conn:
        found = visible_unit(conn, unit or actor.home_unit or "", visible)
        reader = MetricReader(conn, kernel)
        counted = reader.counted_at(parse_code(found["code"]))
        metrics = [
            describe(kernel, item, reader.value(item, ranges, period)) for item, ranges in counted
        ]
    return {"unit": unit_ref(found), "start": period.start, "end": period.end, "metrics": metrics}


@router.get(
    "/{plugin}/{metric}",
    summary="一项指标，可按下级单位或维度分解 / one metric, optionally split",
    response_model=MetricDetail,
)
def metric_detail(
    request: Request,
    plugin: str,
    metric: str,
    unit: str | None = UnitParam,
    start: date | None = StartParam,
    end: date | None = EndParam,
    by: Literal["child", "dimension"] | None = Query(
        None,
        description="child：按下一级单位分解；dimension：按指标的维度（如诉求类型）分解 / "
        "split by child unit or by the metric's dimension (a ticket's type)",
    ),
    dimension: str | None = Query(
        None,
        max_length=64,
        description="只计这一维度值（如诉求类型代码 repair） / count one dimension value only",
    ),
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
) -> dict[str, Any]:
    """One metric at the unit; with ``by=child`` also for each unit one level down where it
    counts, and for the records attached to the unit itself (``own``); with
    ``by=dimension`` for each value of the metric's dimension (``groups``). ``dimension``
    counts one value only (with ``by=child`` too). 404 when the plugin is on nowhere under
    the unit; 422 when the metric has no dimension and one is asked for."""
    kernel: Kernel = request.app.state.kernel
    try:
        item = kernel.metrics.get(plugin, metric)
    except UnknownMetric as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    if (by == "dimension" or dimension is not None) and not kernel.metrics.dimension_title(item):
        field = "by" if by == "dimension" else "dimension"
        raise HTTPException(
            status_code=422,
            detail=f"{field}：指标 {item.key} 不按维度分解 / metric {item.key} has no dimension",
        )
    period = request_period(kernel, start, end)
    visible = scope_clause(actor, access, PERMISSION, col(Unit.code))
    with kernel.engine.connect() as conn:
        found = visible_unit(conn, unit or actor.home_unit or "", visible)
        reader = MetricReader(conn, kernel)
        code, ranges = reader.require(plugin, found["code"])
        answer = {
            "unit": unit_ref(found),
            "start": period.start,
            "end": period.end,
            "dimension": dimension,
        }
        if by == "dimension":
            parts = reader.part_sums(item, ranges, period, Split(by_dimension=True))
            value = figure(item.metric, *(sum(part.values()) for part in parts))
            keys = sorted({key for part in parts for key in part}, key=lambda k: (-parts[-1][k], k))
            groups = [
                {"key": key, "value": figure(item.metric, *(p.get(key, 0.0) for p in parts))}
                for key in keys
            ]
            return {**describe(kernel, item, value), **answer, "groups": groups}
        if by is None or code.level is Level.grid:
            value = reader.value(item, ranges, period, dimension)
            extra = {"own": value, "children": []} if by else {}
            return {**describe(kernel, item, value), **answer, **extra}
        length = PATH_LENGTH[LEVEL_ORDER[code.level.depth + 1]]
        parts = reader.part_sums(item, ranges, period, Split(length=length, only=dimension))
        value = figure(item.metric, *(sum(part.values()) for part in parts))
        own = figure(item.metric, *(part.get(code.code[:length], 0.0) for part in parts))
        children = [
            {**unit_ref(child), "value": figure(item.metric, *(p.get(path, 0.0) for p in parts))}
            for child, path in _children(conn, reader, plugin, code.code, visible)
        ]
    return {**describe(kernel, item, value), **answer, "own": own, "children": children}


def _children(
    conn: Connection, reader: MetricReader, plugin: str, code: str, visible: Any
) -> list[tuple[dict[str, Any], str]]:
    """The visible units directly below ``code`` where the plugin counts, with their paths."""
    below = select(*COLUMNS).where(col(Unit.parent_code) == code, visible).order_by(col(Unit.path))
    found = []
    for child in rows(conn, below):
        parsed = parse_code(child["code"])
        if reader.ranges(plugin, parsed):
            found.append((child, parsed.path))
    return found
