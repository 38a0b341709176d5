"""The metrics dashboard page: ``GET /admin/dashboard``, a unit's figures with charts.

For the unit's whole subtree and a period of local days (this month to date unless
``start``/``end`` say otherwise), within the actor's scope only:

- the ticket KPIs (为民办事) week by week over the twelve weeks up to the period's end, by
  ticket type and by unit one level down (each a link to drill into), as charts drawn on
  the server (:mod:`core.metrics.charts`) with the same numbers in tables;
- households and persons by care level 红/黄/绿 (the archive's scope);
- every plugin's figures, as the JSON API computes them; a plugin on nowhere under the
  unit shows nothing, not zeros.

The figures come from :mod:`core.metrics.dashboard_data` in a few grouped queries on one
connection: their number does not grow with the weeks, types or child units.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from core.archives.care import LEVELS as LEVEL_TITLES
from core.archives.service import READ as ARCHIVE_READ
from core.identity.access import AccessCatalog, Actor, scope_ranges
from core.identity.web import access_catalog, require_permission
from core.kernel import Kernel
from core.metrics import dashboard_data as data
from core.metrics.api import PERMISSION, request_period
from core.metrics.catalog import Declared
from core.metrics.charts import CARE_COLORS, Chart, Series, svg
from core.metrics.compute import MetricReader, Number
from core.metrics.coverage import Range
from core.metrics.periods import Period
from core.tickets.service import catalog_of
from core.units.codes import UnitCode, parse_code
from core.web.render import render

router = APIRouter()

TICKETS = "tickets"
# The ticket KPIs the charts and tables follow: name → column heading.
HEADLINE = {
    "submitted": "提交数",
    "resolved": "办结数",
    "resolution_rate": "办结率",
    "satisfaction_rate": "满意率",
}
COUNTS, RATES = ("submitted", "resolved"), ("resolution_rate", "satisfaction_rate")
Values = dict[str, Number | None]  # headline KPI name → value


def _board(
    kernel: Kernel,
    actor: Actor,
    access: AccessCatalog,
    unit: str | None,
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    """The page's context: see the module's docstring."""
    period = request_period(kernel, start, end)
    scope = scope_ranges(actor, access, PERMISSION)
    with kernel.engine.connect() as conn:
        found, trail, children = data.family(conn, unit or actor.home_unit or "", scope)
        code = parse_code(found["code"])
        reader = MetricReader(conn, kernel)
        counted = reader.counted_at(code)
        ranges = next((ranges for item, ranges in counted if item.plugin == TICKETS), ())
        catalog = reader.catalog
        headline = {name: catalog.get(TICKETS, name) for name in HEADLINE} if ranges else {}
        parts = data.additive_parts(catalog, headline.values())
        sums = data.period_sums(reader, counted, code, period, split=parts)
        groups: dict[str, list[dict[str, Any]]] = {}
        for item, _ in sorted(counted, key=lambda pair: pair[0].plugin != TICKETS):
            info = kernel.registry.info(item.plugin)
            metric = item.metric
            groups.setdefault(info.title if info else item.plugin, []).append(
                {
                    "title": metric.title,
                    "help": metric.help,
                    "text": _text(data.fold(catalog, sums, item), metric.unit_label),
                }
            )
        tickets = None
        if ranges:
            tickets = _tickets(kernel, reader, ranges, headline, sums, code, period, children)
        care = None
        if actor.role_allows(access, ARCHIVE_READ, code.code):
            care = _care(data.care_counts(conn, actor, access, code))
    return {
        "unit": found,
        "trail": trail,
        "period": period,
        "groups": groups,
        "children": children,
        "tickets": tickets,
        "care": care,
        "level_titles": LEVEL_TITLES,
        "fmt": _text,
    }


def _tickets(
    kernel: Kernel,
    reader: MetricReader,
    ranges: tuple[Range, ...],
    headline: dict[str, Declared],
    sums: data.Sums,
    code: UnitCode,
    period: Period,
    children: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ticket KPIs by week, by type and by child unit, with their charts (``sums``
    holds the period's sums of the ``headline`` KPIs' parts by child unit and type)."""
    catalog = reader.catalog
    parts = data.additive_parts(catalog, headline.values())

    def values(source: data.Sums, key: data.Key) -> Values:
        return {name: data.fold(catalog, source, item, key) for name, item in headline.items()}

    weeks = data.trend_weeks(period.end)
    window = Period(weeks[0].start, period.end)
    daily = data.grouped_sums(reader, parts, ranges, window, data.Grouping(day=True))
    weekly = data.regroup(daily, lambda key: (data.monday(key[0]),))
    trend = [(week, values(weekly, (data.monday(week.start),))) for week in weeks]

    mine = {part.key: sums[part.key] for part in parts}
    by_dimension = data.regroup(mine, lambda key: (key[-1],))
    submitted = by_dimension[headline["submitted"].key]
    types = sorted({key[0] for part in parts for key in by_dimension[part.key]})
    types.sort(key=lambda t: -submitted.get((t,), 0.0))
    labels = catalog_of(kernel).types
    by_type = [
        (labels[t].label if t in labels else t or "未分类", values(by_dimension, (t,)))
        for t in types
    ]

    by_child = []
    length = data.child_length(code)
    if length is not None:
        by_prefix = data.regroup(mine, lambda key: (key[0],))
        for child in children:
            below = parse_code(child["code"])
            if reader.ranges(TICKETS, below):
                by_child.append((child, values(by_prefix, (below.path,))))
            else:  # still listed, to drill into
                by_child.append((child, dict.fromkeys(HEADLINE)))
        own = values(by_prefix, (code.code[:length],))
        if own["submitted"] or own["resolved"]:
            by_child.append(({"name": f"{code.level.label}本级", "code": None}, own))
    return {
        "trend": trend,
        "by_type": by_type,
        "by_child": by_child,
        "charts": _ticket_charts(trend, by_type, by_child),
    }


