"""Pages of plugins' workflows: ``/p/{plugin}/workflows/{workflow}/…``.

The workflow page shows the state diagram (SVG drawn on the server), the states and who may
take each transition, the instances at the request's unit with the overdue ones marked, and
a form to start one. The instance page shows the history and a form per transition the
viewer may take now. Forms post with the CSRF token and the version the viewer saw; a
refusal shows the page again with the message (409 when someone moved the instance first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core.identity.access import AccessCatalog, Actor
from core.identity.web import require_actor
from core.kernel import Kernel, Scope
from core.web.inputs import DB_INT_MAX, Offset, RowId
from core.web.render import render
from core.web.scope import require_plugin_from_path
from core.workflows import service
from core.workflows.api import InstanceDetail, detail, readable
from core.workflows.deadlines import CHINA
from core.workflows.diagram import render_svg
from core.workflows.spec import Transition, Workflow

pages = APIRouter(prefix="/p/{plugin}/workflows/{workflow}")  # mounted at the root

Signed = Annotated[Actor, Depends(require_actor)]
Guarded = Annotated[Scope, Depends(require_plugin_from_path)]
PAGE_SIZE = 50


def when(value: datetime | None) -> str:
    """A time in China's time zone, as the pages show it."""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"


def who(access: AccessCatalog, transition: Transition) -> str:
    """Who may take a transition, in Chinese."""
    parts = []
    if transition.permission:
        known = access.permissions.get(transition.permission)
        title = known.title if known else transition.permission
        parts.append(f"有“{title}”权限者")
    for role in transition.roles:
        known_role = access.roles.get(role)
        parts.append(known_role.title if known_role else role)
    return " 或 ".join(parts)


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def _session(request: Request) -> Session:
    return Session(_kernel(request).engine)


def _base(plugin: str, workflow: str) -> str:
    return f"/p/{plugin}/workflows/{workflow}"


# -- the workflow ----------------------------------------------------------------------------


@pages.get("/", response_class=HTMLResponse)
async def workflow_page(
    request: Request,
    plugin: str,
    workflow: str,
    actor: Signed,
    scope: Guarded,
    state: Annotated[str, Query(max_length=40)] = "",
    overdue: Annotated[str, Query(pattern="^(|1)$")] = "",
    offset: Offset = 0,
) -> Response:
    return await _workflow_page(
        request, actor, scope, plugin, workflow, state=state, overdue=overdue, offset=offset
    )


