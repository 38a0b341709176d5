"""Where and when: the actor's scope in every query, the townships where the plugin is on,
and local days (a ledger's day is a day in ``SANMIN_TIMEZONE``, Beijing time by default)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_
from sqlmodel import Session, col, select

from core import Actor, Kernel, Level, Scope, list_units, parse_code, scope_clause

from .access import PLUGIN, READ
from .errors import Refusal

LOCAL_LEVELS = (Level.township, Level.village, Level.grid)


def now_of(kernel: Kernel) -> datetime:
    """The current moment as the workflows see it (tests fix this clock)."""
    return kernel.workflows.clock()


def zone_of(kernel: Kernel) -> ZoneInfo:
    """The installation's time zone (``SANMIN_TIMEZONE``)."""
    return ZoneInfo(kernel.settings.timezone)


def local_day(kernel: Kernel, moment: datetime) -> date:
    """The local day a moment falls on."""
    return moment.astimezone(zone_of(kernel)).date()


def day_bounds(kernel: Kernel, day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a local day, as aware moments."""
    zone = zone_of(kernel)
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


def end_of_day(kernel: Kernel, day: date) -> datetime:
    """24:00 of a local day: when a promise for that day falls due."""
    return day_bounds(kernel, day)[1]


def as_local(kernel: Kernel, moment: datetime) -> datetime:
    """A moment given without a zone is local time; one with a zone is kept."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone_of(kernel))


def township_of(unit_code: str) -> str | None:
    """The township a unit lies in (the unit itself when it is a township); ``None`` for a
    county, a city or a province."""
    return parse_code(unit_code).ancestor_at(Level.township)


def request_township(scope: Scope) -> str:
    """The township of the request's unit: calls, trips and ledgers belong to one (422
    naming ``unit`` at a county or above)."""
    township = township_of(scope.unit.code)
    if township is None:
        raise Refusal(
            422, "请在乡镇或其村社办理（来电、出车和台账属于乡镇）/ choose a township", "unit"
        )
    return township


def upper_bound(path: str) -> str:
    """The smallest digit string after every string starting with ``path``."""
    return str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"


def within(column: Any, unit_code: str) -> ColumnElement[bool]:
    """SQL: the unit code in ``column`` lies in the subtree of ``unit_code`` (a code range)."""
    path = parse_code(unit_code).path
    return and_(column >= path, column < upper_bound(path))


def readable(kernel: Kernel, actor: Actor, column: Any) -> ColumnElement[bool]:
    """SQL: the row's unit lies where ``actor`` may read the plugin's records."""
    return scope_clause(actor, kernel.access, READ, column)


def enabled_at(kernel: Kernel, township_code: str) -> bool:
    """Whether the plugin is on in a township."""
    return PLUGIN in kernel.scope(township_code).enabled


def readable_row(
    session: Session, kernel: Kernel, actor: Actor, model: Any, row_id: int, not_found: str
) -> Any:
    """The row ``row_id`` of ``model`` (a call or a trip: ``id``, ``unit_code``,
    ``township_code``) if ``actor`` may read it and the plugin is on in its township; 404
    with ``not_found`` otherwise."""
    query = select(model).where(
        col(model.id) == row_id, readable(kernel, actor, col(model.unit_code))
    )
    row = session.exec(query).first()
    if row is None or not enabled_at(kernel, row.township_code):
        raise Refusal(404, not_found)
    return row


def townships_on(session: Session, kernel: Kernel, scope: Scope) -> list[str]:
    """The townships a list at the request's unit covers: its own township, or, for a
    county or a city, each township below it where the plugin is on (a county-wide list
    leaves the others out)."""
    if scope.unit.level in LOCAL_LEVELS:
        return [scope.township.code]
    units = list_units(session, scope.unit.code, level=Level.township)
    return [unit.code for unit in units if enabled_at(kernel, unit.code)]


def is_account(actor: Actor) -> bool:
    """Whether the actor is an account (not an API key or the system)."""
    return actor.kind == "account"


def shown_name(actor: Actor) -> str:
    """How pages name an actor: its display name, else its username."""
    return (actor.display_name or actor.name)[:100]
