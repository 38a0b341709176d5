"""Archive reads and writes: scope in every query, masking, versioned updates, audit.

Who sees a household: an actor holding ``archive.read`` at a unit above its grid
(:func:`core.scope_clause`), and a resident whose account is linked to one of its members
(``account.person_id``); anyone else gets nothing, and an unknown or out-of-scope record is
the same 404. ID numbers and phones are masked unless the actor holds
``archive.read_sensitive`` at the record's unit (:meth:`core.Kernel.allowed`). Plugins'
extension values (``extra``) are validated and merged per plugin on every write
(:class:`core.archives.extensions.Extensions`), versioned and audited with the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from sqlalchemy import ColumnElement, false, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.archives.crypto import ArchiveCipher
from core.archives.extensions import Extensions
from core.archives.idnumbers import birth_date_of, gender_of, mask_id_number, mask_phone
from core.archives.models import GENDERS, RELATIONS, ArchiveHousehold, ArchivePerson
from core.archives.schemas import HouseholdIn, HouseholdPatch, PersonIn, PersonPatch
from core.audit.service import record
from core.db.types import utcnow
from core.identity.access import AccessCatalog, Actor, scope_clause
from core.units.codes import Level, parse_code
from core.units.models import Unit

READ, SENSITIVE, WRITE = "archive.read", "archive.read_sensitive", "archive.write"
ADULT_AGE = 18
NOT_FOUND = "档案不存在或不在您的范围内 / no such record in your scope"
NUMBER_TAKEN = ("number", "户号已存在 / this household number already exists")
ID_TAKEN = ("id_number", "该身份证号已登记 / this ID number is already recorded")
STALE = "version: 记录已被他人修改，请刷新后重试 / the record was changed since you read it"


def invalid(field: str, message: str, where: str = "body") -> RequestValidationError:
    """A 422 naming ``field`` of the request body (or of ``where``: ``query``, ``path``)."""
    return RequestValidationError([{"loc": (where, field), "msg": message, "type": "value_error"}])


def versioned_update(
    session: Session, model: Any, where: ColumnElement[bool], version: int, values: dict[str, Any]
) -> None:
    """``UPDATE model SET values, version = version + 1`` (and ``updated_at`` where the model
    has one) ``WHERE where AND version = :version``: a 409 when no row matched, because another
    writer changed the record since it was read."""
    stamped = values | {"version": version + 1}
    if "updated_at" in model.__table__.c:
        stamped["updated_at"] = utcnow()
    done = session.execute(
        update(model).where(where, col(model.version) == version).values(**stamped)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise HTTPException(409, STALE)


def not_found() -> HTTPException:
    """The one answer for a record that does not exist or lies outside the scope."""
    return HTTPException(404, NOT_FOUND)


# -- scope ---------------------------------------------------------------------------------


def _own_household(actor: Actor) -> Any:
    """The household id of the resident's linked person, as a scalar subquery."""
    return (
        select(col(ArchivePerson.household_id))
        .where(col(ArchivePerson.id) == actor.person_id)
        .scalar_subquery()
    )


def household_visible(actor: Actor, catalog: AccessCatalog) -> ColumnElement[bool]:
    """Households ``actor`` may read: its ``archive.read`` scope, or its own household."""
    conditions = []
    if actor.paths_with(catalog, READ):
        conditions.append(scope_clause(actor, catalog, READ, col(ArchiveHousehold.unit_code)))
    if actor.person_id is not None:
        conditions.append(col(ArchiveHousehold.id) == _own_household(actor))
    return or_(*conditions) if conditions else false()


def person_visible(actor: Actor, catalog: AccessCatalog) -> ColumnElement[bool]:
    """Persons ``actor`` may read: its ``archive.read`` scope, or its own household's."""
    conditions = []
    if actor.paths_with(catalog, READ):
        conditions.append(scope_clause(actor, catalog, READ, col(ArchivePerson.unit_code)))
    if actor.person_id is not None:
        conditions.append(col(ArchivePerson.household_id) == _own_household(actor))
    return or_(*conditions) if conditions else false()


# -- reading -------------------------------------------------------------------------------


