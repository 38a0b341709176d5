"""敲门嫂 on the staff workbench (``/admin``): 本周走访, for whoever visits — the head of this
week's list (``/week``): the plans still to visit, overdue first and then by due day, each
opening its record form, and how many there are.

One Core statement on the kernel's reserved event-loop connection, no ORM objects: this
week's list as :func:`service.this_week` selects it (the same scope, :func:`plans_seen_by`,
and the same order), its first :data:`READ` rows, of which the open ones are counted in SQL
and the first :data:`SHOWN` open ones returned with the name and address to show.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy import Connection, Select, and_, case, func, or_, select
from sqlmodel import Session

from core import (
    Actor,
    ArchiveHousehold,
    ArchivePerson,
    Kernel,
    ScopeUnit,
    WorkbenchItem,
    WorkbenchPanel,
)

from .access import VISIT
from .models import Plan
from .schedule import FREQUENCIES, OPEN, week_of
from .scoping import enabled_under, plans_seen_by, subtree
from .service import today

SHOWN = 8  # plans on the panel; the full list is /week
READ = 500  # plans of the week's list counted ("500 户以上" past it)
BASE = "/p/knock_door"

PLANS = Plan.__table__  # type: ignore[attr-defined]
PERSONS = ArchivePerson.__table__  # type: ignore[attr-defined]
HOUSEHOLDS = ArchiveHousehold.__table__  # type: ignore[attr-defined]


def week_statement(
    conn: Connection, kernel: Kernel, actor: Actor, under: str, day: date
) -> Select[Any]:
    """This week's list under ``under`` (:func:`service.this_week`: the open plans whose
    period has begun by Sunday and those visited since Monday, overdue first, then by due
    day), cut at :data:`READ` plans; of those, the open ones first in the same order, at
    most :data:`SHOWN`, each row with ``listed`` (how many plans the cut list holds) and
    ``open`` (how many of them are open)."""
    p = PLANS
    monday, sunday = week_of(day)
    since = datetime.combine(monday, time(), tzinfo=ZoneInfo(kernel.settings.timezone))
    shown = or_(and_(p.c.status.in_(OPEN), p.c.period_start <= sunday), p.c.visited_at >= since)
    conditions = [plans_seen_by(kernel, actor), subtree(p.c.unit_code, under), shown]
    with Session(bind=conn) as session:  # a county's list: its townships where the plugin is on
        enabled = enabled_under(session, kernel, p.c.unit_code, under)
    if enabled is not None:
        conditions.append(enabled)
    week = (
        select(
            p.c.id,
            p.c.unit_code,
            p.c.frequency,
            p.c.due_on,
            p.c.status,
            PERSONS.c.name,
            HOUSEHOLDS.c.address,
        )
        .join_from(p, PERSONS, PERSONS.c.id == p.c.person_id)
        .join(HOUSEHOLDS, HOUSEHOLDS.c.id == p.c.household_id)
        .where(*conditions)
        .order_by(p.c.status != "overdue", p.c.due_on, p.c.id)
        .limit(READ)
        .subquery("week")
    )
    is_open = week.c.status.in_(OPEN)
    return (
        select(
            week,
            func.count().over().label("listed"),
            func.count(case((is_open, 1))).over().label("open"),
        )
        .order_by(~is_open, week.c.status != "overdue", week.c.due_on, week.c.id)
        .limit(SHOWN)
    )


def to_visit(
    conn: Connection, kernel: Kernel, actor: Actor, under: str, day: date
) -> tuple[int, bool, list[Any]]:
    """How many plans of this week's list are open, whether the list may hold more than
    :data:`READ` plans, and the first :data:`SHOWN` open ones."""
    rows = conn.execute(week_statement(conn, kernel, actor, under, day)).all()
    if not rows:
        return 0, False, []
    return rows[0].open, rows[0].listed == READ, [row for row in rows if row.status in OPEN]


def item(row: Any, day: date) -> WorkbenchItem:
    """One plan: whom to visit and where; late (flagged, or past its due day) said in words."""
    late = row.status == "overdue" or (row.status == "planned" and row.due_on < day)
    return WorkbenchItem(
        label=f"{row.name} · {row.address or '—'}",
        href=f"{BASE}/plans/{row.id}/record?unit={row.unit_code}",
        note=("已逾期 · " if late else "")
        + f"{FREQUENCIES[row.frequency]} · 应于 {row.due_on.isoformat()} 前",
        urgent=late,
    )


async def panels(township: ScopeUnit | None, request: Request) -> list[WorkbenchPanel] | None:
    """本周走访 for holders of ``knock_door.visit``; ``None`` for anyone else."""
    kernel, actor = request.app.state.kernel, request.state.actor
    under = actor.home_unit or (township.code if township else None)
    if under is None or not actor.paths_with(kernel.access, VISIT):
        return None
    day = today(kernel)
    with kernel.loop_engine.connect() as conn:
        count, more, rows = to_visit(conn, kernel, actor, under, day)
    return [
        WorkbenchPanel(
            title="本周走访",
            href=f"{BASE}/week?unit={under}",
            count=count,
            count_label="户以上待走访" if more else "户待走访",
            items=tuple(item(row, day) for row in rows),
            empty="本周走访已全部完成。",
            order=30,
        )
    ]
