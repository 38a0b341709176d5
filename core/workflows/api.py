"""JSON API of plugins' workflows: ``/api/v1/p/{plugin}/workflows/{workflow}…``.

The definition and the list resolve the request's unit (``unit``, else the actor's home unit)
with the plugin's township guard; one instance is found by id within the actor's scope and
answers 404 where its plugin is off. The rules are in :mod:`core.workflows.service`; every
write commits only when it succeeded.

Taking a transition is the hot write: an ``async`` endpoint doing its database work in one
threadpool hop, answering with the moved instance and the history entry just written (the
whole history is on ``GET …/instances/{id}``), serialised once without re-validation.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core.events import wakeup
from core.identity.access import Actor
from core.identity.web import Forbidden, require_actor
from core.kernel import Kernel, Scope
from core.web.inputs import DB_INT_MAX, Offset, RowId, Text
from core.web.scope import require_plugin_from_path
from core.workflows import service
from core.workflows.models import WorkflowHistoryRow
from core.workflows.spec import Workflow, WorkflowInstance, WorkflowStep

api = APIRouter(prefix="/p/{plugin}/workflows/{workflow}")  # mounted under /api/v1

Signed = Annotated[Actor, Depends(require_actor)]
Guarded = Annotated[Scope, Depends(require_plugin_from_path)]
Name = Annotated[str, Field(max_length=40)]


class DeadlineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    hours: int | None
    working_days: int | None
    label: str


class StateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    label: str
    closed: bool
    deadline: DeadlineOut | None


class InputOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    label: str
    kind: str
    required: bool
    choices: tuple[str, ...]
    max_length: int
    minimum: int | None
    maximum: int | None
    help: str


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    permission: str | None
    roles: tuple[str, ...]
    inputs: tuple[InputOut, ...]
    deadline: DeadlineOut | None
    escalate: bool


class WorkflowOut(BaseModel):
    """A workflow's definition."""

    model_config = ConfigDict(from_attributes=True)
    name: str
    title: str
    description: str
    initial: str
    read_permission: str
    start_permission: str
    states: tuple[StateOut, ...]
    transitions: tuple[TransitionOut, ...]


class InstanceOut(BaseModel):
    """An instance as it is now; ``overdue``: still open after ``due_at``."""

    id: int
    plugin: str
    workflow: str
    unit_code: str
    subject: str | None
    state: str
    state_label: str
    closed: bool
    version: int
    due_at: datetime | None
    overdue: bool
    created_at: datetime
    created_by: str
    updated_at: datetime


class StepOut(BaseModel):
    """One history row: the start (``transition`` is ``null``) or a transition."""

    version: int
    transition: str | None
    transition_label: str
    from_state: str | None
    to_state: str
    unit_code: str
    actor: str
    inputs: dict[str, Any]
    at: datetime


class ChoiceOut(BaseModel):
    name: str
    label: str


class InstanceDetail(InstanceOut):
    """An instance with its history and the transitions the caller may take now."""

    history: list[StepOut]
    transitions: list[ChoiceOut]


class MovedOut(InstanceOut):
    """An instance just moved, and the history entry the move wrote (``step``)."""

    step: StepOut


class StartIn(BaseModel):
    unit_code: Text = Field(max_length=15, description="单位代码 / unit")
    subject: Text | None = Field(
        None, max_length=service.MAX_SUBJECT, description="所涉事项，如 ticket:12 / subject"
    )


class TransitionIn(BaseModel):
    """Strict types: ``true`` or ``"1"`` is not a version, nor ``true`` a reason."""

    version: StrictInt = Field(ge=1, le=DB_INT_MAX, description="所见版本 / the version you saw")
    inputs: dict[Name, StrictStr | StrictInt | None] = Field(
        default_factory=dict, description="本步所需输入，如 reason / the transition's inputs"
    )


SHOWN = [f.name for f in fields(WorkflowInstance) if f.name != "township_code"]


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def _session(request: Request) -> Session:
    return Session(_kernel(request).engine)


def instance_fields(
    kernel: Kernel, definition: Workflow, instance: WorkflowInstance
) -> dict[str, Any]:
    """The fields of :class:`InstanceOut`."""
    state = definition.state(instance.state)
    return {
        **{name: getattr(instance, name) for name in SHOWN},
        "state_label": state.label if state else instance.state,
        "overdue": instance.overdue(kernel.workflows.clock()),
    }


def instance_out(kernel: Kernel, definition: Workflow, instance: WorkflowInstance) -> InstanceOut:
    return InstanceOut(**instance_fields(kernel, definition, instance))


