"""JSON API for units: ``/api/v1/units``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import Session, col

from core.db.engine import get_session
from core.identity.access import AccessCatalog, Actor, scope_clause
from core.identity.web import access_catalog, require_permission
from core.units.codes import Level
from core.units.models import Unit
from core.units.service import children, get_unit, list_units
from core.web.inputs import Offset

router = APIRouter(prefix="/units")


class UnitOut(BaseModel):
    code: str
    name: str
    level: Level
    level_label: str
    parent_code: str | None

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls(
            code=unit.code,
            name=unit.name,
            level=Level(unit.level),
            level_label=unit.level_label,
            parent_code=unit.parent_code,
        )


class UnitDetail(UnitOut):
    children: list[UnitOut]


@router.get("", summary="列出单位 / list units", response_model=list[UnitOut])
def list_units_api(
    under: str | None = Query(None, description="只列出此单位及其下级 / subtree of this code"),
    level: Level | None = Query(None, description="只列出此层级 / only this level"),
    limit: int = Query(500, ge=1, le=5000),
    offset: Offset = 0,
    session: Session = Depends(get_session),
    actor: Actor = Depends(require_permission("units.read")),
    access: AccessCatalog = Depends(access_catalog),
) -> list[UnitOut]:
    visible = scope_clause(actor, access, "units.read", col(Unit.code))
    units = list_units(session, under, level=level, limit=limit, offset=offset, visible=visible)
    return [UnitOut.of(unit) for unit in units]


@router.get("/{unit_code}", summary="单位详情 / one unit", response_model=UnitDetail)
def get_unit_api(
    unit_code: str,
    session: Session = Depends(get_session),
    actor: Actor = Depends(require_permission("units.read")),
    access: AccessCatalog = Depends(access_catalog),
) -> UnitDetail:
    visible = scope_clause(actor, access, "units.read", col(Unit.code))
    unit = get_unit(session, unit_code, visible=visible)
    return UnitDetail(
        **UnitOut.of(unit).model_dump(),
        children=[]
        if Level(unit.level) is Level.grid  # a grid has no units below it: no query
        else [UnitOut.of(c) for c in children(session, unit.code, visible=visible)],
    )
