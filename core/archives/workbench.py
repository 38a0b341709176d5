"""The archive's panel on the staff workbench: 我的住户, the households the actor may read
counted by the care level (红/黄/绿) of their members, each count linking to the household
list filtered the same way (a household with members at two levels counts under both, as
the list's filter finds it under both).

The counts are one prebuilt Core statement with the actor's scope as bound values
(:func:`core.identity.access.bound_scope_clause`, as the village book's): the households in
scope, then, per level, the distinct households of the members whose level in force it is,
reached from those households through the indexed ``household_id`` and ``person_id`` (never
by scanning every assessment). An actor whose scope lies at villages and grids reads it on
the kernel's reserved event-loop connection, a few hundred households at most; a wider scope
(a township, a county) reads in a threadpool thread, so as not to hold up the loop.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from fastapi import Request
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Table,
    bindparam,
    func,
    null,
    or_,
    select,
    union_all,
)
from starlette.concurrency import run_in_threadpool

from core.archives import service
from core.archives.care import LEVELS, ArchiveCareAssessment
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.archives.village_book import in_force
from core.hookspecs import hookimpl
from core.identity.access import (
    AccessCatalog,
    Actor,
    bound_scope_clause,
    scope_parameters,
    scope_ranges,
)
from core.kernel import Kernel
from core.units.codes import PATH_LENGTH, Level
from core.web.panels import WorkbenchItem, WorkbenchPanel

HOUSEHOLDS = cast(Table, ArchiveHousehold.__table__)
PERSONS = cast(Table, ArchivePerson.__table__)
ASSESSMENTS = cast(Table, ArchiveCareAssessment.__table__)
ON_LOOP = PATH_LENGTH[Level.village]  # scopes this narrow are read on the event loop


@functools.cache
def counts_statement(ranges: int, own: bool) -> CompoundSelect:
    """How many households lie within ``ranges`` scope ranges (with ``own``: or are the
    household of the person ``:person_id``), as a row whose level is ``NULL``; then one row
    per care level: how many of those households have a member whose level in force it is.
    The same households :func:`service.household_visible` lets the actor read."""
    h = HOUSEHOLDS
    visible = bound_scope_clause(h.c.unit_code, ranges)
    if own:
        household = select(PERSONS.c.household_id).where(PERSONS.c.id == bindparam("person_id"))
        visible = or_(visible, h.c.id == household.scalar_subquery())
    total = select(null().label("level"), func.count().label("households")).where(visible)
    members = PERSONS.join(ASSESSMENTS, ASSESSMENTS.c.person_id == PERSONS.c.id)
    by_level = (
        select(ASSESSMENTS.c.level, func.count(PERSONS.c.household_id.distinct()))
        .select_from(members)
        .where(PERSONS.c.household_id.in_(select(h.c.id).where(visible)), in_force(ASSESSMENTS))
        .group_by(ASSESSMENTS.c.level)
    )
    return union_all(total, by_level)


def _values(actor: Actor, catalog: AccessCatalog) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    ranges = scope_ranges(actor, catalog, service.READ)
    values: dict[str, Any] = scope_parameters(ranges)
    if actor.person_id is not None:
        values["person_id"] = actor.person_id
    return ranges, values


def households_by_level(
    conn: Connection, actor: Actor, catalog: AccessCatalog
) -> tuple[int, dict[str, int]]:
    """How many households ``actor`` may read, and how many of them have a member whose
    care level in force is each of :data:`LEVELS`."""
    ranges, values = _values(actor, catalog)
    statement = counts_statement(len(ranges), actor.person_id is not None)
    total, counts = 0, {level: 0 for level in LEVELS}
    for level, n in conn.execute(statement, values):
        if level is None:
            total = int(n)
        elif level in counts:
            counts[level] = int(n)
    return total, counts


def reads_on_loop(actor: Actor, catalog: AccessCatalog) -> bool:
    """Whether ``actor``'s archive scope is villages and grids only: a read short enough for
    the event loop."""
    return all(len(low) >= ON_LOOP for low, _ in scope_ranges(actor, catalog, service.READ))


def _count(kernel: Kernel, actor: Actor) -> tuple[int, dict[str, int]]:
    with kernel.engine.connect() as conn:
        return households_by_level(conn, actor, kernel.access)


async def count_households(kernel: Kernel, actor: Actor) -> tuple[int, dict[str, int]]:
    """:func:`households_by_level`, on the event loop's connection for a narrow scope, else
    in a threadpool thread."""
    if reads_on_loop(actor, kernel.access):
        with kernel.loop_engine.connect() as conn:
            return households_by_level(conn, actor, kernel.access)
    return await run_in_threadpool(_count, kernel, actor)


@hookimpl(tryfirst=True)  # first: a wide scope's thread then reads while the others run
async def workbench_panels(township, request: Request) -> list[WorkbenchPanel] | None:  # type: ignore[no-untyped-def]
    """我的住户 for staff who may read the archive. Called first, so that a read in a thread
    starts before the panels reading on the event loop run (in call order, each to its end)."""
    kernel, actor = request.app.state.kernel, request.state.actor
    if not actor.paths_with(kernel.access, service.READ):
        return None
    total, counts = await count_households(kernel, actor)
    items = [
        WorkbenchItem(
            label=f"{label} · {counts[level]} 户",
            href=f"/archives/households?level={level}",
            note="重点关注" if level == "red" and counts[level] else "",
            urgent=level == "red" and counts[level] > 0,
        )
        for level, label in LEVELS.items()
    ]
    items.append(WorkbenchItem(label="一村一册（可打印 PDF）", href="/archives/village-book"))
    return [
        WorkbenchPanel(
            title="我的住户",
            href="/archives/households",
            count=total,
            count_label="户",
            items=tuple(items),
            order=20,
        )
    ]
