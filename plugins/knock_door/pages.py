"""Pages of 敲门嫂 under ``/p/knock_door/`` (Chinese, mobile first, no script needed):
the practice's home, this week's visit list, the visit record form, one visit, and the team
overview for village cadres. The same services as the API (:mod:`.service`, :mod:`.teams`).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col
from starlette.datastructures import FormData

from core import (
    InvalidSubmission,
    Kernel,
    Level,
    PluginDisabled,
    Scope,
    actor_of,
    current_scope,
    kernel_of,
    metric_value,
    page_link,
    render,
    session_of,
)

from . import service, teams
from .access import MANAGE, PLUGIN, READ, RECORD, VISIT
from .forms import VISIT as VISIT_FORM
from .metrics import DUE, OVERDUE, VISIT_RATE, VISITED
from .models import Plan
from .schedule import OPEN
from .views import plan_view, team_view, visit_view

pages = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
KEY_FIELD = "submission_key"  # one per rendered form: a double submit records once
LIST_SIZE = 200


def _may(request: Request, permission: str) -> bool:
    """Whether the actor's roles grant ``permission`` anywhere (what to offer on a page;
    every action checks it again where it applies)."""
    return bool(actor_of(request).paths_with(kernel_of(request).access, permission))


# -- home ----------------------------------------------------------------------------------


def _month_figures(kernel: Kernel, unit_code: str, day: date) -> list[tuple[str, Any, str]]:
    """This month's 应访, 实访, 逾期 and 月探访率 at the unit, for the home page."""
    figures = []
    for metric in (DUE, VISITED, OVERDUE, VISIT_RATE):
        try:
            value = metric_value(
                kernel.engine, kernel, PLUGIN, metric.name, unit_code, day.replace(day=1), day
            )
        except PluginDisabled:
            return []
        figures.append((metric.title, "—" if value is None else value, metric.unit_label))
    return figures


@pages.get("/", response_class=HTMLResponse, summary="敲门嫂")
async def index(request: Request, scope: ScopeDep) -> Response:
    kernel = kernel_of(request)
    day = service.today(kernel)
    reader = kernel.allowed(actor_of(request), READ, scope.unit.code)
    figures = (
        await run_in_threadpool(_month_figures, kernel, scope.unit.code, day) if reader else []
    )
    return await render(
        request,
        "knock_door/index.html",
        {
            "figures": figures,
            "month": f"{day.year} 年 {day.month} 月",
            "may_visit": _may(request, VISIT),
            "may_read": _may(request, READ),
        },
    )


# -- this week's list ----------------------------------------------------------------------


@pages.get("/week", response_class=HTMLResponse, summary="本周走访")
async def week(request: Request, scope: ScopeDep) -> Response:
    """This week's list (:func:`service.this_week`)."""
    kernel, actor = kernel_of(request), actor_of(request)
    day = service.today(kernel)

    def load() -> tuple[date, date, list[dict[str, Any]]]:
        with session_of(request) as session:
            monday, sunday, rows = service.this_week(
                session, kernel, actor, scope.unit.code, limit=LIST_SIZE
            )
        return monday, sunday, [plan_view(row, day) for row in rows]

    monday, sunday, plans = await run_in_threadpool(load)
    return await render(
        request,
        "knock_door/week.html",
        {
            "plans": plans,
            "monday": monday,
            "sunday": sunday,
            "to_visit": sum(1 for p in plans if p["status"] in OPEN),
            "may_record": _may(request, RECORD),
        },
    )


# -- the record form -----------------------------------------------------------------------


def _shown(kind: str, value: Any) -> Any:
    """A value as the form's input shows it (text, or a list for checkboxes)."""
    if kind == "multichoice":
        return [str(v) for v in value or []]
    if value is None:
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    return str(value)


