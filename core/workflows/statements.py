"""The statements of the workflows' hot path, built once and run with bound values.

Building a SQLAlchemy statement costs several times running an indexed one
(docs/benchmarks.md, "Authentication and scope"), so reading one instance and moving it use
these: the actor's scope is passed as values of :func:`core.bound_scope_clause`, and a
statement that depends on more than its values is cached per shape.
"""

from __future__ import annotations

import functools
from dataclasses import fields

from sqlalchemy import Executable, Select, bindparam, insert, select, update
from sqlmodel import col

from core.identity.access import bound_scope_clause
from core.units.models import Unit
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow
from core.workflows.spec import WorkflowInstance, WorkflowStep

INSTANCES = WorkflowInstanceRow.__table__  # type: ignore[attr-defined]
HISTORY = WorkflowHistoryRow.__table__  # type: ignore[attr-defined]
STEP = tuple(f.name for f in fields(WorkflowStep))  # a history row's columns, instance_id first

WHICH = select(INSTANCES.c.plugin, INSTANCES.c.workflow).where(
    INSTANCES.c.id == bindparam("instance_id")
)
"""Which workflow an instance (``:instance_id``) belongs to, unscoped: only to know whose
read permission to check; never shown."""

APPEND = insert(HISTORY)
"""A history row, values named as :class:`WorkflowStep`'s fields."""

START = insert(INSTANCES)
"""A new instance, values named as :class:`WorkflowInstance`'s fields but ``id``."""

UNIT = select(col(Unit.code)).where(col(Unit.code) == bindparam("code"))
"""Whether a unit (``:code``) exists."""


@functools.cache
def scoped_read(ranges: int) -> Select:  # type: ignore[type-arg]
    """One instance (``:instance_id``) of one workflow (``:plugin``, ``:workflow``), as the
    columns of :class:`WorkflowInstance` in order, within ``ranges`` scope ranges
    (``:scope_low_0``, ``:scope_high_0``, …)."""
    return select(*(INSTANCES.c[f.name] for f in fields(WorkflowInstance))).where(
        INSTANCES.c.id == bindparam("instance_id"),
        INSTANCES.c.plugin == bindparam("plugin"),
        INSTANCES.c.workflow == bindparam("workflow"),
        bound_scope_clause(INSTANCES.c.unit_code, ranges),
    )


@functools.cache
def move_statement(columns: tuple[str, ...], append: bool) -> Executable:
    """``UPDATE workflow_instance SET <columns> WHERE id = :instance_id AND version = :seen``
    (values ``:set_<column>``); its row count says whether ``:seen`` was still current.

    With ``append`` (PostgreSQL), one statement that also writes the history row (values
    ``:step_<field>`` of :class:`WorkflowStep`, the instance id taken from the updated row),
    a data-modifying ``WITH``: one round trip fewer. Its row count means the same: no row
    updated, none appended. SQLite has no data-modifying ``WITH``: there, :data:`APPEND`
    follows.
    """
    moved = (
        update(INSTANCES)
        .where(INSTANCES.c.id == bindparam("instance_id"), INSTANCES.c.version == bindparam("seen"))
        .values({name: bindparam(f"set_{name}") for name in columns})
    )
    if not append:
        return moved
    updated = moved.returning(INSTANCES.c.id).cte("moved")
    values = [bindparam(f"step_{name}", type_=HISTORY.c[name].type) for name in STEP[1:]]
    appended = insert(HISTORY).from_select(STEP, select(updated.c.id, *values))
    # SQLAlchemy keeps the row count of UPDATE and DELETE only, unless asked.
    return appended.execution_options(preserve_rowcount=True)
