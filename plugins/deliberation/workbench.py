"""民主议事 on the staff workbench (``/admin``): 议事进行中, for those who run the process or
record votes, the matters of their units not yet decided (voting first, then the newest),
read through :func:`matters.list_matters` as the plugin's list page does."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core import Actor, Kernel, ScopeUnit, WorkbenchItem, WorkbenchPanel

from . import matters, views
from .access import MANAGE, RECORD

SHOWN = 8  # matters on the panel; the full list is the plugin's page
COUNT_LIMIT = 200  # matters read to count them ("200 项以上" past it)
BASE = "/p/deliberation"


def _open_matters(kernel: Kernel, actor: Actor, under: str) -> list[dict[str, Any]]:
    with Session(kernel.engine) as session:
        found = matters.list_matters(session, kernel, actor, under, state="open", limit=COUNT_LIMIT)
        return [views.matter_summary(kernel, matter) for matter in found]


def _item(row: dict[str, Any]) -> WorkbenchItem:
    voting = row["state"] == "voting"
    return WorkbenchItem(
        label=f"{row['title']}（{row['kind_label']}）",
        href=f"{BASE}/matters/{row['id']}?unit={row['unit_code']}",
        note=("正在投票 · " if voting else "") + row["state_label"],
        urgent=False,
    )


async def panels(township: ScopeUnit | None, request: Request) -> list[WorkbenchPanel] | None:
    """议事进行中 for holders of ``deliberation.manage`` or ``deliberation.record``."""
    kernel, actor = request.app.state.kernel, request.state.actor
    under = actor.home_unit or (township.code if township else None)
    runs = any(actor.paths_with(kernel.access, p) for p in (MANAGE, RECORD))
    if under is None or not runs:
        return None
    rows = await run_in_threadpool(_open_matters, kernel, actor, under)
    rows.sort(key=lambda row: row["state"] != "voting")  # stable: newest first within
    voting = sum(1 for row in rows if row["state"] == "voting")
    more = len(rows) == COUNT_LIMIT
    return [
        WorkbenchPanel(
            title="议事进行中",
            href=f"{BASE}/?unit={under}",
            count=len(rows),
            count_label=("项以上" if more else "项")
            + "未决"
            + (f"，{voting} 项正在投票" if voting else ""),
            items=tuple(_item(row) for row in rows[:SHOWN]),
            empty="没有进行中的议题。",
            order=70,
        )
    ]
