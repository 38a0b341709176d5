"""``/metrics``: every declared metric in the Prometheus text format, for operators.

One gauge family per metric, ``sanmin_{plugin}_{metric}``, with a sample per county and per
township of the caller's scope where the plugin counts (labels ``unit``, ``unit_name``,
``level``); grids and villages are left out to bound the series count. Values are for the
period asked (``start``/``end``, as in the JSON API), by default this month to date. Also:
``sanmin_info``, ``sanmin_plugins{state}``, ``sanmin_metric_fresh_through_timestamp_seconds``
and the answering process's ``process_*`` figures.

Written with ``prometheus_client``: its collectors, escaping and content negotiation
(text 0.0.4 or OpenMetrics, from the ``Accept`` header) are the reference implementation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlmodel import col

from core.identity.access import AccessCatalog, Actor, scope_clause
from core.identity.web import access_catalog, require_permission
from core.kernel import Kernel
from core.metrics.api import PERMISSION, EndParam, StartParam, request_period
from core.metrics.catalog import Declared
from core.metrics.compute import MetricReader, Split, figure
from core.metrics.periods import ONE_DAY, Period, midnight
from core.units.api import visible_unit
from core.units.codes import PATH_LENGTH, Level, UnitCode, parse_code
from core.units.models import Unit
from core.version import __version__

router = APIRouter()

LABELS = ["unit", "unit_name", "level"]
TOWNSHIP, COUNTY = PATH_LENGTH[Level.township], PATH_LENGTH[Level.county]


class Families:
    """A collector that yields metric families gathered beforehand."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


@router.get(
    "/metrics",
    summary="Prometheus 指标 / metrics in the Prometheus text format",
    response_class=Response,
)
def prometheus_metrics(
    request: Request,
    unit: str | None = None,
    start: date | None = StartParam,
    end: date | None = EndParam,
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
) -> Response:
    """The counties and townships of the caller's scope (or under ``unit``). Scrape with a
    bearer token or an ``X-API-Key`` holding ``metrics.read``."""
    kernel: Kernel = request.app.state.kernel
    period = request_period(kernel, start, end)
    with kernel.engine.connect() as conn:
        if unit is not None:
            visible = scope_clause(actor, access, PERMISSION, col(Unit.code))
            roots = [parse_code(visible_unit(conn, unit, visible)["code"])]
        else:
            roots = [parse_code(code_of(path)) for path in actor.paths_with(access, PERMISSION)]
        reader = MetricReader(conn, kernel)
        families = exposition(reader, roots, period)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(families))
    ProcessCollector(registry=registry)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=content_type)


def code_of(path: str) -> str:
    """The unit code whose path is ``path``."""
    return path if len(path) > 12 else path.ljust(12, "0")


def exposition(reader: MetricReader, roots: list[UnitCode], period: Period) -> list[Metric]:
    """The metric families for ``roots`` (units of the caller's scope) over ``period``."""
    kernel = reader.kernel
    items = kernel.metrics.all()
    reader.prefetch(items)
    levels = (Level.county, Level.township)
    units = sorted(
        (scope for scope in reader.snapshot.units.values() if scope.level in levels),
        key=lambda scope: scope.code,
    )
    families: list[Metric] = []
    for item in items:
        metric = item.metric
        family = GaugeMetricFamily(
            f"sanmin_{item.plugin}_{metric.name}",
            f"{metric.title}（{metric.unit_label}）{metric.help}".strip(),
            labels=LABELS,
        )
        for root in roots:
            for labels, value in samples(reader, item, root, period, units):
                family.add_metric(labels, value)
        families.append(family)
    families.extend(kernel_families(reader, items))
    return families


def samples(
    reader: MetricReader, item: Declared, root: UnitCode, period: Period, units: list[Any]
) -> Iterator[tuple[list[str], float]]:
    """``(labels, value)`` for each county and township under ``root`` where the metric
    counts; absent where its plugin is off, and where a ratio's denominator is zero."""
    if root.level.depth > Level.township.depth:
        return
    ranges = reader.ranges(item.plugin, root)
    if not ranges:
        return
    parts = reader.part_sums(item, ranges, period, Split(length=TOWNSHIP))
    counties = []
    for part in parts:
        by_county: dict[str, float] = defaultdict(float)
        for key, value in part.items():
            by_county[str(key)[:COUNTY]] += value
        counties.append(by_county)
    for scope in units:
        parsed = parse_code(scope.code)
        if not scope.code.startswith(root.path) or not reader.ranges(item.plugin, parsed):
            continue
        sums = counties if scope.level is Level.county else parts
        value = figure(item.metric, *(part.get(parsed.path, 0.0) for part in sums))
        if value is not None:
            yield [scope.code, scope.name, scope.level.value], value


def kernel_families(reader: MetricReader, items: list[Declared]) -> list[Metric]:
    """Sanmin's own gauges: version, plugins by state, and how fresh each aggregate is."""
    kernel = reader.kernel
    info = InfoMetricFamily("sanmin", "Sanmin 版本 / version", value={"version": __version__})
    plugins = GaugeMetricFamily(
        "sanmin_plugins", "插件数 / plugins loaded and failed", labels=["state"]
    )
    plugins.add_metric(["loaded"], len(kernel.registry.plugins))
    plugins.add_metric(["failed"], len(kernel.registry.plugins_failed))
    fresh = GaugeMetricFamily(
        "sanmin_metric_fresh_through_timestamp_seconds",
        "指标日汇总覆盖至（该日结束时刻）/ end of the last day in the daily aggregates",
        labels=["metric"],
    )
    for key in sorted({part.key for item in items for part in reader.catalog.parts(item)}):
        day = reader.fresh_through(key)
        if day is not None:
            fresh.add_metric([key], midnight(day + ONE_DAY, reader.zone).timestamp())
    return [info, plugins, fresh]
