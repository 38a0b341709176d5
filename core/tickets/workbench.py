"""The tickets' panel on the staff workbench: 我的待办, the open tickets the actor may read,
due soonest first with the overdue marked — the head of the inbox (``/tickets/inbox``).

One prebuilt Core statement on the kernel's reserved event-loop connection, with the actor's
scope as bound values (:func:`core.identity.access.bound_scope_clause`): the first
:data:`SHOWN` open tickets in the inbox's order, each row carrying how many are open and how
many of those are overdue (window counts over the same rows), through ``ix_ticket_inbox``.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from fastapi import Request
from sqlalchemy import Connection, Select, Table, and_, bindparam, case, func, or_, select

from core.hookspecs import hookimpl
from core.identity.access import Actor, bound_scope_clause, scope_parameters, scope_ranges
from core.kernel import Kernel
from core.tickets import lifecycle, views
from core.tickets.models import Ticket
from core.tickets.pages import when
from core.web.panels import WorkbenchItem, WorkbenchPanel

SHOWN = 8  # the head of the inbox
TICKETS = cast(Table, Ticket.__table__)


@functools.cache
def open_statement(ranges: int, own: bool) -> Select:  # type: ignore[type-arg]
    """The first :data:`SHOWN` open tickets within ``ranges`` scope ranges (with ``own``:
    or reported by the account ``:account_id``), due soonest first and those without a
    deadline last, as :func:`core.tickets.service.readable` and the inbox have them; each row
    with ``total``, how many are open, and ``late``, how many of those are past ``:now``."""
    t = TICKETS
    readable = bound_scope_clause(t.c.unit_code, ranges)
    if own:
        readable = or_(readable, t.c.reporter_account_id == bindparam("account_id"))
    late = and_(t.c.due_at.is_not(None), t.c.due_at < bindparam("now"))
    return (
        select(
            t.c.id,
            t.c.title,
            t.c.type,
            t.c.state,
            t.c.due_at,
            func.count().over().label("total"),
            func.count(case((late, 1))).over().label("late"),
        )
        .where(readable, t.c.state.not_in(views.CLOSED_STATES))
        .order_by(case((t.c.due_at.is_(None), 1), else_=0), t.c.due_at, t.c.id)
        .limit(SHOWN)
    )


def open_tickets(
    conn: Connection, kernel: Kernel, actor: Actor
) -> tuple[list[dict[str, Any]], int, int]:
    """The first :data:`SHOWN` open tickets as the inbox orders them, how many are open and
    how many of those are overdue."""
    now = kernel.workflows.clock()
    ranges = scope_ranges(actor, kernel.access, lifecycle.READ)
    own = actor.kind == "account"
    values: dict[str, Any] = {"now": now, **scope_parameters(ranges)}
    if own:
        values["account_id"] = actor.id
    found = conn.execute(open_statement(len(ranges), own), values).all()
    rows = [_row(kernel, ticket, now) for ticket in found]
    return rows, (found[0].total if found else 0), (found[0].late if found else 0)


def _row(kernel: Kernel, ticket: Any, now: datetime) -> dict[str, Any]:
    """What a panel line shows of an open ticket (the fields of :func:`views.summary`)."""
    return {
        "id": ticket.id,
        "title": ticket.title,
        "type_label": views.type_label(kernel, ticket.type),
        "state_label": views.state_label(ticket.state),
        "due_at": ticket.due_at,
        "overdue": ticket.due_at is not None and now > ticket.due_at,
    }


def item(row: dict[str, Any]) -> WorkbenchItem:
    due = row["due_at"]
    deadline = f"期限 {when(due)}" if due is not None else "无期限"
    overdue = "已超时 · " if row["overdue"] else ""
    return WorkbenchItem(
        label=f"{row['title']}（{row['type_label']}）",
        href=f"/tickets/{row['id']}",
        note=f"{overdue}{row['state_label']} · {deadline}",
        urgent=row["overdue"],
    )


@hookimpl
async def workbench_panels(township, request: Request) -> list[WorkbenchPanel] | None:  # type: ignore[no-untyped-def]
    """我的待办 for staff who may read tickets."""
    kernel, actor = request.app.state.kernel, request.state.actor
    if not actor.paths_with(kernel.access, lifecycle.READ):
        return None
    with kernel.loop_engine.connect() as conn:
        rows, total, late = open_tickets(conn, kernel, actor)
    return [
        WorkbenchPanel(
            title="我的待办",
            href="/tickets/inbox",
            count=total,
            count_label=f"件未办结，{late} 件超时" if late else "件未办结",
            items=tuple(item(row) for row in rows),
            empty="没有未办结的工单。",
            order=10,
        )
    ]
