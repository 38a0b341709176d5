"""JSON API for units: ``/api/v1/units``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from core.identity.access import AccessCatalog, Actor, scope_clause
from core.identity.web import access_catalog, require_permission
from core.units.codes import Level, parse_code
from core.units.models import Unit
from core.units.service import OutOfScope, in_subtree
from core.web.inputs import Offset

router = APIRouter(prefix="/units")


class UnitOut(BaseModel):
    code: str
    name: str
    level: Level
    level_label: str
    parent_code: str | None


class UnitDetail(UnitOut):
    children: list[UnitOut]


COLUMNS = (col(Unit.code), col(Unit.name), col(Unit.level), col(Unit.parent_code))


def rows(conn: Connection, query: Select) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    """Units as plain dictionaries, read through Core: these are hot paths, and the ORM
    costs about twice as much per query (docs/benchmarks.md)."""
    return [
        {
            "code": code,
            "name": name,
            "level": level,
            "level_label": Level(level).label,
            "parent_code": parent,
        }
        for code, name, level, parent in conn.execute(query)
    ]


def visible_unit(conn: Connection, code: str, visible: ColumnElement[bool]) -> dict[str, Any]:
    """The unit ``code`` if the caller's scope lets it see it, else :class:`OutOfScope`."""
    parsed = parse_code(code)
    found = rows(conn, select(*COLUMNS).where(col(Unit.code) == parsed.code, visible))
    if not found:
        raise OutOfScope(parsed.code)
    return found[0]


async def database(request: Request) -> Engine:
    """Dependency: the application's engine (for work in the threadpool)."""
    return request.app.state.kernel.engine


async def loop_database(request: Request) -> Engine:
    """Dependency: the engine reserved for short indexed reads on the event loop."""
    return request.app.state.kernel.loop_engine


@router.get("", summary="列出单位 / list units", response_model=list[UnitOut])
def list_units_api(
    under: str | None = Query(None, description="只列出此单位及其下级 / subtree of this code"),
    level: Level | None = Query(None, description="只列出此层级 / only this level"),
    limit: int = Query(500, ge=1, le=5000),
    offset: Offset = 0,
    db: Engine = Depends(database),
    actor: Actor = Depends(require_permission("units.read")),
    access: AccessCatalog = Depends(access_catalog),
) -> list[dict[str, Any]]:
    visible = scope_clause(actor, access, "units.read", col(Unit.code))
    query = select(*COLUMNS).where(visible)
    with db.connect() as conn:
        if under is not None:
            top = visible_unit(conn, under, visible)
            query = query.where(in_subtree(parse_code(top["code"]).path))
        if level is not None:
            query = query.where(col(Unit.level) == level.value)
        return rows(conn, query.order_by(col(Unit.path)).offset(offset).limit(limit))


@router.get("/{unit_code}", summary="单位详情 / one unit", response_model=UnitDetail)
async def get_unit_api(
    unit_code: str,
    db: Engine = Depends(loop_database),
    actor: Actor = Depends(require_permission("units.read")),
    access: AccessCatalog = Depends(access_catalog),
) -> dict[str, Any]:
    """One unit and the units directly below it: two indexed reads, on the event loop."""
    visible = scope_clause(actor, access, "units.read", col(Unit.code))
    with db.connect() as conn:
        unit = visible_unit(conn, unit_code, visible)
        below = select(*COLUMNS).where(col(Unit.parent_code) == unit["code"], visible)
        unit["children"] = (
            []  # a grid has no units below it: no query
            if unit["level"] == Level.grid.value
            else rows(conn, below.order_by(col(Unit.path)))
        )
    return unit
