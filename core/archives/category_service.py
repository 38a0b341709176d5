"""Reads and writes of the four other archive categories, one engine for all: scope in
every query (a record's unit is its own ``unit_code`` or its parent's), masking of the
fields a :class:`Category` names, versioned updates (409), references checked inside the
actor's write scope (422 naming the field) and audit entries with sensitive values masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from core.archives.models import ArchivePerson
from core.archives.service import READ, WRITE, invalid, not_found, versioned_update
from core.audit.service import record
from core.identity.access import AccessCatalog, Actor, scope_clause
from core.units.codes import Level, parse_code
from core.units.models import Unit

PAGING = {"unit", "limit", "offset", "name"}
RANGES = (("contract_start", "contract_end"), ("term_start", "term_end"))
REF_MISSING = "不存在或不在您的范围内 / no such record in your scope"


def mask_plate(plate: str) -> str:
    """``浙H12345`` → ``浙H***45``: the province, the city letter and the last two."""
    return f"{plate[:2]}{'*' * (len(plate) - 4)}{plate[-2:]}"


@dataclass(frozen=True)
class Category:
    """One archive category: its table, bodies, filters, unit and sensitive fields.

    ``parent`` (model, foreign-key field) gives the record its unit through that parent;
    without it the record has its own ``unit_code`` (a grid when ``grid_only``). ``refs``
    are other references the writer must be able to write; ``check`` sees the merged
    values of a write and may raise a 422.
    """

    path: str
    kind: str
    title: str
    model: type[SQLModel]
    body: type[BaseModel]
    patch: type[BaseModel]
    filters: type[BaseModel]
    parent: tuple[type[SQLModel], str] | None = None
    grid_only: bool = False
    refs: dict[str, type[SQLModel]] = field(default_factory=dict)
    sensitive: dict[str, Callable[[str], str]] = field(default_factory=dict)
    unique: str | None = None
    order: str = "id"
    check: Callable[[Session, dict[str, Any]], None] | None = None

    def unit_column(self) -> Any:
        """The column holding the record's unit code (the parent's, when it has one)."""
        owner = self.parent[0] if self.parent else self.model
        return col(owner.unit_code)  # type: ignore[attr-defined]

    def query(self) -> Any:
        """``select(record, unit_code)``, joined to the parent when there is one."""
        query = select(self.model, self.unit_column())
        if self.parent is not None:
            model, key = self.parent
            query = query.join(model, col(model.id) == getattr(self.model, key))  # type: ignore[attr-defined]
        return query


# -- reading -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def record_out(
    category: Category, row: SQLModel, unit_code: str, reveal: bool = False
) -> dict[str, Any]:
    """A record as the API shows it: sensitive fields masked unless ``reveal``."""
    out = {k: _plain(v) for k, v in row.model_dump().items()} | {"unit_code": unit_code}
    for name, mask in category.sensitive.items():
        if out[name] is not None and not reveal:
            out[name] = mask(out[name])
    if category.sensitive:
        out["masked"] = not reveal
    return out


def _in_scope(category: Category, actor: Actor, catalog: AccessCatalog, permission: str) -> Any:
    return scope_clause(actor, catalog, permission, category.unit_column())


def list_records(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    category: Category,
    filters: BaseModel,
    where: ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """A page of the records in the actor's ``archive.read`` scope, every filter in the query."""
    model = category.model
    query = category.query().where(_in_scope(category, actor, catalog, READ))
    if where is not None:
        query = query.where(where)
    given = filters.model_dump(exclude_none=True)
    if "unit" in given:
        code = parse_code(given["unit"])
        if not actor.role_allows(catalog, READ, code.code):
            raise not_found()
        query = query.where(category.unit_column().startswith(code.path))
    if "name" in given:
        query = query.where(col(model.name).startswith(given["name"], autoescape=True))  # type: ignore[attr-defined]
    for name, value in given.items():
        if name not in PAGING:
            query = query.where(getattr(model, name) == value)
    order = getattr(model, category.order)
    query = query.order_by(order, col(model.id)).limit(given["limit"]).offset(given["offset"])  # type: ignore[attr-defined]
    return [record_out(category, row, unit) for row, unit in session.exec(query)]


def visible_record(
    session: Session, actor: Actor, catalog: AccessCatalog, category: Category, rid: int
) -> tuple[Any, str]:
    """Record ``rid`` and its unit code if ``actor`` may read it, else 404."""
    found = session.exec(
        category.query().where(
            col(category.model.id) == rid,  # type: ignore[attr-defined]
            _in_scope(category, actor, catalog, READ),
        )
    ).first()
    if found is None:
        raise not_found()
    return found[0], found[1]


# -- writing -------------------------------------------------------------------------------


def _writable(
    session: Session, actor: Actor, catalog: AccessCatalog, model: type[SQLModel], rid: int
) -> Any:
    query = select(model).where(
        col(model.id) == rid,  # type: ignore[attr-defined]
        scope_clause(actor, catalog, WRITE, col(model.unit_code)),  # type: ignore[attr-defined]
    )
    return session.exec(query).first()