def _from_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values to validate (empty inputs left out) and those to show again."""
    data: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for field in VISIT_FORM.fields:
        if field.kind == "multichoice":
            picked = [v for v in form.getlist(field.name) if isinstance(v, str)]
            shown[field.name] = picked
            if picked:
                data[field.name] = [field.choice_value(v) for v in picked]
            continue
        raw = form.get(field.name)
        raw = raw if isinstance(raw, str) else ""
        shown[field.name] = raw
        if not raw.strip():
            continue
        if field.kind == "boolean":
            data[field.name] = {"true": True, "false": False}.get(raw, raw)
        elif field.kind == "choice":
            data[field.name] = field.choice_value(raw)
        else:
            data[field.name] = raw
    return data, shown


async def _record_page(
    request: Request,
    plan: dict[str, Any],
    values: dict[str, Any],
    key: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return await render(
        request,
        "knock_door/record.html",
        {
            "plan": plan,
            "spec": VISIT_FORM,
            "fields": VISIT_FORM.fields,
            "values": values,
            "errors": errors or {},
            "key": key,
            "key_field": KEY_FIELD,
        },
        status_code=status_code,
    )


def _plan(request: Request, plan_id: int) -> dict[str, Any]:
    kernel = kernel_of(request)
    with session_of(request) as session:
        row = service.get_plan(session, kernel, actor_of(request), plan_id)
    return plan_view(row, service.today(kernel))


@pages.get("/plans/{plan_id}/record", response_class=HTMLResponse, summary="填写入户问需记录")
async def record_form(request: Request, plan_id: Id, scope: ScopeDep) -> Response:
    plan = await run_in_threadpool(_plan, request, plan_id)
    if plan["status"] not in OPEN:
        return RedirectResponse(page_link(request, f"/p/{PLUGIN}/visits/{plan['visit_id']}"), 303)
    values = {f.name: _shown(f.kind, f.default) for f in VISIT_FORM.fields}
    values["visited_on"] = service.today(kernel_of(request)).isoformat()
    return await _record_page(request, plan, values, secrets.token_urlsafe(16))


@pages.post("/plans/{plan_id}/record", response_class=HTMLResponse, summary="提交入户问需记录")
async def record_submit(request: Request, plan_id: Id, scope: ScopeDep) -> Response:
    form = await request.form()
    data, shown = _from_form(form)
    key = form.get(KEY_FIELD)
    key = key[:128] if isinstance(key, str) and key.strip() and "\x00" not in key else None
    kernel, actor = kernel_of(request), actor_of(request)
    try:
        done = await run_in_threadpool(service.record_visit, kernel, actor, plan_id, data, key=key)
    except InvalidSubmission as exc:
        plan = await run_in_threadpool(_plan, request, plan_id)
        errors = exc.by_field()
        return await _record_page(
            request, plan, shown, key or secrets.token_urlsafe(16), errors, 422
        )
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        plan = await run_in_threadpool(_plan, request, plan_id)
        errors = {"data": str(exc.detail)}
        return await _record_page(request, plan, shown, secrets.token_urlsafe(16), errors, 409)
    return RedirectResponse(page_link(request, f"/p/{PLUGIN}/visits/{done.visit.id}"), 303)


# -- one visit -----------------------------------------------------------------------------


@pages.get("/visits/{visit_id}", response_class=HTMLResponse, summary="走访记录")
async def visit_page(request: Request, visit_id: Id, scope: ScopeDep) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)

    def load() -> dict[str, Any]:
        with session_of(request) as session:
            return visit_view(service.get_visit(session, kernel, actor, visit_id))

    return await render(request, "knock_door/visit.html", {"visit": await run_in_threadpool(load)})


# -- the team overview ---------------------------------------------------------------------


@pages.get("/teams", response_class=HTMLResponse, summary="队伍概览")
async def team_overview(request: Request, scope: ScopeDep, notice: str | None = None) -> Response:
    """Teams with members and open plans, and the overdue plans to chase, under the unit."""
    kernel, actor = kernel_of(request), actor_of(request)
    day = service.today(kernel)

    def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with session_of(request) as session:
            found = teams.list_teams(session, kernel, actor, scope.unit.code)
            late = service.list_plans(
                session,
                kernel,
                actor,
                scope.unit.code,
                conditions=(col(Plan.status) == "overdue",),
                limit=LIST_SIZE,
            )
        return [team_view(t) for t in found], [plan_view(p, day) for p in late]

    found, late = await run_in_threadpool(load)
    return await render(
        request,
        "knock_door/teams.html",
        {
            "teams": found,
            "late": late,
            "notice": notice,
            "may_manage": kernel.allowed(actor, MANAGE, scope.unit.code)
            and scope.unit.level in (Level.village, Level.grid),
            "may_join": _may(request, VISIT),
            "me": actor.name,
        },
    )


@pages.post("/teams", response_class=HTMLResponse, summary="组建队伍")
async def team_create(request: Request, scope: ScopeDep) -> Response:
    form = await request.form()
    name = form.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 50:
        return await team_overview(request, scope, notice="请填写 1–50 字的队伍名称")
    kernel, actor = kernel_of(request), actor_of(request)
    try:
        await run_in_threadpool(teams.create_team, kernel, actor, scope.unit.code, name)
    except RequestValidationError as exc:
        return await team_overview(request, scope, notice=exc.errors()[0]["msg"])
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return await team_overview(request, scope, notice=str(exc.detail))
    return RedirectResponse(page_link(request, f"/p/{PLUGIN}/teams"), 303)


@pages.post("/teams/{team_id}/join", response_class=HTMLResponse, summary="加入队伍")
async def team_join(request: Request, team_id: Id, scope: ScopeDep) -> Response:
    await run_in_threadpool(teams.join_team, kernel_of(request), actor_of(request), team_id)
    return RedirectResponse(page_link(request, f"/p/{PLUGIN}/week"), 303)
