"""The pages of 民情茶馆, under ``/p/tea_house/``: usable on a phone, without JavaScript.

* ``/``: the village's notice board (公告) for everyone whose units include it, and the
  sessions under the unit for staff;
* ``/sessions/new``: announce a session (at least 3 days ahead);
* ``/sessions/{id}``: one session: its duty roster, opening and closing, the issues with a
  form to answer or transfer each, the form to record one, and its report-back list;
* ``/report-back``: the public report-back list (结果通报) of a village's session;
* ``/schedule``: the village's fixed day, which the daily job announces in time.

Pages about one village, opened at a township or above, first ask which village. Every form
posts back here and redirects (303); refused input shows the page again with the message
next to the field (422), a conflict or a missing permission with a notice (409, 403).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core import (
    Actor,
    Kernel,
    Level,
    Scope,
    Unit,
    actor_of,
    current_scope,
    get_unit,
    kernel_of,
    list_units,
    render,
)

from . import issues, report, service, sessions
from .forms import (
    AnswerIn,
    CancelIn,
    CloseIn,
    IssueIn,
    OpenIn,
    ScheduleIn,
    SessionIn,
    TransferIn,
    message,
)
from .tickets import CATEGORIES
from .views import (
    duty_view,
    issue_view,
    notice_view,
    report_item,
    schedule_view,
    session_view,
)

pages = APIRouter()
BASE = "/p/tea_house"
KEY_FIELD = "submission_key"  # a hidden key per rendered issue form: a double submit saves once

ScopeDep = Annotated[Scope, Depends(current_scope)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Model = TypeVar("Model", bound=BaseModel)
DONE = {
    "announced": "已公告。",
    "opened": "已开场，可以登记群众反映的问题。",
    "closed": "已结束，本场结果通报已记录。",
    "cancelled": "已取消。",
    "duty": "已值班签到。",
    "recorded": "问题已登记。",
    "answered": "已答复。",
    "transferred": "已转办为工单。",
    "saved": "已保存。",
}


class Refused(Exception):
    """A form the service refused: messages by field, or a notice, and the status."""

    def __init__(self, status: int, errors: dict[str, str], alert: str | None = None) -> None:
        super().__init__(alert or "; ".join(errors.values()))
        self.status, self.errors, self.alert = status, errors, alert


def _db(kernel: Kernel) -> Session:
    return Session(kernel.engine, expire_on_commit=False)


def _here(scope: Scope, path: str, done: str | None = None) -> str:
    """``path`` at the request's unit (the guard checked that the actor's units cover it)."""
    return f"{BASE}{path}?unit={scope.unit.code}" + (f"&done={done}" if done else "")


def parse(model: type[Model], form: dict[str, str]) -> Model:
    """The form's fields that ``model`` has, validated; refused input names each field."""
    data = {k: v for k, v in form.items() if k in model.model_fields}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = {".".join(str(p) for p in e["loc"]): message(e) for e in exc.errors()}
        raise Refused(422, errors) from None


def act(kernel: Kernel, work: Callable[[Session], Any]) -> Any:
    """Run a service call in a session and commit, turning its refusals (a field, a
    conflict, a permission) into :class:`Refused`; a 404 stays a 404."""
    with _db(kernel) as db:
        try:
            result = work(db)
        except service.FieldProblem as problem:
            raise Refused(422, {".".join(problem.loc): problem.message}) from None
        except service.TeaHouseError as exc:
            if exc.status_code not in (403, 409):
                raise
            raise Refused(exc.status_code, {}, str(exc.detail)) from None
        db.commit()
        return result