def age_on(born: date, today: date) -> int:
    """Age in whole years on ``today``."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def person_out(person: ArchivePerson, cipher: ArchiveCipher, reveal: bool) -> dict[str, Any]:
    """A person as the API shows it; ID number and phone masked unless ``reveal``."""
    number = cipher.decrypt(person.id_cipher) if person.id_cipher else None
    age = age_on(person.birth_date, date.today())
    return {
        "id": person.id,
        "name": person.name,
        "gender": person.gender,
        "gender_label": GENDERS[person.gender],
        "birth_date": person.birth_date.isoformat(),
        "age": age,
        "minor": age < ADULT_AGE,
        "id_number": number if reveal or number is None else mask_id_number(number),
        "phone": person.phone if reveal or person.phone is None else mask_phone(person.phone),
        "masked": not reveal,
        "household_id": person.household_id,
        "relation": person.relation,
        "relation_label": RELATIONS[person.relation],
        "unit_code": person.unit_code,
        "source": person.source,
        "created_at": person.created_at.isoformat(),
        "updated_at": person.updated_at.isoformat(),
        "version": person.version,
    }


def household_out(household: ArchiveHousehold) -> dict[str, Any]:
    """A household's own fields (no members)."""
    return {
        "id": household.id,
        "number": household.number,
        "address": household.address,
        "unit_code": household.unit_code,
        "source": household.source,
        "created_at": household.created_at.isoformat(),
        "updated_at": household.updated_at.isoformat(),
        "version": household.version,
    }


def household_view(household: ArchiveHousehold, extensions: Extensions) -> dict[str, Any]:
    """A household as its detail and writes answer: its fields and ``extra``, the values of
    plugins enabled in its township."""
    extra = extensions.shown("household", household.unit_code, household.extra)
    return household_out(household) | {"extra": extra}


def person_view(
    person: ArchivePerson, cipher: ArchiveCipher, reveal: bool, extensions: Extensions
) -> dict[str, Any]:
    """A person as its detail and writes answer: :func:`person_out` and ``extra``, the
    values of plugins enabled in its township."""
    extra = extensions.shown("person", person.unit_code, person.extra)
    return person_out(person, cipher, reveal) | {"extra": extra}


def visible_household(
    session: Session, actor: Actor, catalog: AccessCatalog, hid: int
) -> ArchiveHousehold:
    """Household ``hid`` if ``actor`` may read it, else 404."""
    found = session.exec(
        select(ArchiveHousehold).where(
            col(ArchiveHousehold.id) == hid, household_visible(actor, catalog)
        )
    ).first()
    if found is None:
        raise not_found()
    return found


def visible_person(
    session: Session, actor: Actor, catalog: AccessCatalog, pid: int
) -> ArchivePerson:
    """Person ``pid`` if ``actor`` may read it, else 404."""
    found = session.exec(
        select(ArchivePerson).where(col(ArchivePerson.id) == pid, person_visible(actor, catalog))
    ).first()
    if found is None:
        raise not_found()
    return found


def members_of(session: Session, household_id: int) -> list[ArchivePerson]:
    """A household's members in the order they were recorded."""
    query = select(ArchivePerson).where(col(ArchivePerson.household_id) == household_id)
    return list(session.exec(query.order_by(col(ArchivePerson.id))))


# -- writing -------------------------------------------------------------------------------


def _writable_grid(session: Session, actor: Actor, catalog: AccessCatalog, code: str) -> str:
    """``code`` if it is a grid inside the actor's ``archive.write`` scope: 404 when it is
    outside (or unknown), 422 naming ``unit_code`` when it is not a grid."""
    found = session.exec(
        select(col(Unit.code)).where(
            col(Unit.code) == code, scope_clause(actor, catalog, WRITE, col(Unit.code))
        )
    ).first()
    if found is None:
        raise HTTPException(404, "单位不存在或不在您的范围内 / no such unit in your scope")
    if parse_code(code).level is not Level.grid:
        raise invalid("unit_code", "户应归属到网格 / a household belongs to a grid")
    return found


