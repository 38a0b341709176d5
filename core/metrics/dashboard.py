"""The metrics dashboard page: ``GET /admin/dashboard``, every metric counted at a unit.

Each plugin's figures (the ticket KPIs, each practice's) for the unit's whole subtree over a
period of local days (this month to date unless ``start``/``end`` say otherwise), computed as
the JSON API computes them, and the units one level down as links to drill into. Only what
the actor's scope covers; a plugin on nowhere under the unit shows nothing, not zeros.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from core.identity.access import AccessCatalog, Actor, scope_clause
from core.identity.web import access_catalog, require_permission
from core.kernel import Kernel
from core.metrics.api import PERMISSION, request_period
from core.metrics.compute import MetricReader
from core.units.api import COLUMNS, rows, visible_unit
from core.units.codes import parse_code
from core.units.models import Unit
from core.web.render import render

router = APIRouter()


def _figures(
    kernel: Kernel,
    actor: Actor,
    access: AccessCatalog,
    unit: str | None,
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    period = request_period(kernel, start, end)
    visible = scope_clause(actor, access, PERMISSION, col(Unit.code))
    with kernel.engine.connect() as conn:
        found = visible_unit(conn, unit or actor.home_unit or "", visible)
        reader = MetricReader(conn, kernel)
        counted = reader.counted_at(parse_code(found["code"]))
        groups: dict[str, list[dict[str, Any]]] = {}
        for item, ranges in counted:
            info = kernel.registry.info(item.plugin)
            title = info.title if info else item.plugin
            groups.setdefault(title, []).append(
                {
                    "title": item.metric.title,
                    "help": item.metric.help,
                    "unit_label": item.metric.unit_label,
                    "value": reader.value(item, ranges, period),
                }
            )
        below = select(*COLUMNS).where(col(Unit.parent_code) == found["code"], visible)
        children = rows(conn, below.order_by(col(Unit.path)))
    return {"unit": found, "period": period, "groups": groups, "children": children}


@router.get("/admin/dashboard", response_class=HTMLResponse, summary="指标看板")
async def dashboard(
    request: Request,
    unit: str | None = Query(None, max_length=15, description="单位代码"),
    start: date | None = Query(None, description="起始日（含）"),
    end: date | None = Query(None, description="截止日（含）"),
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
) -> Response:
    """指标看板: the unit's figures, plugin by plugin, with its units one level down."""
    kernel: Kernel = request.app.state.kernel
    context = await run_in_threadpool(_figures, kernel, actor, access, unit, start, end)
    return await render(request, "core/metrics_dashboard.html", context)
