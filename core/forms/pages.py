"""Pages of plugins' forms, rendered from the model: ``/p/{plugin}/forms/{form}/…``.

The list (``/``), the create page (``/new``: a POST creates and redirects to the record;
errors show the form again, each message next to its field, with what the user typed) and
the record (``/{record_id}``). No plugin writes HTML for its forms.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from core.forms import service
from core.forms.fields import FormField
from core.forms.models import FormRecord
from core.forms.spec import FormSpec
from core.forms.web import form_in_path
from core.identity.access import Actor
from core.identity.web import Forbidden, require_actor
from core.kernel import Scope
from core.units.models import Unit
from core.web.inputs import Offset, RowId
from core.web.render import page_link, render
from core.web.scope import require_plugin_from_path

pages = APIRouter(prefix="/p/{plugin}/forms/{form}", dependencies=[Depends(require_actor)])

ActorDep = Annotated[Actor, Depends(require_actor)]
ScopeDep = Annotated[Scope, Depends(require_plugin_from_path)]
Form = Annotated[FormSpec, Depends(form_in_path)]
PAGE_SIZE = 50
LIST_COLUMNS = 3  # fields shown in the list, besides the record's own columns
KEY_FIELD = "submission_key"  # a hidden token per rendered form: a double submit saves once


def new_key() -> str:
    """A fresh submission key for a rendered form."""
    return secrets.token_urlsafe(16)


def shown(field: FormField, value: Any) -> Any:
    """A JSON value as the create page's input shows it (text, or a list for checkboxes)."""
    if field.kind == "multichoice":
        return [str(v) for v in value or []]
    if value is None:
        return ""
    if field.kind == "boolean":
        return "true" if value else "false"
    return str(value)


def data_from_form(spec: FormSpec, form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values to validate and the values to show again, from a posted form.

    An empty input is left out, so that the field's default applies or pydantic reports it
    missing; choices are mapped back to their typed values.
    """
    data: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for field in spec.fields:
        if field.kind == "multichoice":
            picked = [v for v in form.getlist(field.name) if isinstance(v, str)]
            values[field.name] = picked
            if picked:
                data[field.name] = [field.choice_value(v) for v in picked]
            continue
        raw = form.get(field.name)
        raw = raw if isinstance(raw, str) else ""
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


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine)


def _base(plugin: str, spec: FormSpec) -> str:
    return f"/p/{plugin}/forms/{spec.name}"


def _context(request: Request, plugin: str, spec: FormSpec) -> dict[str, Any]:
    info = request.app.state.kernel.registry.info(plugin)
    return {"spec": spec, "plugin": plugin, "plugin_title": info.title, "base": _base(plugin, spec)}


# -- the list ------------------------------------------------------------------------------


@pages.get("/", response_class=HTMLResponse)
async def records_page(
    request: Request, plugin: str, spec: Form, actor: ActorDep, scope: ScopeDep, offset: Offset = 0
) -> Response:
    kernel = request.app.state.kernel

    def load() -> list[FormRecord]:
        with _session(request) as session:
            return service.list_records(
                session, kernel, actor, plugin, spec, scope.unit, limit=PAGE_SIZE + 1, offset=offset
            )

    found = await run_in_threadpool(load)
    columns = spec.fields[:LIST_COLUMNS]
    rows = [
        {
            "record": r,
            "cells": [c.label_of(service.read_data(spec, r.data).get(c.name)) for c in columns],
        }
        for r in found[:PAGE_SIZE]
    ]
    link = {"unit": scope.unit.code}
    return await render(
        request,
        "core/forms_list.html",
        {
            **_context(request, plugin, spec),
            "columns": columns,
            "rows": rows,
            "can_submit": bool(actor.paths_with(kernel.access, spec.submit_permission)),
            "previous": urlencode({**link, "offset": max(offset - PAGE_SIZE, 0)})
            if offset
            else None,
            "next": urlencode({**link, "offset": offset + PAGE_SIZE})
            if len(found) > PAGE_SIZE
            else None,
        },
    )


# -- creating ------------------------------------------------------------------------------


async def _new_form(
    request: Request,
    plugin: str,
    spec: FormSpec,
    values: dict[str, Any],
    subject: str,
    key: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    supported = request.app.state.kernel.forms.subjects.supports(spec.subject)
    return await render(
        request,
        "core/forms_new.html",
        {
            **_context(request, plugin, spec),
            "fields": spec.fields,
            "values": values,
            "subject": subject,
            "subject_supported": supported,
            "key": key,
            "key_field": KEY_FIELD,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@pages.get("/new", response_class=HTMLResponse)
async def new_record_page(
    request: Request, plugin: str, spec: Form, actor: ActorDep, scope: ScopeDep
) -> Response:
    if not actor.paths_with(request.app.state.kernel.access, spec.submit_permission):
        raise Forbidden(spec.submit_permission)
    values = {f.name: shown(f, f.default) for f in spec.fields}
    subject = scope.unit.code if spec.subject == "unit" else ""
    return await _new_form(request, plugin, spec, values, subject, new_key())


@pages.post("/new", response_class=HTMLResponse)
async def new_record_submit(
    request: Request, plugin: str, spec: Form, actor: ActorDep, scope: ScopeDep
) -> Response:
    form = await request.form()
    data, values = data_from_form(spec, form)
    subject = form.get("subject")
    subject = subject.strip() if isinstance(subject, str) else ""
    key = form.get(KEY_FIELD)
    key = key[:128] if isinstance(key, str) and key and "\x00" not in key else None
    kernel = request.app.state.kernel

    def create() -> service.RecordRow:
        if not subject:
            raise service.InvalidSubmission([(("subject",), "此项必填 / Field required")])
        with kernel.engine.connect() as conn:
            new = service.Submission(subject, data, key)
            return service.submit(conn, kernel, actor, plugin, spec, new)[0]

    try:
        record = await run_in_threadpool(create)
    except service.InvalidSubmission as exc:
        return await _new_form(
            request, plugin, spec, values, subject, key or new_key(), exc.by_field(), 422
        )
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        again = "这份表单已经提交过；如确需再提交一份，请再次点击提交 / already submitted"
        return await _new_form(
            request, plugin, spec, values, subject, new_key(), {"data": again}, 409
        )
    target = page_link(request, f"{_base(plugin, spec)}/{record.id}")
    return RedirectResponse(target, status_code=303)


# -- one record ----------------------------------------------------------------------------


@pages.get("/{record_id}", response_class=HTMLResponse)
async def record_page(
    request: Request, plugin: str, record_id: RowId, spec: Form, actor: ActorDep
) -> Response:
    kernel = request.app.state.kernel

    def load() -> tuple[FormRecord, Scope, Unit | None]:
        with _session(request) as session:
            record, scope = service.get_record(session, kernel, actor, plugin, spec, record_id)
            return record, scope, session.get(Unit, record.unit_code)

    record, scope, unit = await run_in_threadpool(load)
    request.state.scope = scope  # the layout shows the record's township and its menu
    data = service.read_data(spec, record.data)
    current = {f.name for f in spec.fields}
    return await render(
        request,
        "core/forms_view.html",
        {
            **_context(request, plugin, spec),
            "record": record,
            "unit": unit,
            "items": [(f, f.label_of(data.get(f.name))) for f in spec.fields],
            "dropped": [(k, v) for k, v in data.items() if k not in current],
        },
    )
