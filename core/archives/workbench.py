"""The archive's panel on the staff workbench: 我的住户, the households the actor may read
counted by the care level (红/黄/绿) of their members, each count linking to the household
list filtered the same way (a household with members at two levels counts under both, as
the list's filter finds it under both)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from core.archives import service
from core.archives.care import LEVELS, ArchiveCareAssessment
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.hookspecs import hookimpl
from core.identity.access import AccessCatalog, Actor
from core.kernel import Kernel
from core.web.panels import WorkbenchItem, WorkbenchPanel


def households_by_level(
    session: Session, actor: Actor, catalog: AccessCatalog
) -> tuple[int, dict[str, int]]:
    """How many households ``actor`` may read, and how many of them have a member whose
    care level in force is each of :data:`LEVELS`."""
    visible = service.household_visible(actor, catalog)
    total = session.exec(select(func.count()).select_from(ArchiveHousehold).where(visible)).one()
    by_level = (
        select(
            col(ArchiveCareAssessment.level),
            func.count(func.distinct(col(ArchivePerson.household_id))),
        )
        .join(ArchivePerson, col(ArchivePerson.id) == col(ArchiveCareAssessment.person_id))
        .join(ArchiveHousehold, col(ArchiveHousehold.id) == col(ArchivePerson.household_id))
        .where(col(ArchiveCareAssessment.current).is_(True), visible)
        .group_by(col(ArchiveCareAssessment.level))
    )
    counts = {level: 0 for level in LEVELS}
    counts.update({level: int(n) for level, n in session.exec(by_level) if level in counts})
    return int(total), counts


def _count(kernel: Kernel, actor: Actor) -> tuple[int, dict[str, int]]:
    with Session(kernel.engine) as session:
        return households_by_level(session, actor, kernel.access)


@hookimpl
async def workbench_panels(township, request: Request) -> list[WorkbenchPanel] | None:  # type: ignore[no-untyped-def]
    """我的住户 for staff who may read the archive."""
    kernel, actor = request.app.state.kernel, request.state.actor
    if not actor.paths_with(kernel.access, service.READ):
        return None
    total, counts = await run_in_threadpool(_count, kernel, actor)
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
