"""Visit plans from the archive: who is due a visit in which period, who goes, who is late.

Run by the plugin's jobs (:mod:`.jobs`) for one township at a time, and by the demo. The
archive is read only through ``core``'s exports: the care level in force of each person
(``ArchiveCareAssessment``), special-group tags (``ArchivePersonTag`` and the catalog's
visit standards) and the county's thresholds. Each step is idempotent: a plan is unique per
person and period, an overdue plan is flagged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from core import (
    CARE_TAGS,
    ArchiveCareAssessment,
    ArchivePerson,
    ArchivePersonTag,
    Level,
    care_thresholds,
    emit,
    parse_code,
    utcnow,
)

from .models import Member, Plan, Team
from .schedule import OPEN, frequency_for, period_of
from .scoping import subtree

OVERDUE_EVENT = "knock_door.visit_overdue"


@dataclass(frozen=True)
class Target:
    """A person due visits: where, how often and why."""

    person_id: int
    household_id: int
    unit_code: str
    days: int  # the visit standard, in days
    basis: str  # level:red, tag:gugua …


def targets(session: Session, township_code: str) -> list[Target]:
    """Everyone in the township with a care level in force or a special-group tag, each with
    the most frequent visit standard that applies (a level wins a tie)."""
    thresholds = care_thresholds(session, township_code)
    in_township = subtree(col(ArchivePerson.unit_code), township_code)
    person = (col(ArchivePerson.id), col(ArchivePerson.household_id), ArchivePerson.unit_code)
    found: dict[int, Target] = {}

    def offer(pid: int, household: int, unit: str, days: int, basis: str) -> None:
        best = found.get(pid)
        if best is None or days < best.days:
            found[pid] = Target(pid, household, unit, days, basis)

    levels = select(*person, ArchiveCareAssessment.level).join(
        ArchiveCareAssessment, col(ArchiveCareAssessment.person_id) == ArchivePerson.id
    )
    for pid, household, unit, level in session.exec(
        levels.where(in_township, col(ArchiveCareAssessment.current))
    ):
        offer(pid, household, unit, getattr(thresholds, f"{level}_visit_days"), f"level:{level}")
    tags = select(*person, ArchivePersonTag.tag).join(
        ArchivePersonTag, col(ArchivePersonTag.person_id) == ArchivePerson.id
    )
    for pid, household, unit, tag in session.exec(tags.where(in_township)):
        if tag in CARE_TAGS:
            offer(pid, household, unit, CARE_TAGS[tag].visit_days, f"tag:{tag}")
    return sorted(found.values(), key=lambda t: t.person_id)


@dataclass(frozen=True)
class Roster:
    """The teams of a township and their members, for assigning plans."""

    teams: list[tuple[Team, list[str]]]  # (team, member usernames sorted)

    @classmethod
    def load(cls, session: Session, township_code: str) -> Roster:
        teams = session.exec(
            select(Team).where(subtree(col(Team.unit_code), township_code)).order_by(col(Team.id))
        ).all()
        members: dict[int, list[str]] = {}
        if teams:
            rows = session.exec(
                select(Member.team_id, Member.username)
                .where(col(Member.team_id).in_([t.id for t in teams]))
                .order_by(col(Member.username))
            )
            for team_id, username in rows:
                members.setdefault(team_id, []).append(username)
        return cls([(t, members.get(t.id or 0, [])) for t in teams])

    def assign(self, unit_code: str, person_id: int) -> tuple[int | None, str | None]:
        """The team covering ``unit_code`` most closely (a grid's before its village's) and
        the member who visits this person: always the same one while the team is unchanged
        (结对), spread evenly over the members."""
        covering = [
            (team, names)
            for team, names in self.teams
            if unit_code.startswith(parse_code(team.unit_code).path)
        ]
        if not covering:
            return None, None
        # the closest team (the longest path); of two at one unit, the older
        team, names = max(
            covering, key=lambda pair: (len(parse_code(pair[0].unit_code).path), -(pair[0].id or 0))
        )
        return team.id, (names[person_id % len(names)] if names else None)


def generate_plans(session: Session, township_code: str, day: date) -> int:
    """Create the plans of the periods containing ``day`` for the township's targets that
    have none yet; return how many were created (the caller commits). One multi-row insert
    (a township has thousands of targets: ORM objects cost more than the insert)."""
    wanted: dict[tuple[int, date], dict[str, Any]] = {}
    roster = Roster.load(session, township_code)
    now = utcnow()
    for target in targets(session, township_code):
        frequency = frequency_for(target.days)
        start, end = period_of(day, frequency)
        team_id, volunteer = roster.assign(target.unit_code, target.person_id)
        wanted[target.person_id, start] = {
            "person_id": target.person_id,
            "household_id": target.household_id,
            "unit_code": target.unit_code,
            "team_id": team_id,
            "volunteer": volunteer,
            "frequency": frequency,
            "basis": target.basis,
            "period_start": start,
            "due_on": end,
            "status": "planned",
            "created_at": now,
            "version": 1,
        }
    if not wanted:
        return 0
    starts = {start for _, start in wanted}
    existing = session.exec(
        select(Plan.person_id, Plan.period_start).where(
            subtree(col(Plan.unit_code), township_code), col(Plan.period_start).in_(starts)
        )
    )
    for key in existing:
        wanted.pop((key[0], key[1]), None)
    if wanted:
        session.execute(insert(Plan), list(wanted.values()))
    return len(wanted)


def assign_open(session: Session, unit_code: str) -> int:
    """Give the open plans under ``unit_code`` that have no volunteer yet to the team
    covering them now (after a team was formed or a member joined); return how many."""
    roster = Roster.load(session, parse_code(unit_code).ancestor_at(Level.township) or unit_code)
    unassigned = session.exec(
        select(Plan).where(
            subtree(col(Plan.unit_code), unit_code),
            col(Plan.status).in_(OPEN),
            col(Plan.volunteer).is_(None),
        )
    ).all()
    changed = 0
    for plan in unassigned:
        team_id, volunteer = roster.assign(plan.unit_code, plan.person_id)
        if (team_id, volunteer) != (plan.team_id, None):
            plan.team_id, plan.volunteer, plan.version = team_id, volunteer, plan.version + 1
            changed += 1
    session.flush()
    return changed


def flag_overdue(session: Session, township_code: str, today: date, now: datetime) -> list[int]:
    """Mark the township's plans whose period ended before ``today`` without a visit as
    overdue, each with a ``knock_door.visit_overdue`` event; return their ids (the caller
    commits). A plan visited meanwhile is left alone."""
    late = session.exec(
        select(Plan).where(
            subtree(col(Plan.unit_code), township_code),
            col(Plan.status) == "planned",
            col(Plan.due_on) < today,
        )
    ).all()
    flagged = []
    for plan in late:
        moved = session.execute(
            update(Plan)
            .where(col(Plan.id) == plan.id, col(Plan.status) == "planned")
            .values(status="overdue", overdue_at=now, version=Plan.version + 1)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue
        emit(
            session,
            OVERDUE_EVENT,
            plan.unit_code,
            subject=f"knock_door_plan:{plan.id}",
            payload={
                "plan_id": plan.id,
                "person_id": plan.person_id,
                "team_id": plan.team_id,
                "volunteer": plan.volunteer,
                "due_on": plan.due_on.isoformat(),
            },
        )
        flagged.append(plan.id)
    return flagged  # type: ignore[return-value]
