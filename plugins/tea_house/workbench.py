"""民情茶馆 on the staff workbench (``/admin``): for whoever records issues at the sessions
(民情馆长, 馆员, and the staff who hold the same right), the next session under their unit
(its day, place and status) and the issues raised there that still await an answer or a
transfer, the longest waiting first; each opens the session's page, where both are done.

Read on the kernel's reserved event-loop connection (two short indexed statements, no ORM
objects, no threadpool hop), each built once per shape and given the actor's scope as bound
values (:func:`core.bound_scope_clause`); the pending issues are counted in SQL, not loaded."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Select, and_, bindparam, func, select
from sqlmodel import Session

from core import (
    Actor,
    Kernel,
    Level,
    Scope,
    ScopeUnit,
    WorkbenchItem,
    WorkbenchPanel,
    bound_scope_clause,
    list_units,
    scope_parameters,
    scope_ranges,
)

from .models import TeaHouseIssue, TeaHouseSession
from .service import KINDS, PLUGIN, READ, RECORD, STATUSES, UPCOMING, local_day, now_of

SHOWN = 6  # pending issues on the panel, after the next session
COUNT_LIMIT = 200  # pending issues read to count them ("200 个以上" past it)
BASE = "/p/tea_house"
SESSIONS = TeaHouseSession.__table__  # type: ignore[attr-defined]
ISSUES = TeaHouseIssue.__table__  # type: ignore[attr-defined]


@functools.cache
def statements(reading: int, enabled: bool, shown: int) -> tuple[Select[Any], Select[Any]]:
    """The next session and the pending issues, within :func:`service.visible`'s conditions
    as bound values: ``reading`` ranges of ``tea_house.read`` (:func:`core.bound_scope_clause`),
    the subtree ``:under_low``–``:under_high`` and, with ``enabled``, the townships ``:on``
    (:func:`service.enabled_filter`); at most ``shown`` issues."""
    s, i = SESSIONS, ISSUES

    def seen(table: Any) -> list[Any]:
        unit = table.c.unit_code
        conditions = [
            bound_scope_clause(unit, reading),
            and_(unit >= bindparam("under_low"), unit < bindparam("under_high")),
        ]
        if enabled:
            conditions.append(table.c.township_code.in_(bindparam("on", expanding=True)))
        return conditions

    following = (
        select(s.c.id, s.c.unit_code, s.c.kind, s.c.held_on, s.c.start_time, s.c.venue, s.c.status)
        .where(*seen(s), s.c.status.in_(UPCOMING))
        .order_by(s.c.held_on, s.c.id)
        .limit(1)
    )
    pending = (
        select(
            i.c.id,
            i.c.session_id,
            i.c.unit_code,
            i.c.category,
            i.c.summary,
            i.c.raised_at,
            func.count().over().label("total"),
        )
        .where(i.c.outcome == "pending", *seen(i))
        .order_by(i.c.raised_at, i.c.id)
        .limit(shown)
    )
    return following, pending


def enabled_townships(conn: Connection, kernel: Kernel, scope: Scope) -> list[str] | None:
    """:func:`service.enabled_filter`'s townships: for a county or city with the practice off
    in some of its townships, those where it is on; ``None`` otherwise (no filter)."""
    if scope.unit.level.depth >= Level.township.depth:
        return None
    with Session(bind=conn) as session:
        townships = list_units(session, scope.unit.code, level=Level.township)
    on = [u.code for u in townships if PLUGIN in kernel.scope(u.code).enabled]
    return None if len(on) == len(townships) else on


def load(conn: Connection, kernel: Kernel, actor: Actor, under: str) -> tuple[Any, list[Any], int]:
    """The next session under ``under`` (announced or being held, soonest first), the first
    :data:`SHOWN` issues awaiting an answer or a transfer there (the longest waiting first),
    and how many such issues there are, counted up to :data:`COUNT_LIMIT`. Two prebuilt Core
    statements in :func:`service.visible`'s scope, as the plugin's lists read them."""
    scope = kernel.scope(under)
    ranges = scope_ranges(actor, kernel.access, READ)
    on = enabled_townships(conn, kernel, scope)
    path = scope.unit.path
    upper = str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"
    values: dict[str, Any] = {**scope_parameters(ranges), "under_low": path, "under_high": upper}
    if on is not None:
        values["on"] = on
    following, pending = statements(len(ranges), on is not None, min(SHOWN, COUNT_LIMIT))
    upcoming = conn.execute(following, values).first()
    issues = conn.execute(pending, values).all()
    return upcoming, issues, min(issues[0].total, COUNT_LIMIT) if issues else 0


def session_item(row: Any, today: date) -> WorkbenchItem:
    """The next session: its day, time and place; its status, and a day gone by without
    opening said in words."""
    missed = row.status == "announced" and row.held_on < today
    return WorkbenchItem(
        label=f"{'本场' if row.status == 'held' else '下次'}沟通日 {row.held_on} "
        f"{row.start_time} · {row.venue}",
        href=f"{BASE}/sessions/{row.id}?unit={row.unit_code}",
        note=("沟通日已过，尚未开场 · " if missed else "")
        + f"{STATUSES[row.status]} · {KINDS[row.kind]}",
        urgent=missed,
    )


def issue_item(kernel: Kernel, issue: Any, today: date) -> WorkbenchItem:
    """An issue awaiting an answer or a transfer; one left past its session's day is late."""
    raised = local_day(kernel, issue.raised_at)
    late = raised < today
    return WorkbenchItem(
        label=f"{issue.summary}（{issue.category}）",
        href=f"{BASE}/sessions/{issue.session_id}?unit={issue.unit_code}",
        note=("已逾期：会后仍未答复或转办 · " if late else "待答复或转办 · ") + f"{raised} 登记",
        urgent=late,
    )


async def panels(township: ScopeUnit | None, request: Request) -> list[WorkbenchPanel] | None:
    """民情茶馆 for holders of ``tea_house.record``; ``None`` for anyone else."""
    kernel, actor = request.app.state.kernel, request.state.actor
    under = actor.home_unit or (township.code if township else None)
    if under is None or not actor.paths_with(kernel.access, RECORD):
        return None
    with kernel.loop_engine.connect() as conn:
        following, pending, count = load(conn, kernel, actor, under)
    today = local_day(kernel, now_of(kernel))
    items = [session_item(following, today)] if following else []
    items += [issue_item(kernel, issue, today) for issue in pending]
    return [
        WorkbenchPanel(
            title="民情茶馆",
            href=f"{BASE}/?unit={under}",
            count=count,
            count_label=("个以上" if count == COUNT_LIMIT else "个") + "问题待答复或转办",
            items=tuple(items),
            empty="尚未公告下次沟通日，也没有待答复的问题。",
            order=60,
        )
    ]
