"""JSON API for units: ``/api/v1/units``.

Both routes run on the event loop, on the kernel's reserved connection, with statements
built once and the actor's scope passed as bound values (:func:`core.bound_scope_clause`):
building a SQLAlchemy statement costs several times the indexed read it asks for
(docs/benchmarks.md, "Authentication and scope").
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, bindparam, or_, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.identity.access import (
    Actor,
    bound_scope_clause,
    scope_parameters,
    scope_ranges,
)
from core.identity.web import require_permission
from core.units.codes import Level, parse_code, path_upper_bound
from core.units.models import Unit
from core.units.service import OutOfScope
from core.web.inputs import Offset

router = APIRouter(prefix="/units")
PERMISSION = "units.read"
MAX_PAGE = 1000  # units per list request: bounds the work done on the event loop


class UnitOut(BaseModel):
    code: str
    name: str
    level: Level
    level_label: str
    parent_code: str | None


class UnitDetail(UnitOut):
    children: list[UnitOut]


COLUMNS = (col(Unit.code), col(Unit.name), col(Unit.level), col(Unit.parent_code))


def rows(
    conn: Connection,
    query: Select,  # type: ignore[type-arg]
    values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Units as plain dictionaries, in the shape of :class:`UnitOut`."""
    return [
        {
            "code": code,
            "name": name,
            "level": level,
            "level_label": Level(level).label,
            "parent_code": parent,
        }
        for code, name, level, parent in conn.execute(query, values)
    ]


def visible_unit(conn: Connection, code: str, visible: ColumnElement[bool]) -> dict[str, Any]:
    """The unit ``code`` if ``visible`` (a :func:`core.scope_clause`) lets the caller see it,
    else :class:`OutOfScope`."""
    parsed = parse_code(code)
    found = rows(conn, select(*COLUMNS).where(col(Unit.code) == parsed.code, visible))
    if not found:
        raise OutOfScope(parsed.code)
    return found[0]


@functools.cache
def family_statement(ranges: int) -> Select:  # type: ignore[type-arg]
    """A unit (``:code``) and the units directly below it, within ``ranges`` scope ranges."""
    code = bindparam("code")
    return (
        select(*COLUMNS)
        .where(
            or_(col(Unit.code) == code, col(Unit.parent_code) == code),
            bound_scope_clause(col(Unit.code), ranges),
        )
        .order_by(col(Unit.path))
    )


@functools.cache
def page_statement(ranges: int, under: bool, level: bool) -> Select:  # type: ignore[type-arg]
    """A page of units in tree order, within ``ranges`` scope ranges, optionally under a
    subtree (``:low``, ``:high``) and at one level (``:level``)."""
    query = select(*COLUMNS).where(bound_scope_clause(col(Unit.code), ranges))
    if under:
        query = query.where(col(Unit.path) >= bindparam("low"), col(Unit.path) < bindparam("high"))
    if level:
        query = query.where(col(Unit.level) == bindparam("level"))
    return query.order_by(col(Unit.path)).limit(bindparam("limit")).offset(bindparam("offset"))


def family(conn: Connection, code: str, scope: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The unit ``code`` then its children, if the scope lets the caller see it (a unit below
    a visible one is visible too: scope reaches a whole subtree), else :class:`OutOfScope`."""
    found = rows(conn, family_statement(len(scope)), {"code": code, **scope_parameters(scope)})
    if not found or found[0]["code"] != code:
        raise OutOfScope(code)
    return found


@router.get("", summary="列出单位 / list units", response_model=list[UnitOut])
async def list_units_api(
    request: Request,
    under: str | None = Query(None, description="只列出此单位及其下级 / subtree of this code"),
    level: Level | None = Query(None, description="只列出此层级 / only this level"),
    limit: int = Query(500, ge=1, le=MAX_PAGE),
    offset: Offset = 0,
    actor: Actor = Depends(require_permission(PERMISSION)),
) -> Response:
    """A page of the units the caller may see, in tree order: one indexed range read."""
    kernel = request.app.state.kernel
    scope = scope_ranges(actor, kernel.access, PERMISSION)
    top = parse_code(under) if under is not None else None
    values: dict[str, Any] = {"limit": limit, "offset": offset, **scope_parameters(scope)}
    if top is not None:
        values |= {"low": top.path, "high": path_upper_bound(top.path)}
    if level is not None:
        values["level"] = level.value
    query = page_statement(len(scope), top is not None, level is not None)
    with kernel.loop_engine.connect() as conn:
        page = rows(conn, query, values)
        # ``under`` comes first in tree order: on the first page without a level filter its
        # presence proves the caller may see it; otherwise ask once more.
        if top is not None and not (offset == 0 and page and page[0]["code"] == top.code):
            family(conn, top.code, scope)
    return JSONResponse(page)  # already in the response model's shape: no second validation


@router.get("/{unit_code}", summary="单位详情 / one unit", response_model=UnitDetail)
async def get_unit_api(
    unit_code: str,
    request: Request,
    actor: Actor = Depends(require_permission(PERMISSION)),
) -> Response:
    """One unit and the units directly below it: one indexed read."""
    kernel = request.app.state.kernel  # the loop's reserved connection: no threadpool hop
    with kernel.loop_engine.connect() as conn:
        found = family(
            conn, parse_code(unit_code).code, scope_ranges(actor, kernel.access, PERMISSION)
        )
    unit, unit["children"] = found[0], found[1:]
    return JSONResponse(unit)
