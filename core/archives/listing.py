"""Lists and search over the archive: a page of the households an actor may see, filtered
in the query.

Every member filter (name prefix, ID number, phone, special-group tag, care level, age
range) applies to one and the same member: "a woman over 80 tagged 独居老人" finds the
households that have such a person, not households where one member is over 80 and another
is tagged. The name prefix is an index range (:func:`name_prefix`), never a scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, true
from sqlmodel import Session, col, select

from core.archives import service
from core.archives.care import ArchiveCareAssessment, ArchivePersonTag
from core.archives.crypto import ArchiveCipher
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.identity.access import AccessCatalog, Actor
from core.units.codes import parse_code

# Made by migration 0012 on PostgreSQL only; SQLite's ix_archive_person_name serves there.
NAME_PREFIX_INDEX = "ix_archive_person_name_c"
# The highest code point: every string starting with a prefix sorts below prefix + this.
TOP = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class MemberFilter:
    """What one member of a listed household must match (``None``: anything)."""

    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    tag: str | None = None
    care_level: str | None = None
    age_min: int | None = None
    age_max: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__dataclass_fields__)


def name_prefix(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range an ordinary index answers.

    ``LIKE 'p%'`` uses no index on SQLite (its LIKE ignores case) nor on PostgreSQL outside
    the "C" collation, so the prefix becomes ``p <= name < p + U+10FFFF`` in code-point
    order: SQLite compares text byte-wise (UTF-8 keeps code-point order), and PostgreSQL
    compares under ``COLLATE "C"``, which the ``ix_archive_person_name_c`` index matches.
    """
    target = column.collate("C") if dialect == "postgresql" else column
    return and_(target >= prefix, target < prefix + TOP)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def member_condition(
    members: MemberFilter, cipher: ArchiveCipher, dialect: str, today: date
) -> ColumnElement[bool]:
    """The conditions of ``members`` on one ``archive_person`` row."""
    conditions: list[ColumnElement[bool]] = []
    if members.name is not None:
        conditions.append(name_prefix(col(ArchivePerson.name), members.name, dialect))
    if members.id_number is not None:
        conditions.append(col(ArchivePerson.id_hash) == cipher.lookup_hash(members.id_number))
    if members.phone is not None:
        conditions.append(col(ArchivePerson.phone) == members.phone)
    if members.age_min is not None:  # born on or before today minus age_min years
        conditions.append(col(ArchivePerson.birth_date) <= _years_before(today, members.age_min))
    if members.age_max is not None:  # not yet age_max + 1 today
        conditions.append(col(ArchivePerson.birth_date) > _years_before(today, members.age_max + 1))
    if members.tag is not None:
        tagged = select(col(ArchivePersonTag.person_id)).where(
            col(ArchivePersonTag.tag) == members.tag
        )
        conditions.append(col(ArchivePerson.id).in_(tagged))
    if members.care_level is not None:
        assessed = select(col(ArchiveCareAssessment.person_id)).where(
            col(ArchiveCareAssessment.current).is_(True),
            col(ArchiveCareAssessment.level) == members.care_level,
        )
        conditions.append(col(ArchivePerson.id).in_(assessed))
    return and_(true(), *conditions)


def list_households(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    cipher: ArchiveCipher,
    *,
    unit: str | None,
    members: MemberFilter = MemberFilter(),
    address: str | None = None,
    limit: int,
    offset: int,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """A page of visible households in 户号 order, filtered (every filter in the query):
    ``unit`` a subtree (404 outside the actor's scope), ``members`` what one member must
    match, ``address`` a part of the address."""
    query = select(ArchiveHousehold).where(service.household_visible(actor, catalog))
    if unit is not None:
        code = parse_code(unit)
        if not actor.role_allows(catalog, service.READ, code.code) and actor.person_id is None:
            raise service.not_found()
        query = query.where(col(ArchiveHousehold.unit_code).startswith(code.path))
    if not members.is_empty():
        dialect = session.get_bind().dialect.name
        matching = member_condition(members, cipher, dialect, today or date.today())
        having = select(col(ArchivePerson.household_id)).where(matching)
        query = query.where(col(ArchiveHousehold.id).in_(having))
    if address is not None:
        query = query.where(col(ArchiveHousehold.address).contains(address, autoescape=True))
    query = query.order_by(col(ArchiveHousehold.number)).limit(limit).offset(offset)
    return [service.household_out(h) for h in session.exec(query)]
