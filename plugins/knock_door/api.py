"""JSON API of 敲门嫂 under ``/api/v1/p/knock_door/``: plans, records (visits) and teams.

The kernel's guard has resolved the request's unit (``unit`` query, ``X-Sanmin-Unit`` or the
actor's home unit), checked it lies within the actor's units and that the plugin is on in
its township. Lists cover that unit's subtree; one record is found by id within the actor's
scope (404 otherwise, never 403). Bad input answers 422 naming the field, in FastAPI's shape
(``detail: [{loc, msg, type}]``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlmodel import col

from core import (
    InvalidSubmission,
    Scope,
    actor_of,
    current_scope,
    kernel_of,
    session_of,
)

from . import service, teams
from .models import Plan
from .views import member_view, plan_view, team_view, visit_view

api = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Key = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="重试时使用同一个键"),
]


def invalid(exc: InvalidSubmission) -> RequestValidationError:
    """The forms service's errors (``("data", field)``) at their place in the body."""
    return RequestValidationError(
        [{"loc": ("body", *loc), "msg": msg, "type": "value_error"} for loc, msg in exc.errors]
    )


# -- plans ---------------------------------------------------------------------------------


@api.get("/plans", summary="探访计划，逾期的在前 / visit plans, overdue first")
def list_plans(
    request: Request,
    scope: ScopeDep,
    status: Annotated[
        Literal["planned", "overdue", "visited", "reviewed"] | None, Query(description="状态")
    ] = None,
    due_before: Annotated[date | None, Query(description="到期日早于（含）此日")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Plans under the request's unit that the caller may see: a 敲门嫂 her own, a team
    leader, grid worker or cadre all of them."""
    kernel, conditions = kernel_of(request), []
    if status is not None:
        conditions.append(col(Plan.status) == status)
    if due_before is not None:
        conditions.append(col(Plan.due_on) <= due_before)
    with session_of(request) as session:
        rows = service.list_plans(
            session,
            kernel,
            actor_of(request),
            scope.unit.code,
            conditions=tuple(conditions),
            limit=limit,
            offset=offset,
        )
    day = service.today(kernel)
    return [plan_view(row, day) for row in rows]


@api.get("/plans/{plan_id}", summary="一条探访计划 / one visit plan")
def get_plan(request: Request, plan_id: Id, scope: ScopeDep) -> dict[str, Any]:
    kernel = kernel_of(request)
    with session_of(request) as session:
        row = service.get_plan(session, kernel, actor_of(request), plan_id)
    return plan_view(row, service.today(kernel))


class RecordIn(BaseModel):
    """The 入户问需记录's values (see ``GET /api/v1/p/knock_door/forms`` for the schema)."""

    data: dict[str, Any] = Field(description="表单内容 / the form's values")

    model_config = ConfigDict(extra="forbid")


@api.post(
    "/plans/{plan_id}/records",
    status_code=201,
    summary="填写入户问需记录 / record the plan's visit",
)
async def record_visit(
    request: Request,
    response: Response,
    plan_id: Id,
    body: RecordIn,
    scope: ScopeDep,
    idempotency_key: Key = None,
) -> dict[str, Any]:
    """Record the visit (201); an 异常 safety observation and needs marked 转为工单 become
    tickets at the person's grid at once (``tickets``). A retry with the same
    ``Idempotency-Key`` answers the first visit with 200."""
    kernel, actor = kernel_of(request), actor_of(request)

    def save() -> tuple[service.Recorded, dict[str, Any]]:
        done = service.record_visit(kernel, actor, plan_id, body.data, key=idempotency_key)
        with session_of(request) as session:
            visit = service.get_visit(session, kernel, actor, done.visit.id or 0)
            plan = service.get_plan(session, kernel, actor, plan_id)
        return done, {
            "visit": visit_view(visit),
            "plan": plan_view(plan, service.today(kernel)),
            "record_id": done.visit.record_id,
            "tickets": done.tickets,
        }

    try:
        done, answer = await run_in_threadpool(save)
    except InvalidSubmission as exc:
        raise invalid(exc) from None
    if not done.created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return answer


class ReviewIn(BaseModel):
    version: StrictInt = Field(ge=1, le=2**31 - 1, description="所见版本 / the version you saw")

    model_config = ConfigDict(extra="forbid")


@api.post("/plans/{plan_id}/review", summary="复核走访 / review the recorded visit")
def review_plan(request: Request, plan_id: Id, body: ReviewIn, scope: ScopeDep) -> dict[str, Any]:
    """已走访 → 已复核, by a grid worker or cadre; 409 when the version is stale."""
    kernel, actor = kernel_of(request), actor_of(request)
    service.review_plan(kernel, actor, plan_id, body.version)
    with session_of(request) as session:
        row = service.get_plan(session, kernel, actor, plan_id)
    return plan_view(row, service.today(kernel))


# -- records (visits) ----------------------------------------------------------------------


@api.get("/records", summary="走访记录，新的在前 / visits, newest first")
def list_records(
    request: Request, scope: ScopeDep, limit: Limit = 50, offset: Offset = 0
) -> list[dict[str, Any]]:
    with session_of(request) as session:
        rows = service.list_visits(
            session,
            kernel_of(request),
            actor_of(request),
            scope.unit.code,
            limit=limit,
            offset=offset,
        )
    return [visit_view(row) for row in rows]


@api.get("/records/{visit_id}", summary="一次走访及其需求 / one visit and its needs")
def get_record(request: Request, visit_id: Id, scope: ScopeDep) -> dict[str, Any]:
    with session_of(request) as session:
        row = service.get_visit(session, kernel_of(request), actor_of(request), visit_id)
    return visit_view(row)


# -- teams ---------------------------------------------------------------------------------


@api.get("/teams", summary="敲门嫂队伍 / teams")
def list_teams(request: Request, scope: ScopeDep) -> list[dict[str, Any]]:
    with session_of(request) as session:
        rows = teams.list_teams(session, kernel_of(request), actor_of(request), scope.unit.code)
    return [team_view(row) for row in rows]


class TeamIn(BaseModel):
    unit_code: str = Field(pattern=r"^\d{12}(\d{3})?$", description="村社区或网格代码")
    name: str = Field(min_length=1, max_length=50, pattern=r"\S", description="队伍名称")

    model_config = ConfigDict(extra="forbid")


@api.post("/teams", status_code=201, summary="组建队伍 / form a team")
def create_team(request: Request, body: TeamIn, scope: ScopeDep) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    team = teams.create_team(kernel, actor, body.unit_code, body.name)
    with session_of(request) as session:
        return team_view(teams.get_team(session, kernel, actor, team.id or 0))


@api.get("/teams/{team_id}", summary="一支队伍 / one team")
def get_team(request: Request, team_id: Id, scope: ScopeDep) -> dict[str, Any]:
    with session_of(request) as session:
        return team_view(teams.get_team(session, kernel_of(request), actor_of(request), team_id))


@api.post("/teams/{team_id}/members", status_code=201, summary="加入队伍 / join the team")
def join_team(request: Request, team_id: Id, scope: ScopeDep) -> dict[str, Any]:
    """The caller joins the team and takes its share of the team's unassigned plans."""
    return member_view(teams.join_team(kernel_of(request), actor_of(request), team_id))


@api.delete(
    "/teams/{team_id}/members/{username}", status_code=204, summary="退出或移出队伍 / leave"
)
def remove_member(
    request: Request,
    team_id: Id,
    username: Annotated[str, Path(min_length=1, max_length=64)],
    scope: ScopeDep,
) -> Response:
    teams.remove_member(kernel_of(request), actor_of(request), team_id, username)
    return Response(status_code=204)