async def form_of(request: Request) -> dict[str, str]:
    """The posted form as a dict of strings."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _villages(kernel: Kernel, scope: Scope) -> list[Unit]:
    with _db(kernel) as db:
        return list_units(db, scope.unit.code, level=Level.village)


def _unit(kernel: Kernel, code: str) -> Unit:
    with _db(kernel) as db:
        return get_unit(db, code)


async def choose_village(request: Request, scope: Scope, title: str, path: str) -> Response:
    """Pages about one village, opened above the village level: which village?"""
    villages = await run_in_threadpool(_villages, kernel_of(request), scope)
    context = {"title": title, "path": f"{BASE}{path}", "villages": villages}
    return await render(request, "tea_house/choose.html", context)


# -- the notice board and the sessions -----------------------------------------------------


def _index(kernel: Kernel, actor: Actor, scope: Scope) -> dict[str, Any]:
    village = service.village_of(scope.unit.code)
    can_read = kernel.allowed(actor, service.READ, scope.unit.code)
    context: dict[str, Any] = {"village": None, "can_read": can_read, "can_manage": False}
    with _db(kernel) as db:
        if village is not None:
            schedule = sessions.schedule_of(db, village)
            context |= {
                "village": get_unit(db, village),
                "schedule": schedule_view(schedule) if schedule else None,
                "notices": [notice_view(s) for s in report.village_sessions(db, village)],
                "can_manage": kernel.allowed(actor, service.MANAGE, village),
            }
        if can_read:
            rows = sessions.list_sessions(db, kernel, actor, scope, limit=50)
            context["sessions"] = [session_view(row) for row in rows]
    return context


@pages.get("/", response_class=HTMLResponse, summary="民情茶馆")
async def index(request: Request, scope: ScopeDep) -> Response:
    context = await run_in_threadpool(_index, kernel_of(request), actor_of(request), scope)
    return await render(request, "tea_house/index.html", context)


# -- announcing ----------------------------------------------------------------------------


async def _new_session_page(
    request: Request, scope: Scope, values: dict[str, Any], refused: Refused | None = None
) -> Response:
    kernel = kernel_of(request)
    village = service.require_village(scope)
    service.require(kernel, actor_of(request), service.MANAGE, village)
    today = service.local_day(kernel, service.now_of(kernel))
    unit = await run_in_threadpool(_unit, kernel, village)
    context = {
        "village": unit,
        "earliest": today + timedelta(days=service.NOTICE_DAYS),
        "notice_days": service.NOTICE_DAYS,
        "kinds": service.KINDS,
        "values": values,
        "errors": refused.errors if refused else {},
        "alert": refused.alert if refused else None,
        "failed": "form",
        "action": _here(scope, "/sessions/new"),
    }
    status = refused.status if refused else 200
    return await render(request, "tea_house/session_new.html", context, status_code=status)


@pages.get("/sessions/new", response_class=HTMLResponse, summary="安排沟通日")
async def new_session(request: Request, scope: ScopeDep) -> Response:
    if service.village_of(scope.unit.code) is None:
        return await choose_village(request, scope, "安排沟通日", "/sessions/new")
    return await _new_session_page(request, scope, {"kind": "fixed", "start_time": "09:00"})


@pages.post("/sessions/new", response_class=HTMLResponse)
async def announce(request: Request, scope: ScopeDep) -> Response:
    form = await form_of(request)
    kernel, actor = kernel_of(request), actor_of(request)
    try:
        body = parse(SessionIn, form)
        row = await run_in_threadpool(
            act, kernel, lambda db: sessions.announce(db, kernel, actor, scope, body)
        )
    except Refused as refused:
        return await _new_session_page(request, scope, form, refused)
    return RedirectResponse(_here(scope, f"/sessions/{row.id}", "announced"), status_code=303)


# -- one session ---------------------------------------------------------------------------


def _session_context(kernel: Kernel, actor: Actor, scope: Scope, session_id: int) -> dict[str, Any]:
    today = service.local_day(kernel, service.now_of(kernel))
    with _db(kernel) as db:
        row = sessions.get_session(db, kernel, actor, scope, session_id)
        code = row.unit_code
        return {
            "session": session_view(row),
            "village": get_unit(db, code),
            "roster": [duty_view(d) for d in sessions.roster(db, row)],
            "issues": [issue_view(i, today) for i in issues.issues_of(db, row)],
            "report_back": [report_item(i, at, today) for i, at in report.report_back(db, row)],
            "categories": CATEGORIES,
            "today": today,
            "can_manage": kernel.allowed(actor, service.MANAGE, code),
            "can_record": kernel.allowed(actor, service.RECORD, code),
            "can_respond": kernel.allowed(actor, service.RESPOND, code),
            "can_sign": sessions.roster_role(actor, code) is not None,
        }


async def _session_page(
    request: Request,
    scope: Scope,
    session_id: int,
    refused: Refused | None = None,
    failed: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    context = await run_in_threadpool(
        _session_context, kernel_of(request), actor_of(request), scope, session_id
    )
    context |= {
        "done": DONE.get(request.query_params.get("done") or ""),
        "failed": failed,
        "errors": refused.errors if refused else {},
        "alert": refused.alert if refused else None,
        "values": values or {},
        "key": secrets.token_urlsafe(16),
        "key_field": KEY_FIELD,
        "here": lambda path="": _here(scope, f"/sessions/{session_id}{path}"),
        "issue_action": lambda issue_id, step: _here(scope, f"/issues/{issue_id}/{step}"),
    }
    status = refused.status if refused else 200
    return await render(request, "tea_house/session.html", context, status_code=status)


@pages.get("/sessions/{session_id}", response_class=HTMLResponse, summary="场次")
async def session_page(request: Request, session_id: RowId, scope: ScopeDep) -> Response:
    return await _session_page(request, scope, session_id)


async def _session_step(
    request: Request,
    scope: Scope,
    session_id: int,
    name: str,
    model: type[Model] | None,
    step: Callable[[Session, Kernel, Actor, Any, Any], Any],
    done: str,
) -> Response:
    """A form posted about a session: load it, take ``step`` with the parsed body."""
    form = await form_of(request)
    kernel, actor = kernel_of(request), actor_of(request)

    def work(db: Session) -> None:
        row = sessions.get_session(db, kernel, actor, scope, session_id)
        body = parse(model, form) if model is not None else None
        step(db, kernel, actor, row, body)

    try:
        await run_in_threadpool(act, kernel, work)
    except Refused as refused:
        return await _session_page(request, scope, session_id, refused, name, form)
    return RedirectResponse(_here(scope, f"/sessions/{session_id}", done), status_code=303)


@pages.post("/sessions/{session_id}/open", response_class=HTMLResponse)
async def open_session(request: Request, session_id: RowId, scope: ScopeDep) -> Response:
    return await _session_step(
        request, scope, session_id, "open", OpenIn, sessions.open_session, "opened"
    )


@pages.post("/sessions/{session_id}/close", response_class=HTMLResponse)
async def close_session(request: Request, session_id: RowId, scope: ScopeDep) -> Response:
    return await _session_step(
        request, scope, session_id, "close", CloseIn, sessions.close_session, "closed"
    )


@pages.post("/sessions/{session_id}/cancel", response_class=HTMLResponse)
async def cancel_session(request: Request, session_id: RowId, scope: ScopeDep) -> Response:
    return await _session_step(
        request, scope, session_id, "cancel", CancelIn, sessions.cancel_session, "cancelled"
    )


@pages.post("/sessions/{session_id}/duty", response_class=HTMLResponse)
async def sign_duty(request: Request, session_id: RowId, scope: ScopeDep) -> Response:
    def sign(db: Session, kernel: Kernel, actor: Actor, row: Any, _: Any) -> None:
        sessions.sign_duty(db, kernel, actor, row)

    return await _session_step(request, scope, session_id, "duty", None, sign, "duty")


@pages.post("/sessions/{session_id}/issues", response_class=HTMLResponse)
async def record_issue(request: Request, session_id: RowId, scope: ScopeDep) -> Response:
    key = (await form_of(request)).get(KEY_FIELD)

    def record(db: Session, kernel: Kernel, actor: Actor, row: Any, body: Any) -> None:
        issues.record_issue(db, kernel, actor, row, body, key)

    return await _session_step(request, scope, session_id, "issue", IssueIn, record, "recorded")


async def _issue_step(
    request: Request,
    scope: Scope,
    issue_id: int,
    model: type[AnswerIn] | type[TransferIn],
    name: str,
    done: str,
) -> Response:
    """A form posted about an issue: answer it or transfer it."""
    form = await form_of(request)
    kernel, actor = kernel_of(request), actor_of(request)

    def load() -> int:
        with _db(kernel) as db:
            return issues.get_issue(db, kernel, actor, scope, issue_id).session_id

    session_id = await run_in_threadpool(load)

    def work(db: Session) -> None:
        issue = issues.get_issue(db, kernel, actor, scope, issue_id)
        body = parse(model, form)
        if isinstance(body, AnswerIn):
            issues.answer_issue(db, kernel, actor, issue, body)
        else:
            issues.transfer_issue(db, kernel, actor, issue, body)

    try:
        await run_in_threadpool(act, kernel, work)
    except Refused as refused:
        failed = f"{name}-{issue_id}"
        return await _session_page(request, scope, session_id, refused, failed, form)
    return RedirectResponse(_here(scope, f"/sessions/{session_id}", done), status_code=303)


@pages.post("/issues/{issue_id}/answer", response_class=HTMLResponse)
async def answer_issue(request: Request, issue_id: RowId, scope: ScopeDep) -> Response:
    return await _issue_step(request, scope, issue_id, AnswerIn, "answer", "answered")


@pages.post("/issues/{issue_id}/transfer", response_class=HTMLResponse)
async def transfer_issue(request: Request, issue_id: RowId, scope: ScopeDep) -> Response:
    return await _issue_step(request, scope, issue_id, TransferIn, "transfer", "transferred")


# -- the report-back list (public within the village) --------------------------------------


def _report_back(kernel: Kernel, village: str, session_id: int | None) -> dict[str, Any]:
    today = service.local_day(kernel, service.now_of(kernel))
    with _db(kernel) as db:
        row = report.report_session(db, village, session_id)
        items = [report_item(i, at, today) for i, at in report.report_back(db, row)] if row else []
        return {
            "village": get_unit(db, village),
            "session": notice_view(row) if row else None,
            "items": items,
            "sessions": [
                notice_view(s)
                for s in report.village_sessions(db, village)
                if s.status != "cancelled"
            ],
        }


@pages.get("/report-back", response_class=HTMLResponse, summary="结果通报")
async def report_back(
    request: Request,
    scope: ScopeDep,
    session: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    village = service.village_of(scope.unit.code)
    if village is None:
        return await choose_village(request, scope, "结果通报", "/report-back")
    context = await run_in_threadpool(_report_back, kernel_of(request), village, session)
    context["link"] = lambda session_id: _here(scope, "/report-back") + f"&session={session_id}"
    return await render(request, "tea_house/report_back.html", context)


# -- the village's fixed day ---------------------------------------------------------------


async def _schedule_page(
    request: Request,
    scope: Scope,
    values: dict[str, Any] | None = None,
    refused: Refused | None = None,
) -> Response:
    kernel = kernel_of(request)
    village = service.require_village(scope)
    service.require(kernel, actor_of(request), service.MANAGE, village)

    def load() -> dict[str, Any]:
        with _db(kernel) as db:
            found = sessions.schedule_of(db, village)
            return {"village": get_unit(db, village), "schedule": found and schedule_view(found)}

    context = await run_in_threadpool(load)
    defaults = {"day_of_month": 10, "start_time": "09:00", "venue": "", "lead_days": 7}
    shown = context["schedule"] or {**defaults, "active": True}
    as_text = {k: str(v).lower() if isinstance(v, bool) else v for k, v in shown.items()}
    context |= {
        "values": values or as_text,
        "errors": refused.errors if refused else {},
        "alert": refused.alert if refused else None,
        "done": DONE.get(request.query_params.get("done") or ""),
        "failed": "form",
        "action": _here(scope, "/schedule"),
        "notice_days": service.NOTICE_DAYS,
    }
    status = refused.status if refused else 200
    return await render(request, "tea_house/schedule.html", context, status_code=status)


@pages.get("/schedule", response_class=HTMLResponse, summary="固定沟通日")
async def schedule(request: Request, scope: ScopeDep) -> Response:
    if service.village_of(scope.unit.code) is None:
        return await choose_village(request, scope, "固定沟通日", "/schedule")
    return await _schedule_page(request, scope)


@pages.post("/schedule", response_class=HTMLResponse)
async def save_schedule(request: Request, scope: ScopeDep) -> Response:
    form = await form_of(request)
    kernel, actor = kernel_of(request), actor_of(request)
    try:
        body = parse(ScheduleIn, form)
        await run_in_threadpool(
            act, kernel, lambda db: sessions.save_schedule(db, kernel, actor, scope, body)
        )
    except Refused as refused:
        return await _schedule_page(request, scope, form, refused)
    return RedirectResponse(_here(scope, "/schedule", "saved"), status_code=303)
