"""The registers a vote is drawn from: estates (小区) with their 专有部分 and owners, and each
village's 村民代表 list.

Owners and representatives are archive persons (``ArchivePerson``): a 专有部分 names its
owner by the archive person's id, so an owner's verified account (linked to that person)
votes for it. The writer must be allowed to read that person (``archive.read`` at the
person's unit): a register never reaches outside the writer's archive scope.

Saving is an upsert (an estate's 专有部分 by its label, a village's representative by the
person), so re-entering a register changes nothing; each save is audited. The caller commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import Actor, ArchivePerson, Kernel, Level, parse_code, record_audit, scope_clause

from .access import READ, REGISTER, TITLES, subtree, village_of
from .errors import DeliberationError, invalid
from .inputs import Area, Optional, Required, RowId, square_metres
from .models import Estate, Parcel, Representative
from .workflows import PLUGIN

ESTATE_NOT_FOUND = "小区不存在或不在您的范围内 / no such estate in your scope"


class EstateIn(BaseModel):
    """A new estate (小区) at the request's village or grid."""

    name: Required = Field(max_length=100, title="小区名称")
    address: Optional = Field(None, max_length=200, title="地址")
    archive_estate_id: RowId | None = Field(None, title="民情档案中的小区编号")


class ParcelIn(BaseModel):
    """A 专有部分: its label, floor area (m², two decimals at most) and owner."""

    label: Required = Field(max_length=60, title="专有部分（楼栋单元室号）")
    area: Area = Field(title="建筑面积（平方米）")
    owner_person_id: RowId = Field(title="业主（民情档案人员编号）")
    archive_house_id: RowId | None = Field(None, title="民情档案住房编号")
    active: bool = Field(True, title="有效")


class RepresentativeIn(BaseModel):
    """A member of the village's 村民代表会议."""

    person_id: RowId = Field(title="村民代表（民情档案人员编号）")
    since: date = Field(title="当选日期")
    active: bool = Field(True, title="在任")


def require(kernel: Kernel, actor: Actor, permission: str, unit_code: str) -> None:
    """403 unless ``actor`` holds ``permission`` at ``unit_code``."""
    if not kernel.allowed(actor, permission, unit_code):
        raise DeliberationError(
            403, f"没有权限{TITLES[permission]}（需要 {permission}）/ {permission} required"
        )


def local_unit(unit_code: str) -> str:
    """``unit_code`` when it is a village or grid; 422 naming ``unit`` above that."""
    if parse_code(unit_code).level not in (Level.village, Level.grid):
        raise invalid("unit", "请指定村社区或网格 / choose a village or grid")
    return unit_code


def readable_person(
    session: Session, kernel: Kernel, actor: Actor, person_id: int, field: str
) -> ArchivePerson:
    """The archive person ``person_id`` if ``actor`` may read it; 422 naming ``field``."""
    found = session.exec(
        select(ArchivePerson).where(
            col(ArchivePerson.id) == person_id,
            scope_clause(actor, kernel.access, "archive.read", col(ArchivePerson.unit_code)),
        )
    ).first()
    if found is None:
        raise invalid(field, "民情档案中没有此人或不在您的范围内 / no such person in your scope")
    return found


def _audit(
    session: Session, actor: Actor, action: str, row: Any, unit_code: str, after: dict[str, Any]
) -> None:
    record_audit(
        session,
        actor=actor.label,
        action=f"{PLUGIN}.{action}",
        target_type=row.__tablename__,
        target_id=str(row.id),
        unit_code=unit_code,
        after=after,
    )


