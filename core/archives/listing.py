"""Lists and search over the archive: a page of the households an actor may see, filtered
in the query."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from core.archives import service
from core.archives.crypto import ArchiveCipher
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.identity.access import AccessCatalog, Actor
from core.units.codes import parse_code


def list_households(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    cipher: ArchiveCipher,
    *,
    unit: str | None,
    name: str | None,
    id_number: str | None,
    phone: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """A page of visible households in 户号 order, filtered (every filter in the query)."""
    query = select(ArchiveHousehold).where(service.household_visible(actor, catalog))
    if unit is not None:
        code = parse_code(unit)
        if not actor.role_allows(catalog, service.READ, code.code) and actor.person_id is None:
            raise service.not_found()
        query = query.where(col(ArchiveHousehold.unit_code).startswith(code.path))
    members = select(col(ArchivePerson.household_id))
    if name is not None:
        prefix = col(ArchivePerson.name).startswith(name, autoescape=True)
        query = query.where(col(ArchiveHousehold.id).in_(members.where(prefix)))
    if id_number is not None:
        hashed = col(ArchivePerson.id_hash) == cipher.lookup_hash(id_number)
        query = query.where(col(ArchiveHousehold.id).in_(members.where(hashed)))
    if phone is not None:
        same_phone = col(ArchivePerson.phone) == phone
        query = query.where(col(ArchiveHousehold.id).in_(members.where(same_phone)))
    query = query.order_by(col(ArchiveHousehold.number)).limit(limit).offset(offset)
    return [service.household_out(h) for h in session.exec(query)]
