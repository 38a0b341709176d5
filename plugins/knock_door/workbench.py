"""敲门嫂 on the staff workbench (``/admin``): 本周走访, for whoever visits — the head of this
week's list (``/week``): the plans still to visit, overdue first and then by due day, each
opening its record form, and how many there are.

One prebuilt Core statement on the kernel's reserved event-loop connection, no ORM objects:
this week's list as :func:`service.this_week` selects it (the same order, and the scope of
:func:`plans_seen_by` with the actor's ranges as bound values, :func:`core.bound_scope_clause`),
its first :data:`READ` rows, of which the open ones are counted in SQL and the first
:data:`SHOWN` open ones returned with the name and address to show. The statement is built
once per shape (how many ranges of each kind, the limits) and reused.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)

from core import (
    Actor,
    ArchiveHousehold,
    ArchivePerson,
    Kernel,
    Level,
    ScopeUnit,
    Unit,
    WorkbenchItem,
    WorkbenchPanel,
    bound_scope_clause,
    parse_code,
    scope_parameters,
    scope_ranges,
)

from .access import PLUGIN, VISIT
from .access import READ as READ_PERMISSION
from .models import Plan
from .schedule import FREQUENCIES, OPEN, week_of
from .service import today

SHOWN = 8  # plans on the panel; the full list is /week
READ = 500  # plans of the week's list counted ("500 户以上" past it)
BASE = "/p/knock_door"

PLANS = Plan.__table__  # type: ignore[attr-defined]
PERSONS = ArchivePerson.__table__  # type: ignore[attr-defined]
HOUSEHOLDS = ArchiveHousehold.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]


def bounds(unit_code: str) -> tuple[str, str]:
    """The code range of ``unit_code``'s subtree, as :func:`scoping.subtree` has it."""
    path = parse_code(unit_code).path
    return path, path[:-1] + chr(ord(path[-1]) + 1)


@functools.cache
def week_statement(
    reading: int, visiting: int, townships: int | None, read: int, shown: int
) -> Select[Any]:
    """This week's list under ``:under_low``–``:under_high`` (:func:`service.this_week`:
    the open plans whose period has begun by ``:sunday`` and those visited since ``:since``,
    overdue first, then by due day), within :func:`plans_seen_by`'s scope — ``reading``
    ranges of ``knock_door.read``, or ``visiting`` ranges of ``knock_door.visit`` for the
    plans of the volunteer ``:volunteer`` — and, unless ``townships`` is ``None``, within
    that many township ranges (:func:`scoping.enabled_under`); cut at ``read`` plans; of
    those, the open ones first in the same order, at most ``shown``, each row with
    ``listed`` (how many plans the cut list holds) and ``open`` (how many of them are open)."""
    p = PLANS
    own = and_(
        bound_scope_clause(p.c.unit_code, visiting, "visit"),
        p.c.volunteer == bindparam("volunteer"),
    )
    seen = or_(bound_scope_clause(p.c.unit_code, reading), own)
    under = and_(p.c.unit_code >= bindparam("under_low"), p.c.unit_code < bindparam("under_high"))
    this_week = or_(
        and_(p.c.status.in_(OPEN), p.c.period_start <= bindparam("sunday")),
        p.c.visited_at >= bindparam("since"),
    )
    conditions = [seen, under, this_week]
    if townships is not None:
        conditions.append(bound_scope_clause(p.c.unit_code, townships, "township"))
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
        .limit(read)
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
        .limit(shown)
    )


@functools.cache
def townships_statement() -> Select[Any]:
    """The townships under ``:under_low``–``:under_high``, as :func:`scoping.enabled_under`
    reads them."""
    u = UNITS
    return select(u.c.code).where(
        u.c.level == Level.township,
        u.c.code >= bindparam("under_low"),
        u.c.code < bindparam("under_high"),
    )


def enabled_ranges(conn: Connection, kernel: Kernel, under: str) -> list[tuple[str, str]] | None:
    """:func:`scoping.enabled_under`'s ranges: for a county or city, those of its townships
    where the plugin is on; ``None`` at a township or below."""
    if parse_code(under).level.depth >= Level.township.depth:
        return None
    low, high = bounds(under)
    codes = conn.execute(townships_statement(), {"under_low": low, "under_high": high}).scalars()
    return [bounds(code) for code in codes if PLUGIN in kernel.scope(code).enabled]


def to_visit(
    conn: Connection, kernel: Kernel, actor: Actor, under: str, day: date
) -> tuple[int, bool, list[Any]]:
    """How many plans of this week's list are open, whether the list may hold more than
    :data:`READ` plans, and the first :data:`SHOWN` open ones."""
    monday, sunday = week_of(day)
    reading = scope_ranges(actor, kernel.access, READ_PERMISSION)
    visiting = scope_ranges(actor, kernel.access, VISIT)
    townships = enabled_ranges(conn, kernel, under)
    low, high = bounds(under)
    values: dict[str, Any] = {
        **scope_parameters(reading),
        **scope_parameters(visiting, "visit"),
        **scope_parameters(townships or [], "township"),
        "volunteer": actor.name,
        "under_low": low,
        "under_high": high,
        "sunday": sunday,
        "since": datetime.combine(monday, time(), tzinfo=ZoneInfo(kernel.settings.timezone)),
    }
    statement = week_statement(
        len(reading),
        len(visiting),
        None if townships is None else len(townships),
        READ,
        SHOWN,
    )
    rows = conn.execute(statement, values).all()
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