def step_out(definition: Workflow, row: WorkflowHistoryRow | WorkflowStep) -> StepOut:
    taken = definition.transition(row.transition) if row.transition else None
    label = taken.label if taken else ("发起" if row.transition is None else row.transition)
    return StepOut(
        version=row.version,
        transition=row.transition,
        transition_label=label,
        from_state=row.from_state,
        to_state=row.to_state,
        unit_code=row.unit_code,
        actor=row.actor,
        inputs=row.inputs,
        at=row.at,
    )


def readable(kernel: Kernel, actor: Actor, plugin: str, workflow: str) -> Workflow:
    """The workflow (404), if the actor holds its read permission somewhere (403)."""
    definition = service.workflow_definition(kernel, plugin, workflow)
    if not actor.paths_with(kernel.access, definition.read_permission):
        raise Forbidden(definition.read_permission)
    return definition


def detail(
    session: Session, kernel: Kernel, actor: Actor, plugin: str, workflow: str, instance_id: int
) -> InstanceDetail:
    instance = service.get_workflow_instance(
        session, kernel, actor, instance_id, plugin=plugin, workflow=workflow
    )
    definition = service.workflow_definition(kernel, plugin, workflow)
    history = service.workflow_history(session, kernel, actor, instance_id)
    return InstanceDetail(
        **instance_out(kernel, definition, instance).model_dump(),
        history=[step_out(definition, row) for row in history],
        transitions=[
            ChoiceOut(name=t.name, label=t.label)
            for t in service.available_transitions(kernel, actor, definition, instance)
        ],
    )


@api.get("", summary="流程定义 / a workflow's definition", response_model=WorkflowOut)
def get_definition(
    request: Request, plugin: str, workflow: str, actor: Signed, scope: Guarded
) -> WorkflowOut:
    return WorkflowOut.model_validate(readable(_kernel(request), actor, plugin, workflow))


@api.get(
    "/instances",
    summary="列出流程实例（按单位、状态、超期）/ instances by unit, state, overdue",
    response_model=list[InstanceOut],
)
def list_instances(
    request: Request,
    plugin: str,
    workflow: str,
    actor: Signed,
    scope: Guarded,
    state: Annotated[str | None, Query(max_length=40, description="状态 / state")] = None,
    overdue: Annotated[bool, Query(description="只看已超期 / only overdue ones")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> list[InstanceOut]:
    kernel = _kernel(request)
    definition = readable(kernel, actor, plugin, workflow)
    with _session(request) as session:
        found = service.list_workflow_instances(
            session,
            kernel,
            actor,
            plugin,
            workflow,
            under=scope.unit.code,
            state=state,
            overdue=overdue,
            limit=limit,
            offset=offset,
        )
    return [instance_out(kernel, definition, i) for i in found]


@api.post(
    "/instances",
    summary="发起流程实例 / start an instance",
    response_model=InstanceDetail,
    status_code=201,
)
def start_instance(
    request: Request, plugin: str, workflow: str, body: StartIn, actor: Signed
) -> InstanceDetail:
    kernel = _kernel(request)
    with _session(request) as session:
        started = service.start_workflow(
            session, kernel, actor, plugin, workflow, body.unit_code, body.subject
        )
        session.commit()
        return detail(session, kernel, actor, plugin, workflow, started.id)


@api.get(
    "/instances/{instance_id}",
    summary="流程实例及其历史 / one instance with its history",
    response_model=InstanceDetail,
)
def get_instance(
    request: Request, plugin: str, workflow: str, instance_id: RowId, actor: Signed
) -> InstanceDetail:
    with _session(request) as session:
        return detail(session, _kernel(request), actor, plugin, workflow, instance_id)


@api.post(
    "/instances/{instance_id}/transitions/{transition}",
    summary="执行流转（带所见版本）/ take a transition (with the version you saw)",
    response_model=MovedOut,
)
async def take_transition(
    request: Request,
    plugin: str,
    workflow: str,
    instance_id: RowId,
    transition: Annotated[str, Path(max_length=40)],
    body: TransitionIn,
    actor: Signed,
) -> Response:
    kernel = _kernel(request)

    def run() -> tuple[WorkflowInstance, WorkflowStep]:
        with kernel.engine.begin() as conn:  # no ORM session: Core all the way
            moved = service.apply_transition(
                conn,
                kernel,
                actor,
                instance_id,
                transition,
                body.version,
                body.inputs,
                plugin=plugin,
                workflow=workflow,
            )
        wakeup.notify()  # the workflow.transitioned event is committed
        return moved

    instance, step = await run_in_threadpool(run)
    definition = service.workflow_definition(kernel, plugin, workflow)
    out = MovedOut(**instance_fields(kernel, definition, instance), step=step_out(definition, step))
    return Response(out.model_dump_json(), media_type="application/json")
