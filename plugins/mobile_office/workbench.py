"""民情直通车 on the staff workbench (``/admin``): 待处置来电, for the duty leader and the
operators — the calls at their township that have no outcome yet (待研判 or 已派车: the
calls that keep the day from closing, 日清日结), urgent first and then those waiting
longest, as the 研判看板 (``/board``) lists them; the urgent and the overdue say so."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core import Actor, Kernel, ScopeUnit, WorkbenchItem, WorkbenchPanel

from . import calls, views
from .access import DISPATCH, INTAKE
from .scoping import now_of
from .webforms import when
from .workflows import OPEN_CALL_STATES, RECEIVED

SHOWN = 8  # calls on the panel; the board lists them all
QUESTION = 30  # characters of the question shown
BASE = "/p/mobile_office"


def open_calls(kernel: Kernel, actor: Actor, under: str) -> tuple[list[dict[str, Any]], int, int]:
    """The first :data:`SHOWN` calls at ``under`` without an outcome, urgent first and then
    those waiting longest (the board's order for triage); how many there are, and how many
    of them wait for triage."""
    scope, now = kernel.scope(under), now_of(kernel)
    with Session(kernel.engine) as session:
        found = calls.list_calls(
            session, kernel, actor, scope, states=OPEN_CALL_STATES, urgent_first=True, limit=SHOWN
        )
        total = calls.count_calls(session, kernel, actor, scope, states=OPEN_CALL_STATES)
        waiting = calls.count_calls(session, kernel, actor, scope, states=(RECEIVED,))
    return [views.call_view(kernel, actor, call, now) for call in found], total, waiting


def item(kernel: Kernel, row: dict[str, Any], under: str) -> WorkbenchItem:
    """One call: who called about what; urgent and overdue said in words, then where it
    stands and when it came in."""
    urgent = row["urgency"] == "urgent"
    flags = [label for label, on in (("紧急", urgent), ("已超时", row["overdue"])) if on]
    question = row["question"]
    short = question if len(question) <= QUESTION else question[: QUESTION - 1] + "…"
    return WorkbenchItem(
        label=f"{row['caller_name']} · {row['category']}：{short}",
        href=f"{BASE}/calls/{row['id']}?unit={under}",
        note=" · ".join([*flags, row["state_label"], f"来电 {when(kernel)(row['received_at'])}"]),
        urgent=bool(flags),
    )


async def panels(township: ScopeUnit | None, request: Request) -> list[WorkbenchPanel] | None:
    """待处置来电 for whoever takes or triages calls (``mobile_office.intake`` or
    ``mobile_office.dispatch``); ``None`` for anyone else."""
    kernel, actor = request.app.state.kernel, request.state.actor
    under = actor.home_unit or (township.code if township else None)
    hotline = any(actor.paths_with(kernel.access, name) for name in (INTAKE, DISPATCH))
    if under is None or not hotline:
        return None
    rows, total, waiting = await run_in_threadpool(open_calls, kernel, actor, under)
    return [
        WorkbenchPanel(
            title="待处置来电",
            href=f"{BASE}/board?unit={under}",
            count=total,
            count_label=f"件未处置，{waiting} 件待研判" if waiting else "件未处置",
            items=tuple(item(kernel, row, under) for row in rows),
            empty="没有未处置的来电。",
            order=50,
        )
    ]