def _writable_household(
    session: Session, actor: Actor, catalog: AccessCatalog, hid: int
) -> ArchiveHousehold:
    found = session.exec(
        select(ArchiveHousehold).where(
            col(ArchiveHousehold.id) == hid,
            scope_clause(actor, catalog, WRITE, col(ArchiveHousehold.unit_code)),
        )
    ).first()
    if found is None:
        raise not_found()
    return found


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a person's values: sensitive ones masked."""
    kept = dict(values)
    if kept.get("id_number"):
        kept["id_number"] = mask_id_number(kept["id_number"])
    if kept.get("phone"):
        kept["phone"] = mask_phone(kept["phone"])
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in kept.items()}


def _extra_entry(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of written extension values: the plugins written, under
    ``extra`` (nothing when none were)."""
    return {"extra": values} if values else {}


@contextmanager
def _unique(session: Session, field: str, message: str) -> Iterator[None]:
    """Run writes and commit; a unique constraint they hit (a concurrent writer, or a
    number taken) is a 409 naming ``field``, with nothing written."""
    try:
        yield
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(409, f"{field}: {message}") from None


def create_household(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    body: HouseholdIn,
    extensions: Extensions,
) -> ArchiveHousehold:
    """A new household in a grid of the actor's write scope, with the extension values of
    plugins enabled in its township (422 naming ``extra.<plugin>.<field>``); audited."""
    unit_code = _writable_grid(session, actor, catalog, parse_code(body.unit_code).code)
    extra, _, written = extensions.merge("household", unit_code, {}, body.extra)
    taken = select(col(ArchiveHousehold.id)).where(col(ArchiveHousehold.number) == body.number)
    if session.exec(taken).first() is not None:
        raise HTTPException(409, f"{NUMBER_TAKEN[0]}: {NUMBER_TAKEN[1]}")
    household = ArchiveHousehold(
        **body.model_dump(exclude={"unit_code", "extra"}), unit_code=unit_code, extra=extra
    )
    with _unique(session, *NUMBER_TAKEN):
        session.add(household)
        session.flush()
        record(
            session,
            actor=actor.label,
            action="archive.household.create",
            target_type="household",
            target_id=str(household.id),
            unit_code=unit_code,
            after=body.model_dump(exclude={"extra"}) | _extra_entry(written),
        )
    return household


def update_household(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    hid: int,
    body: HouseholdPatch,
    extensions: Extensions,
) -> ArchiveHousehold:
    """Change a household if ``body.version`` is current (409 otherwise); moving it to
    another grid moves its members too. Extension values merge per plugin, checked where
    the household is after the change. Audited with the values before and after."""
    household = _writable_household(session, actor, catalog, hid)
    changes = body.model_dump(exclude={"version", "extra"}, exclude_none=True)
    if "unit_code" in changes:
        changes["unit_code"] = _writable_grid(
            session, actor, catalog, parse_code(changes["unit_code"]).code
        )
    before = {k: getattr(household, k) for k in changes}
    extra, was, written = extensions.merge(
        "household", changes.get("unit_code", household.unit_code), household.extra, body.extra
    )
    audited = changes | _extra_entry(written)
    before |= _extra_entry(was)
    if written:
        changes["extra"] = extra
    with _unique(session, *NUMBER_TAKEN):
        where = col(ArchiveHousehold.id) == hid
        versioned_update(session, ArchiveHousehold, where, body.version, changes)
        if "unit_code" in changes:
            session.execute(
                update(ArchivePerson)
                .where(col(ArchivePerson.household_id) == hid)
                .values(unit_code=changes["unit_code"])
            )
        record(
            session,
            actor=actor.label,
            action="archive.household.update",
            target_type="household",
            target_id=str(hid),
            unit_code=changes.get("unit_code", household.unit_code),
            before=before,
            after=audited,
        )
    session.refresh(household)
    return household


def _identity(
    number: str | None, gender: str | None, born: date | None
) -> tuple[str | None, date | None]:
    """Gender and birth date, taken from the ID number when omitted and checked against it
    when given (422 naming the field that disagrees)."""
    if number is None:
        return gender, born
    if born is not None and born != birth_date_of(number):
        raise invalid("birth_date", "出生日期与身份证号不符 / does not match the ID number")
    if gender is not None and gender != gender_of(number):
        raise invalid("gender", "性别与身份证号不符 / does not match the ID number")
    return gender or gender_of(number), born or birth_date_of(number)


def _id_taken(session: Session, id_hash: str, person_id: int | None) -> None:
    query = select(col(ArchivePerson.id)).where(col(ArchivePerson.id_hash) == id_hash)
    found = session.exec(query).first()
    if found is not None and found != person_id:
        raise HTTPException(409, f"{ID_TAKEN[0]}: {ID_TAKEN[1]}")


def create_person(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    cipher: ArchiveCipher,
    body: PersonIn,
    extensions: Extensions,
) -> ArchivePerson:
    """A new member of a household in the actor's write scope, with the extension values of
    plugins enabled in its township; audited (ID and phone masked in the log)."""
    household = _writable_household(session, actor, catalog, body.household_id)
    extra, _, written = extensions.merge("person", household.unit_code, {}, body.extra)
    gender, born = _identity(body.id_number, body.gender, body.birth_date)
    if gender is None:
        raise invalid("gender", "请填写性别或身份证号 / gender or ID number required")
    if born is None:
        raise invalid("birth_date", "请填写出生日期或身份证号 / birth date or ID number required")
    id_hash = cipher.lookup_hash(body.id_number) if body.id_number else None
    if id_hash is not None:
        _id_taken(session, id_hash, None)
    person = ArchivePerson(
        name=body.name,
        gender=gender,
        birth_date=born,
        id_cipher=cipher.encrypt(body.id_number) if body.id_number else None,
        id_hash=id_hash,
        phone=body.phone,
        household_id=household.id,  # type: ignore[arg-type]
        relation=body.relation,
        unit_code=household.unit_code,
        source=body.source,
        extra=extra,
    )
    with _unique(session, *ID_TAKEN):
        session.add(person)
        session.flush()
        record(
            session,
            actor=actor.label,
            action="archive.person.create",
            target_type="person",
            target_id=str(person.id),
            unit_code=person.unit_code,
            after=_masked(body.model_dump(exclude={"extra"})) | _extra_entry(written),
        )
    return person


def update_person(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    cipher: ArchiveCipher,
    pid: int,
    body: PersonPatch,
    extensions: Extensions,
) -> ArchivePerson:
    """Change a person if ``body.version`` is current (409 otherwise); extension values
    merge per plugin, checked where the person is after the change. Audited."""
    person = session.exec(
        select(ArchivePerson).where(
            col(ArchivePerson.id) == pid,
            scope_clause(actor, catalog, WRITE, col(ArchivePerson.unit_code)),
        )
    ).first()
    if person is None:
        raise not_found()
    given = body.model_dump(exclude={"version", "extra"}, exclude_none=True)
    if body.id_number is not None:  # a new number brings its own gender and birth date
        gender, born = _identity(body.id_number, body.gender, body.birth_date)
    else:
        number = cipher.decrypt(person.id_cipher) if person.id_cipher else None
        gender, born = _identity(
            number, body.gender or person.gender, body.birth_date or person.birth_date
        )
    changes: dict[str, Any] = {k: v for k, v in given.items() if k != "id_number"}
    changes |= {"gender": gender, "birth_date": born}
    if body.id_number is not None:
        changes["id_hash"] = cipher.lookup_hash(body.id_number)
        changes["id_cipher"] = cipher.encrypt(body.id_number)
        _id_taken(session, changes["id_hash"], pid)
    if body.household_id is not None:
        moved_to = _writable_household(session, actor, catalog, body.household_id)
        changes["unit_code"] = moved_to.unit_code
    extra, was, written = extensions.merge(
        "person", changes.get("unit_code", person.unit_code), person.extra, body.extra
    )
    if written:
        changes["extra"] = extra
    with _unique(session, *ID_TAKEN):
        versioned_update(
            session, ArchivePerson, col(ArchivePerson.id) == pid, body.version, changes
        )
        record(
            session,
            actor=actor.label,
            action="archive.person.update",
            target_type="person",
            target_id=str(pid),
            unit_code=changes.get("unit_code", person.unit_code),
            before=_extra_entry(was) or None,
            after=_masked(given) | _extra_entry(written),
        )
    session.refresh(person)
    return person
