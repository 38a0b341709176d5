"""The tickets' panel on the staff workbench: 我的待办, the open tickets the actor may read,
due soonest first with the overdue marked — the head of the inbox (``/tickets/inbox``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import case, func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.kernel import Kernel
from core.tickets import lifecycle, service, views
from core.tickets.models import Ticket
from core.tickets.pages import when
from core.web.panels import WorkbenchItem, WorkbenchPanel

SHOWN = 8  # the head of the inbox


def open_tickets(kernel: Kernel, actor: Actor) -> tuple[list[dict[str, Any]], int, int]:
    """The first :data:`SHOWN` open tickets as the inbox orders them, how many are open and
    how many of those are overdue."""
    now = kernel.workflows.clock()
    is_open = col(Ticket.state).not_in(views.CLOSED_STATES)
    where = (service.readable(kernel, actor), is_open)
    overdue = (col(Ticket.due_at).is_not(None)) & (col(Ticket.due_at) < now)
    first = (
        select(Ticket)
        .where(*where)
        .order_by(
            case((col(Ticket.due_at).is_(None), 1), else_=0), col(Ticket.due_at), col(Ticket.id)
        )
        .limit(SHOWN)
    )
    counts = select(func.count(), func.count(case((overdue, 1)))).where(*where)
    with Session(kernel.engine) as session:
        rows = [views.summary(kernel, ticket, now) for ticket in session.exec(first)]
        total, late = session.exec(counts).one()
    return rows, int(total), int(late)


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
    rows, total, late = await run_in_threadpool(open_tickets, kernel, actor)
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
