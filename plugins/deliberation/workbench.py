"""民主议事 on the staff workbench (``/admin``): 议事进行中, for those who run the process or
record votes, the matters of their units not yet decided (voting first, then the newest),
with :func:`matters.list_matters`' conditions (:func:`matters.readable`, the unit's subtree,
the open states) as the plugin's list page reads them.

One Core statement on the kernel's reserved event-loop connection, no ORM objects: the
newest :data:`COUNT_LIMIT` open matters, of which those being voted on are counted in SQL and
the first :data:`SHOWN` (voting first, then the newest) returned."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import Connection, case, func, select
from sqlmodel import Session

from core import Actor, Kernel, Level, ScopeUnit, WorkbenchItem, WorkbenchPanel, parse_code

from . import matters
from .access import MANAGE, RECORD, subtree
from .models import Matter
from .views import KINDS
from .workflows import OPEN_STATES, state_label

SHOWN = 8  # matters on the panel; the full list is the plugin's page
COUNT_LIMIT = 200  # matters read to count them ("200 项以上" past it)
BASE = "/p/deliberation"


MATTERS = Matter.__table__  # type: ignore[attr-defined]


def _open_matters(conn: Connection, kernel: Kernel, actor: Actor, under: str) -> list[Any]:
    """The first :data:`SHOWN` of the newest :data:`COUNT_LIMIT` open matters at ``under``
    that ``actor`` may read, those being voted on first; each row with ``listed`` (how many
    of them there are) and ``voting`` (how many are being voted on)."""
    m = MATTERS
    conditions: list[Any] = [
        matters.readable(kernel, actor),
        subtree(m.c.unit_code, matters.board_unit(under)),
        m.c.state.in_(OPEN_STATES),
    ]
    if parse_code(under).level.depth < Level.township.depth:  # a county's: where it is on
        with Session(bind=conn) as session:
            conditions = matters.enabled_only(session, kernel, conditions)
    newest = (
        select(m.c.id, m.c.kind, m.c.title, m.c.unit_code, m.c.state)
        .where(*conditions)
        .order_by(m.c.id.desc())
        .limit(COUNT_LIMIT)
        .subquery("newest")
    )
    voting = newest.c.state == "voting"
    return list(
        conn.execute(
            select(
                newest,
                func.count().over().label("listed"),
                func.count(case((voting, 1))).over().label("voting"),
            )
            .order_by(newest.c.state != "voting", newest.c.id.desc())
            .limit(SHOWN)
        )
    )


def _item(row: Any) -> WorkbenchItem:
    voting = row.state == "voting"
    return WorkbenchItem(
        label=f"{row.title}（{KINDS[row.kind]}）",
        href=f"{BASE}/matters/{row.id}?unit={row.unit_code}",
        note=("正在投票 · " if voting else "") + state_label(row.kind, row.state),
        urgent=False,
    )


async def panels(township: ScopeUnit | None, request: Request) -> list[WorkbenchPanel] | None:
    """议事进行中 for holders of ``deliberation.manage`` or ``deliberation.record``."""
    kernel, actor = request.app.state.kernel, request.state.actor
    under = actor.home_unit or (township.code if township else None)
    runs = any(actor.paths_with(kernel.access, p) for p in (MANAGE, RECORD))
    if under is None or not runs:
        return None
    with kernel.loop_engine.connect() as conn:
        rows = _open_matters(conn, kernel, actor, under)
    listed, voting = (rows[0].listed, rows[0].voting) if rows else (0, 0)
    more = listed == COUNT_LIMIT
    return [
        WorkbenchPanel(
            title="议事进行中",
            href=f"{BASE}/?unit={under}",
            count=listed,
            count_label=("项以上" if more else "项")
            + "未决"
            + (f"，{voting} 项正在投票" if voting else ""),
            items=tuple(_item(row) for row in rows),
            empty="没有进行中的议题。",
            order=70,
        )
    ]
