"""Starting, moving, reading and listing workflow instances: the rules the API, the pages and
plugins' own code share.

Every function takes the caller's open session and never commits: the instance, its history
row, the audit entry and the ``workflow.*`` outbox event are written together or not at all.
Refusals raise :class:`WorkflowError` (an ``HTTPException``) whose message starts with the field
it is about:

* an instance outside the actor's scope, or whose plugin is off in its township: 404;
* a transition the actor may not take: 403; a stale ``version`` or a transition not allowed
  from the current state: 409; a missing or bad input, or a ``workflow_guard`` refusal: 422.

The version check is the ``UPDATE … WHERE id = :id AND version = :seen`` itself, so of two
concurrent transitions of one instance exactly one wins and the other gets 409.

Reading one instance and moving it are the hot path: they run the statements of
:mod:`core.workflows.statements`, built once, with the actor's scope as bound values, and never
re-read what they wrote (docs/benchmarks.md, "Kernel services").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import HTTPException
from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit.service import record
from core.events.outbox import emit
from core.identity.access import Actor, scope_clause, scope_parameters, scope_ranges
from core.kernel import Kernel
from core.units.codes import Level, UnitCode, UnitCodeError, parse_code, path_upper_bound
from core.units.service import chunks
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow
from core.workflows.spec import InputError, Transition, Workflow, WorkflowInstance, WorkflowStep
from core.workflows.statements import (
    APPEND,
    START,
    STEP,
    UNIT,
    WHICH,
    move_statement,
    scoped_read,
)

Row = WorkflowInstanceRow
NOT_FOUND = "流程实例不存在或不在您的范围内 / no such workflow instance in your scope"
MAX_SUBJECT = 200
ALL_UNITS = ("0", ":")  # every unit code (digit strings) lies in [low, high)


class WorkflowError(HTTPException):
    """A refused workflow operation: an HTTP status and a message naming the field."""


# -- definitions and views -----------------------------------------------------------------


def workflow_definition(kernel: Kernel, plugin: str, workflow: str) -> Workflow:
    """The declared workflow, or 404 when the plugin is not loaded or does not declare it."""
    found = kernel.workflows.get(plugin, workflow)
    if found is None:
        raise WorkflowError(
            404, f"workflow: 流程 {plugin}/{workflow} 不存在 / no such workflow {plugin}/{workflow}"
        )
    return found


def instance_view(row: WorkflowInstanceRow) -> WorkflowInstance:
    """The read-only view of a row."""
    return WorkflowInstance(
        id=row.id,  # type: ignore[arg-type]
        plugin=row.plugin,
        workflow=row.workflow,
        unit_code=row.unit_code,
        township_code=row.township_code,
        subject=row.subject,
        state=row.state,
        closed=row.closed,
        version=row.version,
        due_at=row.due_at,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
    )


def account_id(actor: Actor) -> int | None:
    """The account behind ``actor`` for an event's ``actor_id``; ``None`` for an API key
    (whose id is not an account's)."""
    return actor.id if actor.kind == "account" else None


def may_take(kernel: Kernel, actor: Actor, transition: Transition, unit_code: str) -> bool:
    """Whether ``actor`` may take ``transition`` on an instance at ``unit_code``: one of its
    ``roles`` held at the unit or above, or its ``permission`` there (plugins' answers count)."""
    if transition.roles and any(
        held.role in transition.roles and unit_code.startswith(held.path) for held in actor.roles
    ):
        return True
    return transition.permission is not None and kernel.allowed(
        actor, transition.permission, unit_code
    )


def available_transitions(
    kernel: Kernel, actor: Actor, workflow: Workflow, instance: WorkflowInstance
) -> list[Transition]:
    """The transitions ``actor`` may take from the instance's current state."""
    unit = instance.unit_code
    return [t for t in workflow.outgoing(instance.state) if may_take(kernel, actor, t, unit)]


# -- reading -------------------------------------------------------------------------------


def _visible(
    conn: Connection,
    kernel: Kernel,
    actor: Actor,
    instance_id: int,
    plugin: str | None,
    workflow: str | None,
    *,
    everywhere: bool = False,
) -> WorkflowInstance:
    """The instance if the actor holds its workflow's read permission at its unit (in the
    query) and its plugin is on in its township; 404 otherwise. ``everywhere`` skips the
    permission (a vouched transition).

    Without ``plugin`` and ``workflow``, a read by primary key first says which workflow's
    permission applies; its answer is not shown to the caller.
    """
    if plugin is None or workflow is None:
        which = conn.execute(WHICH, {"instance_id": instance_id}).first()
        if which is None or plugin not in (None, which[0]) or workflow not in (None, which[1]):
            raise WorkflowError(404, NOT_FOUND)
        plugin, workflow = which
    definition = kernel.workflows.get(plugin, workflow)
    if definition is None:
        ranges = []
    elif everywhere:
        ranges = [ALL_UNITS]
    else:
        ranges = scope_ranges(actor, kernel.access, definition.read_permission)
    if not ranges:
        raise WorkflowError(404, NOT_FOUND)
    values = {"instance_id": instance_id, "plugin": plugin, "workflow": workflow}
    row = conn.execute(scoped_read(len(ranges)), values | scope_parameters(ranges)).first()
    if row is None:
        raise WorkflowError(404, NOT_FOUND)
    instance = WorkflowInstance(*row)
    kernel.require(instance.plugin, kernel.scope(instance.township_code))  # off there: 404
    return instance


def get_workflow_instance(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    instance_id: int,
    *,
    plugin: str | None = None,
    workflow: str | None = None,
) -> WorkflowInstance:
    """One instance the actor may see (404 otherwise, and where its plugin is off).

    ``plugin`` and ``workflow``, when given, must match too (routes under a plugin's prefix).
    """
    return _visible(session.connection(), kernel, actor, instance_id, plugin, workflow)


def workflow_history(
    session: Session, kernel: Kernel, actor: Actor, instance_id: int
) -> list[WorkflowHistoryRow]:
    """The instance's history, oldest first (404 as :func:`get_workflow_instance`)."""
    _visible(session.connection(), kernel, actor, instance_id, None, None)
    query = select(WorkflowHistoryRow).where(col(WorkflowHistoryRow.instance_id) == instance_id)
    return list(session.exec(query.order_by(col(WorkflowHistoryRow.version))))


def enabled_townships(
    kernel: Kernel, plugin: str, under: UnitCode, column: Any
) -> ColumnElement[bool] | None:
    """SQL: the row's township (``column``) is one where ``plugin`` is on, among those under
    ``under``; ``None`` when no filter is needed (a core plugin, or on everywhere there).

    Uses whichever list is shorter: the townships where it is on, or those where it is off.
    """
    if kernel.registry.plugins[plugin].essential:
        return None
    if under.level.depth > Level.township.depth:  # a village or grid: its township decides
        return None if plugin in kernel.scope(under.code).enabled else false()
    snapshot = kernel.toggles.snapshot()
    codes = [code for code in snapshot.units if code.startswith(under.path)]
    on = [code for code in codes if plugin in snapshot.enabled(code)]
    off = [code for code in codes if plugin not in snapshot.enabled(code)]
    if not off:
        return None
    if not on:
        return false()
    if len(on) <= len(off):
        return or_(*(column.in_(part) for part in chunks(on)))
    return and_(*(column.not_in(part) for part in chunks(off)))


def _listing(
    kernel: Kernel, actor: Actor, plugin: str, workflow: Workflow, under: str
) -> list[ColumnElement[bool]]:
    try:
        parsed = parse_code(under)
    except UnitCodeError as exc:
        raise WorkflowError(422, f"unit: {exc}") from None
    conditions = [
        col(Row.plugin) == plugin,
        col(Row.workflow) == workflow.name,
        scope_clause(actor, kernel.access, workflow.read_permission, col(Row.unit_code)),
        col(Row.unit_code) >= parsed.path,
        col(Row.unit_code) < path_upper_bound(parsed.path),
    ]
    townships = enabled_townships(kernel, plugin, parsed, col(Row.township_code))
    return conditions if townships is None else [*conditions, townships]


def _overdue(now: datetime) -> list[ColumnElement[bool]]:
    return [col(Row.closed).is_(False), col(Row.due_at).is_not(None), col(Row.due_at) < now]


def list_workflow_instances(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    plugin: str,
    workflow: str,
    *,
    under: str,
    state: str | None = None,
    overdue: bool = False,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[WorkflowInstance]:
    """Instances at ``under`` and below that the actor may see, in townships where the plugin
    is on; newest first, or most overdue first with ``overdue``.

    :param state: only instances in this state (422 naming ``state`` if it is not declared).
    :param overdue: only open instances past their deadline at ``now`` (the catalog's clock).
    """
    definition = workflow_definition(kernel, plugin, workflow)
    conditions = _listing(kernel, actor, plugin, definition, under)
    if state is not None:
        if definition.state(state) is None:
            raise WorkflowError(422, f"state: 未知状态 {state!r} / unknown state")
        conditions.append(col(Row.state) == state)
    if overdue:
        conditions += _overdue(now or kernel.workflows.clock())
        order = [col(Row.due_at), col(Row.id)]
    else:
        order = [col(Row.id).desc()]
    query = select(Row).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return [instance_view(row) for row in session.exec(query)]


def count_workflow_instances(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    plugin: str,
    workflow: str,
    *,
    under: str,
    now: datetime | None = None,
) -> tuple[dict[str, int], int]:
    """How many instances the actor may see at ``under`` and below, by state, and how many
    of them are overdue."""
    definition = workflow_definition(kernel, plugin, workflow)
    conditions = _listing(kernel, actor, plugin, definition, under)
    by_state = dict(
        session.exec(
            select(Row.state, func.count()).where(*conditions).group_by(col(Row.state))
        ).all()
    )
    overdue_query = select(func.count()).where(
        *conditions, *_overdue(now or kernel.workflows.clock())
    )
    return by_state, session.exec(overdue_query).one()


# -- writing -------------------------------------------------------------------------------


def start_workflow(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    plugin: str,
    workflow: str,
    unit_code: str,
    subject: str | None = None,
    *,
    now: datetime | None = None,
    due_at: datetime | None = None,
) -> WorkflowInstance:
    """Start an instance at ``unit_code``, in the workflow's initial state.

    The actor needs the workflow's ``start_permission`` at the unit (403), which must lie in
    its units (404) in a township where the plugin is on (404). ``subject`` names what the
    instance is about (``ticket:12``); one workflow has at most one instance per subject
    (409 names the existing one). ``due_at`` replaces the initial state's deadline (a
    ticket's deadline by type and priority, say). Writes the history's first row, the audit
    entry and a ``workflow.started`` event; the caller commits.
    """
    definition = workflow_definition(kernel, plugin, workflow)
    try:
        code = parse_code(unit_code).code
    except UnitCodeError as exc:
        raise WorkflowError(422, f"unit_code: {exc}") from None
    conn = session.connection()
    if not actor.covers(code) or conn.execute(UNIT, {"code": code}).first() is None:
        raise WorkflowError(
            404, f"unit_code: 单位 {code} 不存在或不在您的范围内 / no such unit in your scope"
        )
    scope = kernel.scope(code)
    kernel.require(plugin, scope)
    if not kernel.allowed(actor, definition.start_permission, code):
        raise WorkflowError(
            403,
            f"没有权限发起{definition.title}（需要 {definition.start_permission}）/ "
            f"permission {definition.start_permission!r} required at {code}",
        )
    subject = subject.strip() if subject is not None else None  # as the page trims it
    _check_subject(session, kernel, actor, plugin, definition, subject)
    now = now or kernel.workflows.clock()
    initial = definition.state(definition.initial)
    assert initial is not None  # checked at start-up
    values = {
        "plugin": plugin,
        "workflow": definition.name,
        "unit_code": code,
        "township_code": scope.township.code,
        "subject": subject,
        "state": initial.name,
        "closed": False,
        "version": 1,
        "due_at": due_at or (initial.deadline.due(now) if initial.deadline else None),
        "created_at": now,
        "created_by": actor.label,
        "updated_at": now,
    }
    # Prebuilt Core statements, not ORM objects: a start is on every ticket's creation path.
    try:
        new_id = conn.execute(START, values).inserted_primary_key[0]
    except IntegrityError:  # the same subject started concurrently
        raise WorkflowError(409, _subject_taken(definition, subject)) from None
    started = WorkflowInstance(id=new_id, **values)
    first = WorkflowStep(new_id, 1, None, None, initial.name, code, actor.label, {}, now)
    conn.execute(APPEND, {**vars(first)})
    emit(
        session,
        "workflow.started",
        code,
        subject=f"workflow_instance:{started.id}",
        actor_id=account_id(actor),
        payload={
            "plugin": plugin,
            "workflow": definition.name,
            "instance_id": started.id,
            "subject": subject,
            "state": initial.name,
        },
    )
    record(
        session,
        actor=actor.label,
        action="workflow.start",
        target_type="workflow_instance",
        target_id=str(started.id),
        unit_code=code,
        after={"plugin": plugin, "workflow": definition.name, "state": initial.name},
    )
    return started


def _check_subject(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    plugin: str,
    definition: Workflow,
    subject: str | None,
) -> None:
    """422 for a bad subject; 409 when the workflow has an instance for it already, naming
    that instance only to an actor who may see it (its id is none of the others' business)."""
    if subject is None:
        return
    if not subject.strip() or len(subject) > MAX_SUBJECT or "\x00" in subject:
        raise WorkflowError(
            422, f"subject: 应为 1–{MAX_SUBJECT} 字的文本 / must be 1 to {MAX_SUBJECT} characters"
        )
    existing = session.exec(
        select(Row.id, Row.unit_code).where(
            col(Row.plugin) == plugin,
            col(Row.workflow) == definition.name,
            col(Row.subject) == subject,
        )
    ).first()
    if existing is None:
        return
    if not actor.role_allows(kernel.access, definition.read_permission, existing[1]):
        raise WorkflowError(409, _subject_taken(definition, subject))
    raise WorkflowError(
        409,
        f"subject: {subject} 已有{definition.title}实例 #{existing[0]} / "
        f"instance {existing[0]} exists for this subject",
    )


def _subject_taken(definition: Workflow, subject: str | None) -> str:
    return f"subject: {subject} 已有{definition.title}实例 / an instance exists for this subject"


def clean_inputs(transition: Transition, inputs: dict[str, Any]) -> dict[str, Any]:
    """The transition's inputs, checked: unknown names, missing required ones and bad values
    are refused with 422 naming ``inputs.<name>``. Empty optional inputs are left out."""
    unknown = sorted(name for name in inputs if transition.input(name) is None)
    if unknown:
        raise WorkflowError(
            422, f"inputs.{unknown[0]}: 「{transition.label}」没有此项输入 / unknown input"
        )
    cleaned: dict[str, Any] = {}
    for item in transition.inputs:
        try:
            value = item.clean(inputs.get(item.name))
        except InputError as exc:
            raise WorkflowError(422, f"inputs.{item.name}: {exc}") from None
        if value is not None:
            cleaned[item.name] = value
    return cleaned


def transition_workflow(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    instance_id: int,
    transition: str,
    version: int,
    inputs: dict[str, Any] | None = None,
    *,
    plugin: str | None = None,
    workflow: str | None = None,
    now: datetime | None = None,
    due_at: datetime | None = None,
) -> WorkflowInstance:
    """Take ``transition`` on an instance last seen at ``version``; return the instance after.

    Checks, in order: the actor sees the instance and its plugin is on there (404); the
    transition exists (404) and the actor may take it (403); ``version`` is current and the
    transition may be taken from the current state (409); the inputs (422 naming
    ``inputs.<name>``); an escalation has a unit above, where the plugin is on (422); then
    the plugins' ``workflow_guard`` (422 with the first refusal). Sets the deadline of the
    state entered (``due_at`` replaces it), writes a history row, the audit entry and a
    ``workflow.transitioned`` event; the caller commits.
    """
    moved, _ = apply_transition(
        session,
        kernel,
        actor,
        instance_id,
        transition,
        version,
        inputs,
        plugin=plugin,
        workflow=workflow,
        now=now,
        due_at=due_at,
    )
    return moved


def apply_transition(
    db: Session | Connection,
    kernel: Kernel,
    actor: Actor,
    instance_id: int,
    transition: str,
    version: int,
    inputs: dict[str, Any] | None = None,
    *,
    plugin: str | None = None,
    workflow: str | None = None,
    now: datetime | None = None,
    due_at: datetime | None = None,
    vouched: bool = False,
) -> tuple[WorkflowInstance, WorkflowStep]:
    """:func:`transition_workflow`, also returning the history entry it wrote (what the API
    answers with, so nothing written is read back).

    ``vouched``: the caller, a core service, has itself decided that ``actor`` may take this
    transition on this instance (the reporter of a ticket rating it, the deadline sweeper
    escalating it): the read and transition permissions are not checked; everything else is.

    ``db`` may also be a Connection in a transaction (the API's: no ORM session at all); its
    owner then calls :func:`core.events.wakeup.notify` after committing, as for
    :func:`core.events.outbox.emit`.
    """
    conn = db if isinstance(db, Connection) else db.connection()
    current = _visible(conn, kernel, actor, instance_id, plugin, workflow, everywhere=vouched)
    definition = workflow_definition(kernel, current.plugin, current.workflow)
    step = definition.transition(transition)
    if step is None:
        raise WorkflowError(
            404, f"transition: {definition.title}没有「{transition}」这一步 / no such transition"
        )
    if not vouched and not may_take(kernel, actor, step, current.unit_code):
        needed = " 或 ".join([*(p for p in [step.permission] if p), *step.roles])
        raise WorkflowError(
            403, f"没有权限执行「{step.label}」（需要 {needed}）/ not allowed: requires {needed}"
        )
    if version != current.version:
        raise _stale(current.version)
    if current.state not in step.sources:
        state = definition.state(current.state)
        raise WorkflowError(
            409,
            f"state: 当前状态「{state.label if state else current.state}」不能{step.label} / "
            f"{step.name!r} is not allowed from state {current.state!r}",
        )
    cleaned = clean_inputs(step, inputs or {})
    unit_code, township_code = _destination(conn, kernel, current, step)
    refusals = kernel.scope(current.township_code).hooks.workflow_guard(
        instance=current, transition=step.name, actor=actor, inputs=dict(cleaned)
    )
    refusal = next((r for r in refusals if r is not None), None)
    if refusal is not None:
        raise WorkflowError(422, str(refusal))
    now = now or kernel.workflows.clock()
    target = definition.state(step.target)
    assert target is not None  # checked at start-up
    deadline = step.deadline or target.deadline
    changes: dict[str, Any] = {"state": target.name, "version": version + 1, "updated_at": now}
    for name, value in (  # SET only what changes: fewer indexes to update
        ("closed", target.closed),
        ("due_at", None if target.closed else due_at or (deadline.due(now) if deadline else None)),
        ("unit_code", unit_code),
        ("township_code", township_code),
    ):
        if getattr(current, name) != value:
            changes[name] = value
    written = WorkflowStep(
        instance_id=current.id,
        version=version + 1,
        transition=step.name,
        from_state=current.state,
        to_state=target.name,
        unit_code=unit_code,
        actor=actor.label,
        inputs=cleaned,
        at=now,
    )
    values = {"instance_id": current.id, "seen": version}
    values.update((f"set_{name}", value) for name, value in changes.items())
    append = conn.dialect.name == "postgresql"
    if append:
        values.update((f"step_{name}", getattr(written, name)) for name in STEP[1:])
    if conn.execute(move_statement(tuple(changes), append), values).rowcount != 1:
        raise _stale(None)  # another transition committed since we read the row
    if not append:
        conn.execute(APPEND, {**vars(written)})
    emit(
        db,
        "workflow.transitioned",
        unit_code,
        subject=f"workflow_instance:{current.id}",
        actor_id=account_id(actor),
        payload={
            "plugin": current.plugin,
            "workflow": current.workflow,
            "instance_id": current.id,
            "subject": current.subject,
            "transition": step.name,
            "from_state": current.state,
            "to_state": target.name,
            "from_unit": current.unit_code,
            "unit_code": unit_code,
            "version": version + 1,
            "inputs": cleaned,
        },
    )
    record(
        db,
        actor=actor.label,
        action=f"workflow.{step.name}",
        target_type="workflow_instance",
        target_id=str(current.id),
        unit_code=unit_code,
        before={"state": current.state, "version": version, "unit_code": current.unit_code},
        after={"state": target.name, "version": version + 1, "unit_code": unit_code},
    )
    return replace(current, **changes), written


def _stale(current: int | None) -> WorkflowError:
    now = f"（当前版本 {current}）" if current is not None else ""
    return WorkflowError(
        409,
        f"version: 该流程已被他人更新{now}，请刷新后重试 / "
        "stale version: the instance changed, reload and retry",
    )


def _destination(
    conn: Connection, kernel: Kernel, instance: WorkflowInstance, step: Transition
) -> tuple[str, str]:
    """Where the instance is after ``step``: the same unit, or the one above when escalating."""
    if not step.escalate:
        return instance.unit_code, instance.township_code
    parent = parse_code(instance.unit_code).parent
    if parent is None or conn.execute(UNIT, {"code": parent}).first() is None:
        raise WorkflowError(
            422, f"transition: 单位 {instance.unit_code} 没有上级单位可上报 / no unit above"
        )
    scope = kernel.scope(parent)
    if instance.plugin not in scope.enabled:
        raise WorkflowError(
            422,
            f"transition: 上级单位 {scope.township.name} 未启用此插件，无法上报 / "
            f"plugin {instance.plugin!r} is off at the unit above",
        )
    return parent, scope.township.code
