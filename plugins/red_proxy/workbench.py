"""红色代办 on the staff workbench (``/admin``): 我的接单 for the party members who handle
orders, the head of ``/tasks`` (the open orders dispatched to them, due soonest first, the
overdue marked); 待派单 for the branch, the head of ``/board`` filtered to the orders still
waiting to be dispatched at their unit. Both read with :func:`service.list_orders`'
conditions (:func:`service.readable`, the townships where the practice is on), as those
pages do, and show each order as :func:`views.order_summary` does.

Each panel is one prebuilt Core statement on the kernel's reserved event-loop connection
(after :func:`service.enabled_only`'s read of the orders' townships, where it reads it), no
ORM objects, with the actor's scope as bound values (:func:`core.bound_scope_clause`): the
first :data:`COUNT_LIMIT` orders of the list, of which the overdue are counted in SQL and
the first :data:`SHOWN` returned. Statements are built once per shape and reused."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Select, and_, bindparam, case, false, func, or_, select

from core import (
    Actor,
    Kernel,
    Level,
    ScopeUnit,
    WorkbenchItem,
    WorkbenchPanel,
    bound_scope_clause,
    parse_code,
    scope_parameters,
    scope_ranges,
)

from . import service
from .access import DISPATCH, HANDLE, READ
from .models import Order
from .pages import when
from .views import mask_name
from .workflow import OPEN, PLUGIN, STATE_LABELS

SHOWN = 8  # orders on a panel; the full list is the page it links to
COUNT_LIMIT = 200  # orders read to count them ("200 件以上" past it)
BASE = "/p/red_proxy"
ORDERS = Order.__table__  # type: ignore[attr-defined]


@functools.cache
def conditions(reading: int, account: bool, assigned: bool) -> tuple[Any, ...]:
    """:func:`service.list_orders`' conditions for the panels, with the actor's values bound:
    :func:`service.readable` (``reading`` ranges of ``red_proxy.read``, and for an
    ``account`` its own orders, ``:name`` as requester or assignee); then the open orders
    dispatched to ``:name`` (``assigned``), or those at ``:under_low``–``:under_high`` and
    below awaiting dispatch."""
    o = ORDERS
    staff = bound_scope_clause(o.c.unit_code, reading)
    name = bindparam("name")
    readable = staff
    if account:
        own = or_(o.c.requester_account == name, o.c.assignee == name)
        readable = own if reading == 0 else or_(staff, own)
    if assigned:
        mine = o.c.assignee == name if account else false()
        return readable, mine, o.c.state.in_(OPEN)
    under = and_(o.c.unit_code >= bindparam("under_low"), o.c.unit_code < bindparam("under_high"))
    return readable, under, o.c.state == "ordered"


@functools.cache
def townships_statement(reading: int, account: bool, assigned: bool) -> Select[Any]:
    """The townships of the orders :func:`conditions` selects, as
    :func:`service.enabled_only` reads them."""
    where = conditions(reading, account, assigned)
    return select(ORDERS.c.township_code).where(*where).distinct()


@functools.cache
def head_statement(
    reading: int, account: bool, assigned: bool, off: bool, count_limit: int, shown: int
) -> Select[Any]:
    """The first ``count_limit`` orders :func:`conditions` selects (with ``off``: none of
    the townships ``:off``, where the practice is off), due soonest first, of which the
    first ``shown``, each row with ``listed`` (how many were read) and ``late`` (how many
    of those are due before ``:now``)."""
    o = ORDERS
    where = list(conditions(reading, account, assigned))
    if off:
        where.append(o.c.township_code.not_in(bindparam("off", expanding=True)))
    head = (
        select(
            o.c.id,
            o.c.item_name,
            o.c.unit_code,
            o.c.state,
            o.c.due_at,
            o.c.requester_name,
            o.c.requester_account,
            o.c.assignee,
        )
        .where(*where)
        .order_by(o.c.due_at, o.c.id)
        .limit(count_limit)
        .subquery("head")
    )
    return (
        select(
            head,
            func.count().over().label("listed"),
            func.count(case((head.c.due_at < bindparam("now"), 1))).over().label("late"),
        )
        .order_by(head.c.due_at, head.c.id)
        .limit(shown)
    )


def _orders(
    conn: Connection, kernel: Kernel, actor: Actor, under: str, *, assigned: bool
) -> tuple[list[dict[str, Any]], int, bool, int]:
    """The orders dispatched to ``actor`` still open (``assigned``), or those at ``under``
    and below awaiting dispatch, due soonest first, as :func:`service.list_orders` lists
    them: the first :data:`SHOWN` as list lines, how many of the first :data:`COUNT_LIMIT`
    there are, whether there may be more, and how many of those are overdue."""
    now = kernel.workflows.clock()
    ranges = scope_ranges(actor, kernel.access, READ)
    account = actor.kind == "account"
    path = parse_code(under).path
    upper = str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"
    values: dict[str, Any] = {
        **scope_parameters(ranges),
        "name": actor.name,
        "under_low": path,
        "under_high": upper,
        "now": now,
    }
    shape = (len(ranges), account, assigned)
    off: list[str] = []
    # a county's list, or orders dispatched anywhere: only townships where the practice is on
    if assigned or parse_code(under).level.depth < Level.township.depth:
        townships = conn.execute(townships_statement(*shape), values).scalars()
        off = [code for code in townships if PLUGIN not in kernel.scope(code).enabled]
        values["off"] = off
    statement = head_statement(*shape, bool(off), COUNT_LIMIT, SHOWN)
    found = conn.execute(statement, values).all()
    listed, late = (found[0].listed, found[0].late) if found else (0, 0)
    lines = [_line(kernel, actor, order, now) for order in found]
    return lines, listed, listed == COUNT_LIMIT, late


def _line(kernel: Kernel, actor: Actor, order: Any, now: Any) -> dict[str, Any]:
    """What a panel line shows of an order (the fields of :func:`views.order_summary`)."""
    reveal = service.reveals_requester(kernel, actor, order)
    return {
        "id": order.id,
        "item_name": order.item_name,
        "unit_code": order.unit_code,
        "state_label": STATE_LABELS.get(order.state, order.state),
        "due_at": order.due_at,
        "overdue": service.overdue(order, now),
        "requester_name": order.requester_name if reveal else mask_name(order.requester_name),
    }


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
    kernel: Kernel,
    found: tuple[list[dict[str, Any]], int, bool, int],
    waiting: str,
    **panel: Any,
) -> WorkbenchPanel:
    """A panel of the first :data:`SHOWN` orders of ``found``, with its counts."""
    rows, listed, more, late = found
    return WorkbenchPanel(
        count=listed,
        count_label=("件以上" if more else "件") + waiting + (f"，{late} 件已超期" if late else ""),
        items=tuple(_item(kernel, row) for row in rows),
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
    with kernel.loop_engine.connect() as conn:
        mine = _orders(conn, kernel, actor, under, assigned=True) if handles else None
        waiting = _orders(conn, kernel, actor, under, assigned=False) if dispatches else None
    if mine is not None:
        found.append(
            _panel(
                kernel,
                mine,
                "待办理",
                title="我的接单",
                href=f"{BASE}/tasks?unit={under}",
                empty="没有派给您的未办结代办单。",
            )
        )
    if waiting is not None:
        found.append(
            _panel(
                kernel,
                waiting,
                "待派单",
                title="待派单",
                href=f"{BASE}/board?unit={under}&state=ordered",
                empty="没有等待派单的代办单。",
            )
        )
    return found
