"""Teams (敲门嫂队伍) of a village or grid: form one, join one, leave or remove a member.

A cadre or team leader (``knock_door.manage``) forms a team at a village or grid of their
units; a 敲门嫂 (``knock_door.visit`` there) joins it herself, as leader if she holds the
leader role there. Joining hands her share of the team's unassigned open plans at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import Actor, Kernel, Level, Unit, parse_code

from .access import LEADER_ROLE, MANAGE, PLUGIN, VISIT
from .models import Member, Plan, Team
from .planning import assign_open
from .schedule import OPEN
from .scoping import enabled_under, subtree, teams_seen_by

TEAM_NOT_FOUND = "队伍不存在或不在您的范围内 / no such team in your scope"
UNIT_NOT_FOUND = "单位不存在或不在您的范围内 / no such unit in your scope"


@dataclass(frozen=True)
class TeamRow:
    """A team with its members and its open plans (overdue ones counted apart)."""

    team: Team
    unit_name: str
    members: list[Member]
    open_plans: int
    overdue_plans: int


def _team(session: Session, kernel: Kernel, actor: Actor, team_id: int) -> Team:
    team = session.exec(
        select(Team).where(col(Team.id) == team_id, teams_seen_by(kernel, actor))
    ).first()
    if team is None:
        raise HTTPException(404, TEAM_NOT_FOUND)
    kernel.require(PLUGIN, kernel.scope(team.unit_code))
    return team


def list_teams(session: Session, kernel: Kernel, actor: Actor, under: str) -> list[TeamRow]:
    """The teams under ``under`` that ``actor`` may see, with members and open plans."""
    query = (
        select(Team, Unit.name)
        .join(Unit, col(Unit.code) == Team.unit_code)
        .where(teams_seen_by(kernel, actor), subtree(col(Team.unit_code), under))
    )
    enabled = enabled_under(session, kernel, col(Team.unit_code), under)
    if enabled is not None:
        query = query.where(enabled)
    rows = list(session.exec(query.order_by(col(Team.unit_code), col(Team.id))))
    if not rows:
        return []
    ids = [team.id for team, _ in rows]
    members: dict[int, list[Member]] = {}
    for member in session.exec(
        select(Member).where(col(Member.team_id).in_(ids)).order_by(col(Member.username))
    ):
        members.setdefault(member.team_id, []).append(member)
    counts: dict[tuple[int, str], int] = {
        (team_id, status): n
        for team_id, status, n in session.exec(
            select(Plan.team_id, Plan.status, func.count())
            .where(col(Plan.team_id).in_(ids), col(Plan.status).in_(OPEN))
            .group_by(col(Plan.team_id), col(Plan.status))
        )
    }
    return [
        TeamRow(
            team,
            name,
            members.get(team.id or 0, []),
            counts.get((team.id or 0, "planned"), 0) + counts.get((team.id or 0, "overdue"), 0),
            counts.get((team.id or 0, "overdue"), 0),
        )
        for team, name in rows
    ]


def get_team(session: Session, kernel: Kernel, actor: Actor, team_id: int) -> TeamRow:
    """One team ``actor`` may see; else 404."""
    team = _team(session, kernel, actor, team_id)
    found = [
        row for row in list_teams(session, kernel, actor, team.unit_code) if row.team.id == team.id
    ]
    return found[0]


def create_team(kernel: Kernel, actor: Actor, unit_code: str, name: str) -> Team:
    """Form a team at a village or grid. 404 for a unit outside the actor's units (or where
    the plugin is off), 403 without ``knock_door.manage`` there, 422 for a unit of another
    level, 409 for a name the unit has already."""
    code = parse_code(unit_code).code
    with Session(kernel.engine, expire_on_commit=False) as session:
        if not actor.covers(code) or session.get(Unit, code) is None:
            raise HTTPException(404, UNIT_NOT_FOUND)
        kernel.require(PLUGIN, kernel.scope(code))
        if not kernel.allowed(actor, MANAGE, code):
            raise HTTPException(403, f"没有管理队伍的权限（需要 {MANAGE}）/ {MANAGE!r} required")
        if parse_code(code).level not in (Level.village, Level.grid):
            raise _invalid(
                "unit_code", "队伍应建在村社区或网格 / a team belongs to a village or grid"
            )
        team = Team(unit_code=code, name=name.strip(), created_by=actor.label)
        session.add(team)
        try:
            session.commit()
        except IntegrityError:
            raise HTTPException(
                409, f"name: 本单位已有队伍「{name}」/ the unit has this team"
            ) from None
        return team


def join_team(kernel: Kernel, actor: Actor, team_id: int) -> Member:
    """The actor joins the team (as its leader if it holds the leader role there) and takes
    its share of the team's unassigned open plans. 403 without ``knock_door.visit`` at the
    team's unit; joining twice returns the membership."""
    if actor.kind != "account":
        raise HTTPException(403, "只有个人账号可以加入队伍 / only a person's account can join")
    with Session(kernel.engine, expire_on_commit=False) as session:
        team = _team(session, kernel, actor, team_id)
        if not kernel.allowed(actor, VISIT, team.unit_code):
            raise HTTPException(403, f"没有入户走访权限（需要 {VISIT}）/ {VISIT!r} required")
        found = _member(session, team_id, actor.name)
        if found is not None:
            return found
        leads = any(
            held.role == LEADER_ROLE and team.unit_code.startswith(held.path)
            for held in actor.roles
        )
        member = Member(
            team_id=team_id,
            username=actor.name,
            display_name=actor.display_name or actor.name,
            role="leader" if leads else "volunteer",
        )
        session.add(member)
        try:
            session.flush()
        except IntegrityError:  # a concurrent join of the same account
            session.rollback()
            found = _member(session, team_id, actor.name)
            assert found is not None
            return found
        assign_open(session, team.unit_code)
        session.commit()
        return member


def remove_member(kernel: Kernel, actor: Actor, team_id: int, username: str) -> None:
    """Remove a member (the member herself, or a holder of ``knock_door.manage``); her open
    plans go back to unassigned, to be shared again. 404 for an unknown member."""
    with Session(kernel.engine) as session:
        team = _team(session, kernel, actor, team_id)
        if username != actor.name and not kernel.allowed(actor, MANAGE, team.unit_code):
            raise HTTPException(403, f"没有管理队伍的权限（需要 {MANAGE}）/ {MANAGE!r} required")
        gone = session.execute(
            delete(Member).where(col(Member.team_id) == team_id, col(Member.username) == username)
        )
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            raise HTTPException(404, "队员不存在 / no such member")
        for plan in session.exec(
            select(Plan).where(
                col(Plan.team_id) == team_id,
                col(Plan.volunteer) == username,
                col(Plan.status).in_(OPEN),
            )
        ):
            plan.volunteer, plan.version = None, plan.version + 1
        session.flush()
        assign_open(session, team.unit_code)
        session.commit()


def _member(session: Session, team_id: int, username: str) -> Member | None:
    return session.exec(
        select(Member).where(col(Member.team_id) == team_id, col(Member.username) == username)
    ).first()


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])
