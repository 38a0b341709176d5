"""Pages of tickets (为民办事): ``/tickets/…``, no JavaScript needed, usable on a phone.

* ``/tickets/new``: 提交诉求, the types offered at the resident's unit, one tap each; then
  ``/tickets/new/{kind}``: the form (the type's extra fields rendered from its model). A POST
  creates the ticket through :func:`core.tickets.service.create_ticket` with the form's
  hidden key, so a double submit makes one ticket, and redirects to it; refused input shows
  the form again, each message next to its field.
* ``/tickets/mine``: the resident's own requests; ``/tickets/inbox``: staff's open tickets at
  their units, due soonest first, the overdue ones marked 已超时.
* ``/tickets/{id}``: the ticket as :func:`core.tickets.views.ticket_detail` shows it (the
  reporter hidden or masked by who asks), its timeline, and a form per step the viewer may
  take, with the version seen: a stale one shows the 409 message on the page.

What anyone may see and do is the service's to decide (:mod:`core.tickets.service`): a
ticket outside the viewer's scope is a 404, like an unknown one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import case
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from core.forms.fields import FormField
from core.forms.pages import shown
from core.forms.service import message
from core.identity.access import Actor
from core.identity.web import Forbidden, require_actor
from core.kernel import Kernel
from core.tickets import attachments, lifecycle, service, views
from core.tickets.api import TicketBody
from core.tickets.models import CHANNELS, SATISFACTION_LEVELS, Ticket
from core.tickets.types import PRIORITIES, TicketType
from core.units.codes import UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit
from core.units.service import OutOfScope
from core.web.inputs import DB_INT_MAX, Offset, RowId
from core.web.refusals import refusal_by_field
from core.web.render import render
from core.workflows.deadlines import CHINA
from core.workflows.spec import Transition

pages = APIRouter(prefix="/tickets", dependencies=[Depends(require_actor)])  # at the root

Signed = Annotated[Actor, Depends(require_actor)]
PAGE_SIZE = 30
KEY_FIELD = "submission_key"  # a hidden token per rendered form: a double submit saves once
WORKFLOW = lifecycle.TICKET_WORKFLOW
# channels a staff member reporting on someone's behalf may name (the others are machines')
STAFF_CHANNELS = ("web", "hotline", "mobile_office", "door_knock", "tea_house", "wechat")
SOLVED = {"yes": True, "no": False}
PHOTOS = "photos"  # the file input of the request form and of the ticket page
DONE = {
    "new": "诉求已提交，请留意办理进度。",
    "rate": "感谢您的评价。",
    "cancel": "已撤销。",
    PHOTOS: "照片已添加。",
}


def when(value: datetime | None) -> str:
    """A time in China's time zone, as the pages show it."""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def _session(request: Request) -> Session:
    return Session(_kernel(request).engine, expire_on_commit=False)


def _use_scope(request: Request, unit_code: str) -> None:
    """Show the menu of ``unit_code``'s township (the layout reads ``request.state.scope``)."""
    request.state.scope = _kernel(request).scope(unit_code)


# -- submitting ----------------------------------------------------------------------------


def submit_unit(kernel: Kernel, actor: Actor, unit: str | None) -> str:
    """Where ``actor`` submits: ``unit`` when a role granting ``ticket.create`` covers it
    (404 otherwise, as for an unknown unit), else the unit of the first such role."""
    held = [r for r in actor.roles if kernel.access.grants(r.role, lifecycle.CREATE)]
    if not held:
        raise Forbidden(lifecycle.CREATE)
    if not unit:
        return held[0].unit_code
    code = parse_code(unit.strip()).code
    if not any(code.startswith(r.path) for r in held):
        raise OutOfScope(code)
    return code


def offered(kernel: Kernel, actor: Actor, unit_code: str, code: str) -> TicketType:
    """The ticket type ``code`` if it is offered to ``actor`` at ``unit_code``; 404
    otherwise."""
    for kind in service.types_at(kernel, unit_code, actor):
        if kind.code == code:
            return kind
    raise HTTPException(404, f"此处没有「{code}」类诉求 / no such ticket type here")