def _writable_unit(
    session: Session, actor: Actor, catalog: AccessCatalog, code: str, grid_only: bool
) -> str:
    """``code`` if it lies in the actor's ``archive.write`` scope (404 otherwise); 422
    naming ``unit_code`` when ``grid_only`` and it is not a grid."""
    code = parse_code(code).code
    found = session.exec(
        select(col(Unit.code)).where(
            col(Unit.code) == code, scope_clause(actor, catalog, WRITE, col(Unit.code))
        )
    ).first()
    if found is None:
        raise HTTPException(404, "单位不存在或不在您的范围内 / no such unit in your scope")
    if grid_only and parse_code(code).level is not Level.grid:
        raise invalid("unit_code", "住房应归属到网格 / a house belongs to a grid")
    return found


def _unit_of_write(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    category: Category,
    changes: dict[str, Any],
) -> str | None:
    """The unit a write puts the record in (``None``: unchanged); 404 outside the scope."""
    if category.parent is not None:
        model, key = category.parent
        if key not in changes:
            return None
        parent = _writable(session, actor, catalog, model, changes[key])
        if parent is None:
            raise not_found()
        return parent.unit_code  # type: ignore[no-any-return]
    if "unit_code" not in changes:
        return None
    changes["unit_code"] = _writable_unit(
        session, actor, catalog, changes["unit_code"], category.grid_only
    )
    return changes["unit_code"]  # type: ignore[no-any-return]


def _check(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    category: Category,
    changes: dict[str, Any],
    merged: dict[str, Any],
    rid: int | None,
) -> None:
    """References in the write scope, date ranges in order, the unique field free."""
    for name, model in category.refs.items():
        if changes.get(name) is not None and not _writable(
            session, actor, catalog, model, changes[name]
        ):
            raise invalid(name, REF_MISSING)
    for start, end in RANGES:
        first, last = merged.get(start), merged.get(end)
        if first is not None and last is not None and last < first:
            raise invalid(end, "结束日期早于开始日期 / ends before it starts")
    if category.check is not None:
        category.check(session, merged)
    name = category.unique
    if name is not None and name in changes:
        model = category.model
        taken = session.exec(
            select(col(model.id)).where(getattr(model, name) == changes[name])  # type: ignore[attr-defined]
        ).first()
        if taken is not None and taken != rid:
            raise HTTPException(409, f"{name}: 已登记 / already recorded")


def _masked(category: Category, values: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps: sensitive values masked, dates as text."""
    kept = {k: _plain(v) for k, v in values.items()}
    for name, mask in category.sensitive.items():
        if kept.get(name):
            kept[name] = mask(kept[name])
    return kept


@contextmanager
def _committed(session: Session, category: Category) -> Iterator[None]:
    """Commit the writes; a constraint a concurrent writer made them hit is a 409."""
    try:
        yield
        session.commit()
    except IntegrityError:
        session.rollback()
        name = category.unique or "version"
        raise HTTPException(409, f"{name}: 已登记或已被他人修改 / taken or changed") from None


def create_record(
    session: Session, actor: Actor, catalog: AccessCatalog, category: Category, body: BaseModel
) -> tuple[Any, str]:
    """A new record in the actor's write scope; audited. Returns it with its unit code."""
    values = body.model_dump()
    unit_code = _unit_of_write(session, actor, catalog, category, values)
    _check(session, actor, catalog, category, values, values, None)
    row = category.model(**values)
    with _committed(session, category):
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor.label,
            action=f"archive.{category.kind}.create",
            target_type=category.kind,
            target_id=str(row.id),  # type: ignore[attr-defined]
            unit_code=unit_code,
            after=_masked(category, values),
        )
    session.refresh(row)
    return row, unit_code  # type: ignore[return-value]


def update_record(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    category: Category,
    rid: int,
    body: BaseModel,
) -> tuple[Any, str]:
    """Change a record if ``body.version`` is current (409 otherwise); audited with the
    values before and after (masked)."""
    found = session.exec(
        category.query().where(
            col(category.model.id) == rid,  # type: ignore[attr-defined]
            _in_scope(category, actor, catalog, WRITE),
        )
    ).first()
    if found is None:
        raise not_found()
    row, unit_code = found
    changes = body.model_dump(exclude={"version"}, exclude_none=True)
    unit_code = _unit_of_write(session, actor, catalog, category, changes) or unit_code
    merged = row.model_dump() | changes
    _check(session, actor, catalog, category, changes, merged, rid)
    before = {k: getattr(row, k) for k in changes}
    model = category.model
    with _committed(session, category):
        where = col(model.id) == rid  # type: ignore[attr-defined]
        versioned_update(session, model, where, body.version, changes)
        record(
            session,
            actor=actor.label,
            action=f"archive.{category.kind}.update",
            target_type=category.kind,
            target_id=str(rid),
            unit_code=unit_code,
            before=_masked(category, before),
            after=_masked(category, changes),
        )
    session.refresh(row)
    return row, unit_code


def owner_in_household(session: Session, values: dict[str, Any]) -> None:
    """A vehicle's owner, when named, is a member of its household (422 naming ``owner_id``)."""
    if values.get("owner_id") is None:
        return
    owner = session.get(ArchivePerson, values["owner_id"])
    if owner is None or owner.household_id != values["household_id"]:
        raise invalid("owner_id", "车主应为该户成员 / the owner must be a member of the household")
