"""民情茶馆 on the staff workbench (``/admin``): for whoever records issues at the sessions
(民情馆长, 馆员, and the staff who hold the same right), the next session under their unit
(its day, place and status) and the issues raised there that still await an answer or a
transfer, the longest waiting first; each opens the session's page, where both are done."""

from __future__ import annotations

from datetime import date

from fastapi import Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core import Actor, Kernel, ScopeUnit, WorkbenchItem, WorkbenchPanel

from . import issues, sessions
from .models import TeaHouseIssue, TeaHouseSession
from .service import KINDS, RECORD, STATUSES, local_day, now_of

SHOWN = 6  # pending issues on the panel, after the next session
COUNT_LIMIT = 200  # pending issues read to count them ("200 个以上" past it)
BASE = "/p/tea_house"


def load(
    kernel: Kernel, actor: Actor, under: str
) -> tuple[TeaHouseSession | None, list[TeaHouseIssue]]:
    """The next session under ``under`` (announced or being held, soonest first) and up to
    :data:`COUNT_LIMIT` issues awaiting an answer or a transfer there."""
    scope = kernel.scope(under)
    with Session(kernel.engine) as session:
        following = sessions.list_sessions(session, kernel, actor, scope, upcoming=True, limit=1)
        pending = issues.pending_issues(session, kernel, actor, scope, limit=COUNT_LIMIT)
    return (following[0] if following else None), pending


def session_item(row: TeaHouseSession, today: date) -> WorkbenchItem:
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


def issue_item(kernel: Kernel, issue: TeaHouseIssue, today: date) -> WorkbenchItem:
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
    following, pending = await run_in_threadpool(load, kernel, actor, under)
    today = local_day(kernel, now_of(kernel))
    items = [session_item(following, today)] if following else []
    items += [issue_item(kernel, issue, today) for issue in pending[:SHOWN]]
    return [
        WorkbenchPanel(
            title="民情茶馆",
            href=f"{BASE}/?unit={under}",
            count=len(pending),
            count_label=("个以上" if len(pending) == COUNT_LIMIT else "个") + "问题待答复或转办",
            items=tuple(items),
            empty="尚未公告下次沟通日，也没有待答复的问题。",
            order=60,
        )
    ]
