"""红色代办 on the staff workbench (``/admin``): 我的接单 for the party members who handle
orders, the head of ``/tasks`` (the open orders dispatched to them, due soonest first, the
overdue marked); 待派单 for the branch, the head of ``/board`` filtered to the orders still
waiting to be dispatched at their unit. Both read through :func:`service.list_orders`, as
those pages do, and show each order as :func:`views.order_summary` does."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core import Actor, Kernel, ScopeUnit, WorkbenchItem, WorkbenchPanel

from . import service, views
from .access import DISPATCH, HANDLE
from .pages import when

SHOWN = 8  # orders on a panel; the full list is the page it links to
COUNT_LIMIT = 200  # orders read to count them ("200 件以上" past it)
BASE = "/p/red_proxy"


def _orders(
    kernel: Kernel, actor: Actor, under: str, **filters: Any
) -> tuple[list[dict[str, Any]], bool]:
    """Up to :data:`COUNT_LIMIT` orders of :func:`service.list_orders` with ``filters``, as list
    lines, and whether there may be more."""
    now = kernel.workflows.clock()
    with Session(kernel.engine) as session:
        found = service.list_orders(session, kernel, actor, under, limit=COUNT_LIMIT, **filters)
        rows = [views.order_summary(kernel, actor, order, now) for order in found]
    return rows, len(rows) == COUNT_LIMIT


def _item(kernel: Kernel, row: dict[str, Any]) -> WorkbenchItem:
    """One order: what and for whom (the handler and the branch see the requester), where
    it stands and its deadline, the overdue marked in words."""
    due = f"期限 {when(row['due_at'], kernel)}" if row["due_at"] else "无期限"
    return WorkbenchItem(
        label=f"{row['item_name']} · {row['requester_name']}",
        href=f"{BASE}/orders/{row['id']}?unit={row['unit_code']}",
        note=("已超期 · " if row["overdue"] else "") + f"{row['state_label']} · {due}",
        urgent=row["overdue"],
    )


def _panel(
    kernel: Kernel, rows: list[dict[str, Any]], more: bool, waiting: str, **panel: Any
) -> WorkbenchPanel:
    """A panel of ``rows`` (the first :data:`SHOWN`), counting all of them and the overdue."""
    late = sum(1 for row in rows if row["overdue"])
    return WorkbenchPanel(
        count=len(rows),
        count_label=("件以上" if more else "件") + waiting + (f"，{late} 件已超期" if late else ""),
        items=tuple(_item(kernel, row) for row in rows[:SHOWN]),
        order=40,
        **panel,
    )


async def panels(township: ScopeUnit | None, request: Request) -> list[WorkbenchPanel] | None:
    """我的接单 for holders of ``red_proxy.handle``, 待派单 for holders of
    ``red_proxy.dispatch`` at their home unit; ``None`` for anyone else."""
    kernel, actor = request.app.state.kernel, request.state.actor
    under = actor.home_unit or (township.code if township else None)
    handles = bool(actor.paths_with(kernel.access, HANDLE))
    dispatches = under is not None and kernel.allowed(actor, DISPATCH, under)
    if under is None or not (handles or dispatches):
        return None
    found = []
    if handles:
        rows, more = await run_in_threadpool(
            _orders, kernel, actor, under, assigned=True, state="open"
        )
        found.append(
            _panel(
                kernel,
                rows,
                more,
                "待办理",
                title="我的接单",
                href=f"{BASE}/tasks?unit={under}",
                empty="没有派给您的未办结代办单。",
            )
        )
    if dispatches:
        rows, more = await run_in_threadpool(_orders, kernel, actor, under, state="ordered")
        found.append(
            _panel(
                kernel,
                rows,
                more,
                "待派单",
                title="待派单",
                href=f"{BASE}/board?unit={under}&state=ordered",
                empty="没有等待派单的代办单。",
            )
        )
    return found
