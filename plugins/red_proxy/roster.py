"""The 代办员名册: which party members a branch may dispatch orders to.

A party member holding 党员代办员 or 支部书记 signs on (上岗) at the unit where they hold it,
with a service phone residents may call, and signs off (下岗) when away, so that the branch
dispatches to someone available (the AB岗 of 泾县, domain.md §3.4). Roles say what a member
*may* do; the roster says who is on duty. An order at a unit may go to any member on duty at
that unit or above it.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from core import Actor, parse_code, utcnow

from .access import HANDLER_ROLES, subtree
from .errors import ProxyError, invalid
from .models import Agent


def handler_units(actor: Actor, township_code: str) -> list[str]:
    """The units within ``township_code`` where ``actor`` holds a handler role."""
    path = parse_code(township_code).path
    return [
        held.unit_code
        for held in actor.roles
        if held.role in HANDLER_ROLES and held.unit_code.startswith(path)
    ]


def sign(
    session: Session,
    actor: Actor,
    township_code: str,
    *,
    on_duty: bool,
    phone: str | None = None,
) -> list[Agent]:
    """上岗 (``on_duty``) or 下岗 at every unit of the township where ``actor`` holds a
    handler role (403 where it holds none); the phone, when given, is kept. The caller
    commits."""
    units = handler_units(actor, township_code)
    if actor.kind != "account" or not units:
        raise ProxyError(403, "只有党员代办员或支部书记可以上岗 / a handler role is required")
    if phone is not None and not (phone.isascii() and phone.isdigit() and 7 <= len(phone) <= 20):
        raise invalid("phone", "电话号码应为 7–20 位数字 / 7 to 20 digits")
    now = utcnow()
    rows = []
    for unit_code in units:
        row = session.exec(
            select(Agent).where(
                col(Agent.username) == actor.name, col(Agent.unit_code) == unit_code
            )
        ).first()
        if row is None:
            row = Agent(username=actor.name, unit_code=unit_code, display_name="", joined_at=now)
        row.display_name = actor.display_name or actor.name
        row.on_duty = on_duty
        row.phone = phone if phone is not None else row.phone
        row.updated_at = now
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def covering(session: Session, unit_code: str, *, on_duty_only: bool = True) -> list[Agent]:
    """Members signed on at ``unit_code`` or a unit above it, by name."""
    query = select(Agent).where(col(Agent.unit_code).in_(parse_code(unit_code).ancestors()))
    if on_duty_only:
        query = query.where(col(Agent.on_duty).is_(True))
    return list(session.exec(query.order_by(col(Agent.username), col(Agent.unit_code))))


def in_township(session: Session, township_code: str) -> list[Agent]:
    """The whole roster of a township (on and off duty), by unit and name."""
    query = select(Agent).where(subtree(col(Agent.unit_code), township_code))
    return list(session.exec(query.order_by(col(Agent.unit_code), col(Agent.username))))


def agent_view(agent: Agent) -> dict[str, object]:
    """A roster entry as the API and pages show it (the service phone is public)."""
    return {
        "username": agent.username,
        "display_name": agent.display_name,
        "unit_code": agent.unit_code,
        "phone": agent.phone,
        "on_duty": agent.on_duty,
    }