def _ticket_charts(
    trend: list[tuple[Period, Values]],
    by_type: list[tuple[str, Values]],
    by_child: list[tuple[dict[str, Any], Values]],
) -> dict[str, Any]:
    weeks = tuple(f"{week.start.month}/{week.start.day}" for week, _ in trend)

    def series(rows: list[tuple[Any, Values]], names: tuple[str, ...]) -> tuple[Series, ...]:
        return tuple(Series(HEADLINE[n], tuple(v[n] for _, v in rows)) for n in names)

    charts = {
        "rates": svg(
            Chart(
                "line",
                "近 12 周办结率与满意率",
                "每周的办结率与满意率（%），按周一起始；各周数值见下表。",
                weeks,
                series(trend, RATES),
                percent=True,
            )
        ),
        "counts": svg(
            Chart(
                "line",
                "近 12 周诉求提交数与办结数",
                "每周提交与办结的诉求件数，按周一起始；各周数值见下表。",
                weeks,
                series(trend, COUNTS),
            )
        ),
    }
    if by_type:
        names = tuple(name for name, _ in by_type)
        charts["types"] = svg(
            Chart(
                "hbar",
                "按诉求类型的提交数与办结数",
                "期间内各诉求类型提交与办结的件数；数值见下表。",
                names,
                series(by_type, COUNTS),
            )
        )
    if by_child:
        names = tuple(child["name"] for child, _ in by_child)
        charts["children"] = svg(
            Chart(
                "hbar",
                "下级单位的办结率与满意率",
                "期间内各下级单位的办结率与满意率（%）；数值见下表。",
                names,
                series(by_child, RATES),
                percent=True,
            )
        )
    return charts


def _care(counts: data.CareCounts) -> dict[str, Any] | None:
    if counts.empty:
        return None
    chart = Chart(
        "bar",
        "关爱等级红黄绿的户数与人数",
        "本单位及下级按关爱等级（红、黄、绿）统计的户数与人数；数值见下表。",
        ("户", "人"),
        tuple(
            Series(LEVEL_TITLES[level], (counts.households[level], counts.persons[level]))
            for level in data.LEVELS
        ),
        colors=CARE_COLORS,
    )
    return {"counts": counts, "chart": svg(chart)}


def _text(value: Number | None, unit_label: str = "") -> str:
    """A figure as shown: ``—`` when there is none, at most one decimal."""
    if value is None:
        return "—"
    number = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    if unit_label == "%":
        return f"{number}%"
    return f"{number} {unit_label}".rstrip()


@router.get("/admin/dashboard", response_class=HTMLResponse, summary="指标看板")
async def dashboard(
    request: Request,
    unit: str | None = Query(None, max_length=15, description="单位代码"),
    start: date | None = Query(None, description="起始日（含）"),
    end: date | None = Query(None, description="截止日（含）"),
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
) -> Response:
    """指标看板: the unit's ticket KPIs by week, type and child unit, its care levels and
    every plugin's figures, with its units one level down to drill into."""
    kernel: Kernel = request.app.state.kernel
    context = await run_in_threadpool(_board, kernel, actor, access, unit, start, end)
    return await render(request, "core/metrics_dashboard.html", context)
