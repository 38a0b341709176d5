"""The JSON API of 民情茶馆, mounted under ``/api/v1/p/tea_house/``.

Before a handler runs, the kernel resolves the request's unit (``?unit=``, the
``X-Sanmin-Unit`` header, or the actor's home unit), answers 404 outside the actor's units or
where the practice is off, and leaves the :class:`core.Scope`. Staff routes read under that
unit within the actor's scope; ``/notices`` and ``/report-back`` are public to anyone whose
units include the village (residents too). Bad input is a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlmodel import Session

from core import Kernel, Scope, actor_of, current_scope, get_session, kernel_of

from . import issues, report, service, sessions
from .forms import AnswerIn, CancelIn, CloseIn, IssueIn, OpenIn, ScheduleIn, SessionIn, TransferIn
from .models import TeaHouseSession
from .views import (
    duty_view,
    issue_view,
    notice_view,
    report_item,
    schedule_view,
    session_view,
)

api = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
SessionDep = Annotated[Session, Depends(get_session)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Status = Literal["announced", "held", "closed", "cancelled"]


@contextmanager
def named_fields() -> Iterator[None]:
    """Turn a service's :class:`service.FieldProblem` into FastAPI's 422, ``loc`` naming it."""
    try:
        yield
    except service.FieldProblem as problem:
        error = {
            "type": "value_error",
            "loc": (problem.where, *problem.loc),
            "msg": problem.message,
            "input": None,
        }
        raise RequestValidationError([error]) from None


def session_detail(
    db: Session, kernel: Kernel, row: TeaHouseSession, *, public: bool = False
) -> dict[str, Any]:
    """A session with its roster, issues and report-back list (staff), or its notice and
    report-back list (``public``)."""
    today = service.local_day(kernel, service.now_of(kernel))
    items = [report_item(issue, at, today) for issue, at in report.report_back(db, row)]
    if public:
        return {**notice_view(row), "report_back": items}
    return {
        **session_view(row),
        "roster": [duty_view(d) for d in sessions.roster(db, row)],
        "issues": [issue_view(i, today) for i in issues.issues_of(db, row)],
        "report_back": items,
    }


@api.get("/schedules", summary="固定沟通日安排 / the villages' schedules")
def list_schedules(request: Request, scope: ScopeDep, db: SessionDep) -> list[dict[str, Any]]:
    rows = sessions.list_schedules(db, kernel_of(request), actor_of(request), scope)
    return [schedule_view(row) for row in rows]


@api.put("/schedule", summary="设置本村社的固定沟通日 / set the village's fixed day")
def save_schedule(
    body: ScheduleIn, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    with named_fields():
        row = sessions.save_schedule(db, kernel_of(request), actor_of(request), scope, body)
    db.commit()
    return schedule_view(row)


@api.get("/sessions", summary="场次 / sessions under the unit")
def list_sessions(
    request: Request,
    scope: ScopeDep,
    db: SessionDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    rows = sessions.list_sessions(
        db,
        kernel_of(request),
        actor_of(request),
        scope,
        status=status,
        limit=limit + 1,
        offset=offset,
    )
    return {
        "items": [session_view(row) for row in rows[:limit]],
        "next_offset": offset + limit if len(rows) > limit else None,
    }


@api.post("/sessions", status_code=201, summary="公告一场沟通日 / announce a session")
def announce(body: SessionIn, request: Request, scope: ScopeDep, db: SessionDep) -> dict[str, Any]:
    with named_fields():
        row = sessions.announce(db, kernel_of(request), actor_of(request), scope, body)
    db.commit()
    return session_view(row)


@api.get("/sessions/{session_id}", summary="场次详情 / one session")
def get_session_detail(
    session_id: RowId, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel = kernel_of(request)
    row = sessions.get_session(db, kernel, actor_of(request), scope, session_id)
    return session_detail(db, kernel, row)


@api.post("/sessions/{session_id}/open", summary="开场 / open the session")
def open_session(
    session_id: RowId, body: OpenIn, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    row = sessions.get_session(db, kernel, actor, scope, session_id)
    sessions.open_session(db, kernel, actor, row, body)
    db.commit()
    return session_view(row)


@api.post("/sessions/{session_id}/close", summary="会后汇总 / close the session")
def close_session(
    session_id: RowId, body: CloseIn, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    row = sessions.get_session(db, kernel, actor, scope, session_id)
    sessions.close_session(db, kernel, actor, row, body)
    db.commit()
    return session_detail(db, kernel, row)


@api.post("/sessions/{session_id}/cancel", summary="取消场次 / cancel the session")
def cancel_session(
    session_id: RowId, body: CancelIn, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    row = sessions.get_session(db, kernel, actor, scope, session_id)
    sessions.cancel_session(db, kernel, actor, row, body)
    db.commit()
    return session_view(row)


@api.post("/sessions/{session_id}/duty", status_code=201, summary="值班签到 / sign on duty")
def sign_duty(
    session_id: RowId, request: Request, response: Response, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    row = sessions.get_session(db, kernel, actor, scope, session_id)
    duty, created = sessions.sign_duty(db, kernel, actor, row)
    db.commit()
    if not created:
        response.status_code = 200
    return duty_view(duty)


@api.post("/sessions/{session_id}/issues", status_code=201, summary="登记问题 / record an issue")
def record_issue(
    session_id: RowId,
    body: IssueIn,
    request: Request,
    response: Response,
    scope: ScopeDep,
    db: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    row = sessions.get_session(db, kernel, actor, scope, session_id)
    with named_fields():
        issue, created = issues.record_issue(db, kernel, actor, row, body, idempotency_key)
    db.commit()
    if not created:
        response.status_code = 200
    return issue_view(issue, service.local_day(kernel, service.now_of(kernel)))


@api.post("/issues/{issue_id}/answer", summary="当场答复 / answer an issue")
def answer_issue(
    issue_id: RowId, body: AnswerIn, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    issue = issues.get_issue(db, kernel, actor, scope, issue_id)
    issues.answer_issue(db, kernel, actor, issue, body)
    db.commit()
    return issue_view(issue, service.local_day(kernel, service.now_of(kernel)))


@api.post("/issues/{issue_id}/transfer", summary="转办为工单 / transfer an issue to a ticket")
def transfer_issue(
    issue_id: RowId, body: TransferIn, request: Request, scope: ScopeDep, db: SessionDep
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    issue = issues.get_issue(db, kernel, actor, scope, issue_id)
    with named_fields():
        issues.transfer_issue(db, kernel, actor, issue, body)
    return issue_view(issue, service.local_day(kernel, service.now_of(kernel)))


@api.get("/notices", summary="本村社沟通日公告 / the village's notice board")
def notices(scope: ScopeDep, db: SessionDep) -> dict[str, Any]:
    with named_fields():
        village = service.require_village(scope)
    schedule = sessions.schedule_of(db, village)
    return {
        "unit_code": village,
        "schedule": schedule_view(schedule) if schedule is not None else None,
        "sessions": [notice_view(row) for row in report.village_sessions(db, village)],
    }


@api.get("/report-back", summary="结果通报 / results reported back at a session")
def report_back(
    request: Request,
    scope: ScopeDep,
    db: SessionDep,
    session: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    with named_fields():
        village = service.require_village(scope)
    row = report.report_session(db, village, session)
    if row is None:
        return {"unit_code": village, "session": None, "report_back": []}
    detail = session_detail(db, kernel_of(request), row, public=True)
    items = detail.pop("report_back")
    return {"unit_code": village, "session": detail, "report_back": items}