def _save(session: Session, row: Parcel | Representative) -> None:
    """Write an upserted register row; another request's insert of the same key first is a
    409 (retry: it is then an update)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DeliberationError(
            409, "刚被他人登记，请刷新后重试 / saved meanwhile: retry"
        ) from None


# -- estates -------------------------------------------------------------------------------


def estates_visible(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """SQL: estates at units where ``actor`` reads deliberations."""
    return scope_clause(actor, kernel.access, READ, col(Estate.unit_code))


def create_estate(
    session: Session, kernel: Kernel, actor: Actor, unit_code: str, body: EstateIn
) -> Estate:
    """A new estate at ``unit_code`` (a village or grid); 409 when the name is taken there."""
    code = local_unit(unit_code)
    require(kernel, actor, REGISTER, code)
    township = parse_code(code).ancestor_at(Level.township)
    assert township is not None, "a village lies in a township"
    estate = Estate(
        unit_code=code,
        township_code=township,
        name=body.name,
        address=body.address or "",
        archive_estate_id=body.archive_estate_id,
        created_by=actor.label,
    )
    taken = DeliberationError(409, f"name: 「{body.name}」已登记 / already registered")
    clash = select(Estate.id).where(col(Estate.unit_code) == code, col(Estate.name) == body.name)
    if session.exec(clash).first() is not None:
        raise taken
    session.add(estate)
    try:
        session.flush()
    except IntegrityError:  # registered by another request meanwhile
        session.rollback()
        raise taken from None
    _audit(session, actor, "estate.create", estate, code, body.model_dump(mode="json"))
    return estate


def list_estates(session: Session, kernel: Kernel, actor: Actor, under: str) -> list[Estate]:
    """Estates ``actor`` may read at ``under`` and below, by name."""
    query = select(Estate).where(
        estates_visible(kernel, actor), subtree(col(Estate.unit_code), under)
    )
    return list(session.exec(query.order_by(col(Estate.unit_code), col(Estate.name))))


def estates_of_village(session: Session, village: str) -> list[Estate]:
    """Every estate of a village, by name: what a proposer chooses from (names only are
    public; the registers stay with staff)."""
    query = select(Estate).where(subtree(col(Estate.unit_code), village))
    return list(session.exec(query.order_by(col(Estate.name))))


def get_estate(session: Session, kernel: Kernel, actor: Actor, estate_id: int) -> Estate:
    """The estate if ``actor`` may read it and the plugin is on there; 404 otherwise."""
    found = session.exec(
        select(Estate).where(col(Estate.id) == estate_id, estates_visible(kernel, actor))
    ).first()
    if found is None:
        raise DeliberationError(404, ESTATE_NOT_FOUND)
    kernel.require(PLUGIN, kernel.scope(found.township_code))
    return found


def save_parcel(
    session: Session, kernel: Kernel, actor: Actor, estate: Estate, body: ParcelIn
) -> Parcel:
    """Register (or correct) a 专有部分 of ``estate``, keyed by its label."""
    require(kernel, actor, REGISTER, estate.unit_code)
    readable_person(session, kernel, actor, body.owner_person_id, "owner_person_id")
    found = select(Parcel).where(
        col(Parcel.estate_id) == estate.id, col(Parcel.label) == body.label
    )
    parcel = session.exec(found).first() or Parcel(estate_id=estate.id, label=body.label)  # type: ignore[call-arg]
    parcel.area = body.area
    parcel.owner_person_id = body.owner_person_id
    parcel.archive_house_id = body.archive_house_id
    parcel.active = body.active
    parcel.updated_by = actor.label
    parcel.updated_at = kernel.workflows.clock()
    _save(session, parcel)
    _audit(session, actor, "parcel.save", parcel, estate.unit_code, body.model_dump(mode="json"))
    return parcel


def parcels_of(session: Session, estate: Estate) -> list[tuple[Parcel, str]]:
    """The estate's 专有部分 with their owners' names, by label."""
    query = (
        select(Parcel, ArchivePerson.name)
        .join(ArchivePerson, col(ArchivePerson.id) == col(Parcel.owner_person_id))
        .where(col(Parcel.estate_id) == estate.id)
        .order_by(col(Parcel.label))
    )
    return [(parcel, name) for parcel, name in session.exec(query)]


def parcel_view(parcel: Parcel, owner: str) -> dict[str, Any]:
    """A 专有部分 as the API and pages show it (area in m²)."""
    return {
        "id": parcel.id,
        "label": parcel.label,
        "area": square_metres(parcel.area),
        "owner_person_id": parcel.owner_person_id,
        "owner_name": owner,
        "archive_house_id": parcel.archive_house_id,
        "active": parcel.active,
    }


def estate_view(estate: Estate, parcels: list[tuple[Parcel, str]] | None = None) -> dict[str, Any]:
    """An estate, with its 专有部分 and totals when ``parcels`` are given."""
    view: dict[str, Any] = {
        "id": estate.id,
        "name": estate.name,
        "address": estate.address,
        "unit_code": estate.unit_code,
        "archive_estate_id": estate.archive_estate_id,
    }
    if parcels is not None:
        active = [p for p, _ in parcels if p.active]
        view |= {
            "parcels": [parcel_view(p, name) for p, name in parcels],
            "parcel_count": len(active),
            "owner_count": len({p.owner_person_id for p in active}),
            "total_area": square_metres(sum(p.area for p in active)),
        }
    return view


# -- representatives -----------------------------------------------------------------------


def require_village(unit_code: str) -> str:
    """The village of ``unit_code``; 422 naming ``unit`` above the village level."""
    village = village_of(unit_code)
    if village is None:
        raise invalid("unit", "请指定村社区或网格 / choose a village or grid")
    return village


def save_representative(
    session: Session, kernel: Kernel, actor: Actor, unit_code: str, body: RepresentativeIn
) -> Representative:
    """Add (or update) a representative of ``unit_code``'s village; the person must live
    in the village."""
    village = require_village(unit_code)
    require(kernel, actor, REGISTER, village)
    person = readable_person(session, kernel, actor, body.person_id, "person_id")
    if village_of(person.unit_code) != village:
        raise invalid("person_id", "村民代表应为本村社的村民 / not a villager here")
    found = select(Representative).where(
        col(Representative.unit_code) == village, col(Representative.person_id) == body.person_id
    )
    row = session.exec(found).first() or Representative(unit_code=village, person_id=body.person_id)  # type: ignore[call-arg]
    row.since = body.since
    row.active = body.active
    row.updated_by = actor.label
    row.updated_at = kernel.workflows.clock()
    _save(session, row)
    _audit(session, actor, "representative.save", row, village, body.model_dump(mode="json"))
    return row


def representatives_of(
    session: Session, kernel: Kernel, actor: Actor, unit_code: str
) -> list[dict[str, Any]]:
    """The village's representatives with their names, for readers of deliberations there."""
    village = require_village(unit_code)
    require(kernel, actor, READ, village)
    query = (
        select(Representative, ArchivePerson.name)
        .join(ArchivePerson, col(ArchivePerson.id) == col(Representative.person_id))
        .where(col(Representative.unit_code) == village)
        .order_by(col(Representative.id))
    )
    return [
        {
            "id": row.id,
            "person_id": row.person_id,
            "name": name,
            "since": row.since.isoformat(),
            "active": row.active,
        }
        for row, name in session.exec(query)
    ]