@pages.get("/new", response_class=HTMLResponse)
async def types_page(
    request: Request, actor: Signed, unit: Annotated[str, Query(max_length=15)] = ""
) -> Response:
    """提交诉求: the types offered at the resident's unit, each one tap to its form."""
    kernel = _kernel(request)
    code = submit_unit(kernel, actor, unit)
    _use_scope(request, code)
    return await render(
        request,
        "core/tickets_new.html",
        {"types": service.types_at(kernel, code, actor), "submit_unit": code},
    )


def _blank(kind: TicketType, actor: Actor) -> dict[str, Any]:
    return {
        "title": "",
        "description": "",
        "address": "",
        "priority": "normal",
        "reporter_name": actor.display_name,
        "reporter_phone": "",
        "anonymous": False,
        "on_behalf": False,
        "channel": "web",
        "extra": {f.name: shown(f, f.default) for f in kind.form_fields},
    }


async def _ticket_form(
    request: Request,
    actor: Actor,
    kind: TicketType,
    unit_code: str,
    values: dict[str, Any],
    key: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kernel = _kernel(request)
    _use_scope(request, unit_code)
    staff = kernel.allowed(actor, lifecycle.HANDLE, unit_code)
    errors = errors or {}
    shown_here = {"title", "description", "address", "priority", "reporter_name"}
    shown_here |= {"reporter_phone", *(f"extra.{f.name}" for f in kind.form_fields)}
    shown_here |= {"anonymous"} if kind.anonymous else set()
    shown_here |= {"on_behalf", "channel"} if staff else set()
    return await render(
        request,
        "core/tickets_form.html",
        {
            "kind": kind,
            "fields": kind.form_fields,
            "submit_unit": unit_code,
            "values": values,
            "key": key,
            "key_field": KEY_FIELD,
            "errors": errors,
            "other_errors": [
                f"{name}: {text}" if name else text
                for name, text in errors.items()
                if name not in shown_here
            ],
            "priorities": PRIORITIES,
            "staff": staff,
            "channels": {c: CHANNELS[c] for c in STAFF_CHANNELS},
            "max_photos": attachments.MAX_PER_TICKET,
            "max_photo_size": size_label(kernel.settings.attachment_max_bytes),
        },
        status_code=status_code,
    )


@pages.get("/new/{kind}", response_class=HTMLResponse)
async def ticket_form_page(
    request: Request,
    kind: Annotated[str, Path(max_length=40)],
    actor: Signed,
    unit: Annotated[str, Query(max_length=15)] = "",
) -> Response:
    kernel = _kernel(request)
    code = submit_unit(kernel, actor, unit)
    found = offered(kernel, actor, code, kind)
    return await _ticket_form(request, actor, found, code, _blank(found, actor), new_key())


def size_label(size: int) -> str:
    """A byte count as people read it: ``10 MB``, ``500 KB``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(size // 1024, 1)} KB"


def new_key() -> str:
    """A fresh submission key for a rendered form."""
    return secrets.token_urlsafe(16)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def extra_from_form(
    fields: tuple[FormField, ...], form: FormData
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The type's extra fields (posted as ``extra.<name>``) to validate, and as typed.

    An empty input is left out, so that the field's default applies or the type's model
    reports it missing; choices are mapped back to their typed values.
    """
    data: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for field in fields:
        name = f"extra.{field.name}"
        if field.kind == "multichoice":
            picked = [v for v in form.getlist(name) if isinstance(v, str)]
            values[field.name] = picked
            if picked:
                data[field.name] = [field.choice_value(v) for v in picked]
            continue
        raw = _text(form, name)
        values[field.name] = raw
        if not raw.strip():
            continue
        if field.kind == "choice":
            data[field.name] = field.choice_value(raw)
        elif field.kind == "boolean":
            data[field.name] = {"true": True, "false": False}.get(raw, raw)
        else:
            data[field.name] = raw
    return data, values


def ticket_from_form(
    kind: TicketType, unit_code: str, form: FormData, staff: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body (for :class:`TicketBody`) and the values to show again."""
    extra, extra_values = extra_from_form(kind.form_fields, form)
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in ("title", "description", "address", "priority", "reporter_name")
    }
    values["reporter_phone"] = _text(form, "reporter_phone")
    values["anonymous"] = kind.anonymous and _text(form, "anonymous") == "1"
    values["on_behalf"] = staff and _text(form, "on_behalf") == "1"
    values["channel"] = (_text(form, "channel") or "web") if staff else "web"
    values["extra"] = extra_values
    body = {
        "type": kind.code,
        "unit_code": unit_code,
        "title": values["title"],
        "description": values["description"],
        "address": values["address"].strip() or None,
        "priority": values["priority"] or "normal",
        "channel": values["channel"],
        "reporter_name": values["reporter_name"].strip() or None,
        "reporter_phone": values["reporter_phone"].strip() or None,
        "anonymous": values["anonymous"],
        "on_behalf": values["on_behalf"],
        "extra": extra,
    }
    return body, values


def photos_from_form(form: FormData) -> list[UploadFile]:
    """The photos chosen in the form's ``photos`` input (a browser sends an empty part when
    none is chosen)."""
    return [f for f in form.getlist(PHOTOS) if isinstance(f, UploadFile) and f.filename]


def _too_large(request: Request, photos: int) -> None:
    """413 before the body is read when it announces more than ``photos`` photos at the
    size limit can fill."""
    limit = _kernel(request).settings.attachment_max_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > photos * limit + attachments.FORM_SLACK:
        raise HTTPException(413, f"{PHOTOS}: 照片总量过大 / the photos are too large")


@pages.post("/new/{kind}", response_class=HTMLResponse)
async def ticket_form_submit(
    request: Request, kind: Annotated[str, Path(max_length=40)], actor: Signed
) -> Response:
    _too_large(request, attachments.MAX_PER_TICKET)
    kernel = _kernel(request)
    async with request.form(max_files=attachments.MAX_PER_TICKET) as form:
        code = submit_unit(kernel, actor, _text(form, "unit_code") or None)
        found = offered(kernel, actor, code, kind)
        staff = kernel.allowed(actor, lifecycle.HANDLE, code)
        body, values = ticket_from_form(found, code, form, staff)
        key = _text(form, KEY_FIELD)[:200] or None
        if key is not None and "\x00" in key:
            key = None
        photos = photos_from_form(form)

        def create() -> int:
            checked = TicketBody.model_validate(body)
            if len(photos) > attachments.MAX_PER_TICKET:
                raise service.TicketError(
                    422, f"{PHOTOS}: 最多 {attachments.MAX_PER_TICKET} 张照片 / too many photos"
                )
            root, limit = attachments.attachment_dir(request), kernel.settings.attachment_max_bytes
            spooled: list[attachments.Spooled] = []
            try:
                for photo in photos:
                    spooled.append(attachments.spool(photo, root, limit))
                with _session(request) as session:
                    ticket, new = service.create_ticket(
                        session, kernel, actor, checked, idempotency_key=key, commit=False
                    )
                    if new:
                        for one, photo in zip(spooled, photos, strict=True):
                            attachments.attach(session, kernel, actor, ticket, one, photo.filename)
                        session.commit()
                    else:  # a double submit: the first one stored its photos
                        attachments.discard(spooled)
                    assert ticket.id is not None
                    return ticket.id
            except BaseException:
                attachments.discard(spooled)
                raise

        try:
            ticket_id = await run_in_threadpool(create)
        except ValidationError as exc:
            errors = {}
            for error in exc.errors():
                errors.setdefault(".".join(str(p) for p in error["loc"]), message(error))
            return await _ticket_form(
                request, actor, found, code, values, key or new_key(), errors, 422
            )
        except HTTPException as exc:
            if exc.status_code == 404:
                raise
            errors = {
                PHOTOS if name == "file" else name: text
                for name, text in refusal_by_field(exc.detail).items()
            }
            # the key already made another ticket (the form sent back and edited): a new one
            fresh = "Idempotency-Key" in errors or key is None
            return await _ticket_form(
                request,
                actor,
                found,
                code,
                values,
                new_key() if fresh else key,
                errors,
                exc.status_code,
            )
    return RedirectResponse(f"/tickets/{ticket_id}?done=new", status_code=303)


# -- lists ---------------------------------------------------------------------------------


def _pager(link: dict[str, str], offset: int, more: bool) -> dict[str, str | None]:
    return {
        "previous": urlencode({**link, "offset": max(offset - PAGE_SIZE, 0)}) if offset else None,
        "next": urlencode({**link, "offset": offset + PAGE_SIZE}) if more else None,
    }


@pages.get("/mine", response_class=HTMLResponse)
async def mine_page(request: Request, actor: Signed, offset: Offset = 0) -> Response:
    """我的诉求: the tickets the actor reported, newest first."""
    kernel = _kernel(request)
    if actor.kind != "account":
        raise Forbidden(lifecycle.CREATE)

    def load() -> list[dict[str, Any]]:
        now = kernel.workflows.clock()
        query = (
            select(Ticket)
            .where(col(Ticket.reporter_account_id) == actor.id)
            .order_by(col(Ticket.submitted_at).desc(), col(Ticket.id).desc())
            .limit(PAGE_SIZE + 1)
            .offset(offset)
        )
        with _session(request) as session:
            return [views.summary(kernel, t, now) for t in session.exec(query)]

    found = await run_in_threadpool(load)
    if actor.home_unit:
        _use_scope(request, actor.home_unit)
    return await render(
        request,
        "core/tickets_mine.html",
        {
            "tickets": found[:PAGE_SIZE],
            "levels": SATISFACTION_LEVELS,
            "when": when,
            **_pager({}, offset, len(found) > PAGE_SIZE),
        },
    )


def _choice(name: str, value: str, known: list[str]) -> str | None:
    """``None`` when ``value`` is empty or known; else the message naming the filter."""
    if not value or value in known:
        return None
    return f"{name}: 没有这一项 / unknown {name}"


@pages.get("/inbox", response_class=HTMLResponse)
async def inbox_page(
    request: Request,
    actor: Signed,
    state: Annotated[str, Query(max_length=40)] = "",
    type: Annotated[str, Query(max_length=40)] = "",
    under: Annotated[str, Query(max_length=15)] = "",
    offset: Offset = 0,
) -> Response:
    """工单待办: the tickets at the actor's units (all of them, or those ``under`` one of
    its role's units), open ones by default, due soonest first."""
    kernel = _kernel(request)
    held = [r for r in actor.roles if kernel.access.grants(r.role, lifecycle.READ)]
    if not held:
        raise Forbidden(lifecycle.READ)
    catalog = service.catalog_of(kernel)
    error = _choice("state", state, [s.name for s in WORKFLOW.states]) or _choice(
        "type", type, list(catalog.types)
    )
    path = None
    if under:
        try:
            path = parse_code(under).path
        except UnitCodeError as exc:
            error = error or f"under: {exc}"
        else:
            if not any(path.startswith(r.path) for r in held):
                raise OutOfScope(under)

    def load() -> tuple[list[dict[str, Any]], dict[str, str]]:
        with _session(request) as session:
            names = {
                r.unit_code: (unit.name if (unit := session.get(Unit, r.unit_code)) else "")
                for r in held
            }
            if error:
                return [], names
            conditions = [service.readable(kernel, actor)]
            if state:
                conditions.append(col(Ticket.state) == state)
            else:
                conditions.append(col(Ticket.state).not_in(views.CLOSED_STATES))
            if type:
                conditions.append(col(Ticket.type) == type)
            if path is not None:
                conditions += [
                    col(Ticket.unit_code) >= path,
                    col(Ticket.unit_code) < path_upper_bound(path),
                ]
            query = (
                select(Ticket)
                .where(*conditions)
                .order_by(
                    case((col(Ticket.due_at).is_(None), 1), else_=0),
                    col(Ticket.due_at),
                    col(Ticket.id),
                )
                .limit(PAGE_SIZE + 1)
                .offset(offset)
            )
            now = kernel.workflows.clock()
            return [views.summary(kernel, t, now) for t in session.exec(query)], names

    found, names = await run_in_threadpool(load)
    _use_scope(request, under if path is not None else held[0].unit_code)
    filters = {"state": state, "type": type, "under": under}
    link = {k: v for k, v in filters.items() if v}
    moved = request.query_params.get("moved", "")
    return await render(
        request,
        "core/tickets_inbox.html",
        {
            "tickets": found[:PAGE_SIZE],
            "filters": filters,
            "states": WORKFLOW.states,
            "types": list(catalog.types.values()),
            "units": [
                (r.unit_code, names.get(r.unit_code, ""), kernel.access.roles[r.role].title)
                for r in held
            ],
            "error": error,
            "moved": f"第 {moved} 号工单已上报，移交上级单位办理。" if moved.isdigit() else None,
            "when": when,
            **_pager(link, offset, len(found) > PAGE_SIZE),
        },
        status_code=422 if error else 200,
    )


# -- one ticket ----------------------------------------------------------------------------


def _input_labels() -> dict[str, str]:
    """Input names to their labels, over every step (for the timeline's inputs)."""
    return {i.name: i.label for t in WORKFLOW.transitions for i in t.inputs}


async def _ticket_page(
    request: Request,
    actor: Actor,
    ticket_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    chosen: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    kernel = _kernel(request)

    def load() -> dict[str, Any]:
        with _session(request) as session:
            ticket = service.get_ticket(session, kernel, actor, ticket_id)
            return views.ticket_detail(session, kernel, actor, ticket)

    detail = await run_in_threadpool(load)
    _use_scope(request, detail["unit_code"])
    steps: list[Transition] = [
        step
        for choice in detail["transitions"]
        if (step := WORKFLOW.transition(choice["name"])) is not None
    ]
    done = request.query_params.get("done", "")
    step = WORKFLOW.transition(done) if done else None
    notice = DONE.get(done) or (f"已{step.label}。" if step else None)
    return await render(
        request,
        "core/tickets_ticket.html",
        {
            "ticket": detail,
            "steps": steps,
            "own": {a["name"] for a in detail["reporter_actions"]},
            "levels": SATISFACTION_LEVELS,
            "labels": _input_labels(),
            "when": when,
            "error": error,
            "done": None if error else notice,
            "chosen": chosen,
            "values": values or {},
            "max_photos": attachments.MAX_PER_TICKET,
        },
        status_code=status_code,
    )


@pages.get("/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(request: Request, ticket_id: RowId, actor: Signed) -> Response:
    return await _ticket_page(request, actor, ticket_id)


def seen_version(form: FormData) -> int:
    """The version the form was rendered with; 422 naming ``version`` otherwise."""
    seen = _text(form, "version")
    if not (seen.isascii() and seen.isdigit()) or not 1 <= int(seen) <= DB_INT_MAX:
        raise service.TicketError(422, "version: 应为正整数 / must be a positive integer")
    return int(seen)


async def _act(
    request: Request,
    actor: Actor,
    ticket_id: int,
    chosen: str,
    values: dict[str, str],
    take: Callable[[Session, Ticket], object],
) -> Response:
    """Take a step on the ticket and redirect to it (or, when it left the actor's sight, to
    the inbox); a refusal but 404 shows the ticket page again with the message."""
    kernel = _kernel(request)

    def run() -> bool:
        with _session(request) as session:
            ticket = service.get_ticket(session, kernel, actor, ticket_id)
            take(session, ticket)
            session.commit()
            try:  # an escalation may have moved it out of the actor's sight
                service.get_ticket(session, kernel, actor, ticket_id)
            except service.TicketError:
                return False
            return True

    try:
        visible = await run_in_threadpool(run)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        return await _ticket_page(
            request,
            actor,
            ticket_id,
            error=str(exc.detail),
            status_code=exc.status_code,
            chosen=chosen,
            values=values,
        )
    if not visible:
        return RedirectResponse(f"/tickets/inbox?moved={ticket_id}", status_code=303)
    return RedirectResponse(f"/tickets/{ticket_id}?done={chosen}", status_code=303)


@pages.post("/{ticket_id}/transitions/{name}", response_class=HTMLResponse)
async def transition_submit(
    request: Request,
    ticket_id: RowId,
    name: Annotated[str, Path(max_length=40)],
    actor: Signed,
) -> Response:
    """受理、派单、签收、退回、延期、上报、办结、回访… with the version seen."""
    form = await request.form()
    inputs = {
        key.removeprefix("inputs."): value
        for key, value in form.items()
        if key.startswith("inputs.") and isinstance(value, str)
    }
    kernel = _kernel(request)

    def take(session: Session, ticket: Ticket) -> None:
        if name == "rate":
            raise service.TicketError(422, "transition: 评价请使用评价表单 / rate with the form")
        version = seen_version(form)
        service.transition_ticket(session, kernel, actor, ticket, name, version, inputs)

    return await _act(request, actor, ticket_id, name, inputs, take)


@pages.post("/{ticket_id}/photos", response_class=HTMLResponse)
async def photo_submit(request: Request, ticket_id: RowId, actor: Signed) -> Response:
    """添加照片: one more photo of the ticket, by its reporter or staff who may read it."""
    _too_large(request, 1)
    async with request.form(max_files=1) as form:
        photos = photos_from_form(form)
        try:
            if not photos:
                raise service.TicketError(422, f"{PHOTOS}: 请选择一张照片 / choose a photo")
            await run_in_threadpool(attachments.store, request, actor, ticket_id, photos[0])
        except HTTPException as exc:
            if exc.status_code == 404:
                raise
            text = next(iter(refusal_by_field(exc.detail).values()))
            return await _ticket_page(
                request, actor, ticket_id, error=text, status_code=exc.status_code, chosen=PHOTOS
            )
    return RedirectResponse(f"/tickets/{ticket_id}?done={PHOTOS}", status_code=303)


@pages.post("/{ticket_id}/rating", response_class=HTMLResponse)
async def rating_submit(request: Request, ticket_id: RowId, actor: Signed) -> Response:
    """The reporter rates the handling (很满意 … 不满意), says whether it was solved."""
    form = await request.form()
    values = {name: _text(form, name) for name in ("rating", "comment", "solved")}
    kernel = _kernel(request)

    def take(session: Session, ticket: Ticket) -> None:
        rating = values["rating"]
        if rating not in ("1", "2", "3", "4", "5"):
            raise service.TicketError(422, "rating: 请选择满意程度 / choose a rating")
        comment = values["comment"].strip()
        if len(comment) > 500 or "\x00" in comment:
            raise service.TicketError(422, "comment: 应不超过 500 字 / at most 500 characters")
        if values["solved"] not in ("", *SOLVED):
            raise service.TicketError(422, "solved: 应为 是 或 否 / yes or no")
        service.rate_ticket(
            session,
            kernel,
            actor,
            ticket,
            seen_version(form),
            int(rating),
            comment or None,
            SOLVED.get(values["solved"]),
        )

    return await _act(request, actor, ticket_id, "rate", values, take)


@pages.post("/{ticket_id}/cancel", response_class=HTMLResponse)
async def cancel_submit(request: Request, ticket_id: RowId, actor: Signed) -> Response:
    """The reporter withdraws a ticket not yet being handled."""
    form = await request.form()
    values = {"reason": _text(form, "reason")}
    kernel = _kernel(request)

    def take(session: Session, ticket: Ticket) -> None:
        reason = values["reason"].strip()
        if not reason or len(reason) > 500 or "\x00" in reason:
            raise service.TicketError(422, "reason: 请填写 1–500 字的撤销理由 / 1 to 500 chars")
        service.cancel_own(session, kernel, actor, ticket, seen_version(form), reason)

    return await _act(request, actor, ticket_id, "cancel", values, take)
