"""Scope in every query: unit subtrees as code ranges, and who may see which rows.

A plan is seen by holders of ``knock_door.read`` at its unit, and by a 敲门嫂 holding
``knock_door.visit`` there only when it is assigned to her (domain.md §1.2: no archive read
beyond the assigned households). A visit is seen with ``knock_door.read``, or by whoever
recorded it. A team is seen where the actor holds either permission.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from core import Actor, Kernel, Level, Unit, parse_code, scope_clause

from .access import PLUGIN, READ, VISIT
from .models import Plan, Team, Visit


def subtree(column: ColumnElement[str], unit_code: str) -> ColumnElement[bool]:
    """``column`` holds a unit at or below ``unit_code``: a range on the indexed codes."""
    path = parse_code(unit_code).path
    upper = path[:-1] + chr(ord(path[-1]) + 1)
    return and_(column >= path, column < upper)


def plans_seen_by(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """The plans ``actor`` may see (see the module's docstring)."""
    unit = col(Plan.unit_code)
    own = and_(scope_clause(actor, kernel.access, VISIT, unit), col(Plan.volunteer) == actor.name)
    return or_(scope_clause(actor, kernel.access, READ, unit), own)


def visits_seen_by(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """The visits ``actor`` may see: in its ``knock_door.read`` scope, or its own."""
    reader = scope_clause(actor, kernel.access, READ, col(Visit.unit_code))
    return or_(reader, col(Visit.visitor) == actor.label)


def teams_seen_by(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """The teams ``actor`` may see: in its ``knock_door.read`` or ``knock_door.visit`` scope."""
    unit = col(Team.unit_code)
    return or_(
        scope_clause(actor, kernel.access, READ, unit),
        scope_clause(actor, kernel.access, VISIT, unit),
    )


def enabled_under(
    session: Session, kernel: Kernel, column: ColumnElement[str], unit_code: str
) -> ColumnElement[bool] | None:
    """For a county or city: ``column`` lies in one of its townships where the plugin is on
    (a county-wide list leaves the others out). ``None`` at a township or below, whose own
    township the route's guard has checked already."""
    unit = parse_code(unit_code)
    if unit.level.depth >= Level.township.depth:
        return None
    townships = session.exec(
        select(Unit.code).where(
            col(Unit.level) == Level.township, subtree(col(Unit.code), unit_code)
        )
    ).all()
    on = [code for code in townships if PLUGIN in kernel.scope(code).enabled]
    return or_(*(subtree(column, code) for code in on)) if on else false()