async def _workflow_page(
    request: Request,
    actor: Actor,
    scope: Scope,
    plugin: str,
    workflow: str,
    *,
    state: str = "",
    overdue: str = "",
    offset: int = 0,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    kernel = _kernel(request)
    definition = readable(kernel, actor, plugin, workflow)

    def load() -> tuple[list[Any], dict[str, int], int]:
        with _session(request) as session:
            found = service.list_workflow_instances(
                session,
                kernel,
                actor,
                plugin,
                workflow,
                under=scope.unit.code,
                state=state or None,
                overdue=overdue == "1",
                limit=PAGE_SIZE + 1,
                offset=offset,
            )
            counts, late = service.count_workflow_instances(
                session, kernel, actor, plugin, workflow, under=scope.unit.code
            )
            return found, counts, late

    try:
        found, counts, late = await run_in_threadpool(load)
    except service.WorkflowError as exc:  # a bad filter: the page with the message
        found, counts, late = [], {}, 0
        error, status_code = str(exc.detail), exc.status_code
    filters = {"unit": scope.unit.code, "state": state, "overdue": overdue}
    link = {k: v for k, v in filters.items() if v}
    done = request.query_params.get("moved")
    return await render(
        request,
        "core/workflows_workflow.html",
        {
            "plugin": plugin,
            "plugin_title": _plugin_title(kernel, plugin),
            "definition": definition,
            "base": _base(plugin, workflow),
            "diagram": Markup(render_svg(definition, counts)),  # every label is escaped
            "instances": found[:PAGE_SIZE],
            "counts": counts,
            "late": late,
            "now": kernel.workflows.clock(),
            "filters": filters,
            "who": lambda t: who(kernel.access, t),
            "when": when,
            "can_start": bool(actor.paths_with(kernel.access, definition.start_permission)),
            "values": values or {"unit_code": scope.unit.code},
            "error": error,
            "done": f"第 {done} 号已移交上级单位办理。" if done and done.isdigit() else None,
            "previous": urlencode({**link, "offset": max(offset - PAGE_SIZE, 0)})
            if offset
            else None,
            "next": urlencode({**link, "offset": offset + PAGE_SIZE})
            if len(found) > PAGE_SIZE
            else None,
        },
        status_code=status_code,
    )


def _plugin_title(kernel: Kernel, plugin: str) -> str:
    info = kernel.registry.info(plugin)
    return info.title if info else plugin


@pages.post("/instances", response_class=HTMLResponse)
async def start_submit(
    request: Request,
    plugin: str,
    workflow: str,
    actor: Signed,
    scope: Guarded,
    unit_code: Annotated[str, Form(max_length=15)] = "",
    subject: Annotated[str, Form(max_length=service.MAX_SUBJECT)] = "",
) -> Response:
    kernel = _kernel(request)

    def start() -> int:
        with _session(request) as session:
            started = service.start_workflow(
                session, kernel, actor, plugin, workflow, unit_code.strip(), subject.strip() or None
            )
            session.commit()
            return started.id

    try:
        instance_id = await run_in_threadpool(start)
    except service.WorkflowError as exc:
        values = {"unit_code": unit_code, "subject": subject}
        return await _workflow_page(
            request,
            actor,
            scope,
            plugin,
            workflow,
            error=str(exc.detail),
            status_code=exc.status_code,
            values=values,
        )
    return RedirectResponse(
        f"{_base(plugin, workflow)}/instances/{instance_id}?done=start", status_code=303
    )


# -- one instance ----------------------------------------------------------------------------


async def _instance_page(
    request: Request,
    actor: Actor,
    plugin: str,
    workflow: str,
    instance_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    chosen: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    kernel = _kernel(request)

    def load() -> InstanceDetail:
        with _session(request) as session:
            return detail(session, kernel, actor, plugin, workflow, instance_id)

    instance = await run_in_threadpool(load)
    request.state.scope = kernel.scope(instance.unit_code)  # the township's menu
    definition = service.workflow_definition(kernel, plugin, workflow)
    allowed = {choice.name for choice in instance.transitions}
    done = definition.transition(request.query_params.get("done", ""))
    if error is None and request.query_params.get("done") == "start":
        message = "已发起。"
    else:
        message = f"已{done.label}。" if error is None and done else None
    return await render(
        request,
        "core/workflows_instance.html",
        {
            "plugin": plugin,
            "plugin_title": _plugin_title(kernel, plugin),
            "definition": definition,
            "base": _base(plugin, workflow),
            "instance": instance,
            "transitions": [t for t in definition.transitions if t.name in allowed],
            "labels": _labels(definition),
            "when": when,
            "error": error,
            "done": message,
            "chosen": chosen,
            "values": values or {},
        },
        status_code=status_code,
    )


def _labels(definition: Workflow) -> dict[str, str]:
    """Input names to their labels, over every transition (for the history's inputs)."""
    return {i.name: i.label for t in definition.transitions for i in t.inputs}


@pages.get("/instances/{instance_id}", response_class=HTMLResponse)
async def instance_page(
    request: Request, plugin: str, workflow: str, instance_id: RowId, actor: Signed
) -> Response:
    return await _instance_page(request, actor, plugin, workflow, instance_id)


@pages.post("/instances/{instance_id}/transitions/{transition}", response_class=HTMLResponse)
async def transition_submit(
    request: Request,
    plugin: str,
    workflow: str,
    instance_id: RowId,
    transition: Annotated[str, Path(max_length=40)],
    actor: Signed,
) -> Response:
    kernel = _kernel(request)
    form = await request.form()
    inputs = {
        key.removeprefix("inputs."): value
        for key, value in form.items()
        if key.startswith("inputs.") and isinstance(value, str)
    }
    seen = form.get("version")

    def run() -> bool:
        if (
            not isinstance(seen, str)
            or not (seen.isascii() and seen.isdigit())  # isdigit() alone passes "²"
            or not 1 <= int(seen) <= DB_INT_MAX
        ):
            raise service.WorkflowError(422, "version: 应为正整数 / must be a positive integer")
        with _session(request) as session:
            service.transition_workflow(
                session,
                kernel,
                actor,
                instance_id,
                transition,
                int(seen),
                inputs,
                plugin=plugin,
                workflow=workflow,
            )
            session.commit()
            try:  # an escalation may have moved it out of the actor's sight
                service.get_workflow_instance(session, kernel, actor, instance_id)
            except service.WorkflowError:
                return False
            return True

    try:
        visible = await run_in_threadpool(run)
    except service.WorkflowError as exc:
        if exc.status_code == 404:
            raise
        return await _instance_page(
            request,
            actor,
            plugin,
            workflow,
            instance_id,
            error=str(exc.detail),
            status_code=exc.status_code,
            chosen=transition,
            values=inputs,
        )
    base = _base(plugin, workflow)
    if not visible:
        return RedirectResponse(f"{base}/?moved={instance_id}", status_code=303)
    return RedirectResponse(
        f"{base}/instances/{instance_id}?done={transition}", status_code=303
    )
