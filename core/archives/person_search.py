"""Finding persons by ID number or name prefix: the hot reads of the archive, each one
prebuilt statement per number of scope ranges with the scope as bound values (building a
statement costs more than running an indexed read, docs/benchmarks.md).

Answers are always masked (ID number and phone): the person's detail unmasks, and audits.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select
from sqlmodel import col

from core.archives.crypto import ArchiveCipher
from core.archives.disclosure import masked_id_number
from core.archives.idnumbers import mask_phone
from core.archives.listing import TOP
from core.archives.models import GENDERS, RELATIONS, ArchivePerson
from core.identity.access import bound_scope_clause, scope_parameters

COLUMNS = (
    col(ArchivePerson.id),
    col(ArchivePerson.name),
    col(ArchivePerson.gender),
    col(ArchivePerson.birth_date),
    col(ArchivePerson.id_cipher),
    col(ArchivePerson.phone),
    col(ArchivePerson.household_id),
    col(ArchivePerson.relation),
    col(ArchivePerson.unit_code),
)


@functools.cache
def by_id_statement(ranges: int) -> Select:  # type: ignore[type-arg]
    """The person whose keyed hash is ``:id_hash``, within ``ranges`` scope ranges: one
    read of the unique index."""
    return select(*COLUMNS).where(
        col(ArchivePerson.id_hash) == bindparam("id_hash"),
        bound_scope_clause(col(ArchivePerson.unit_code), ranges),
    )


@functools.cache
def by_name_statement(ranges: int, dialect: str) -> Select:  # type: ignore[type-arg]
    """Persons whose name starts with a prefix (``:low`` ≤ name < ``:high``), in name order,
    within ``ranges`` scope ranges: an index range (as :func:`core.archives.listing.name_prefix`
    explains)."""
    name = col(ArchivePerson.name)
    ordered = name.collate("C") if dialect == "postgresql" else name
    return (
        select(*COLUMNS)
        .where(
            ordered >= bindparam("low"),
            ordered < bindparam("high"),
            bound_scope_clause(col(ArchivePerson.unit_code), ranges),
        )
        .order_by(ordered, col(ArchivePerson.id))
        .limit(bindparam("limit"))
    )


def _shown(row: Any, cipher: ArchiveCipher) -> dict[str, Any]:
    pid, name, gender, born, cipher_text, phone, household, relation, unit_code = row
    return {
        "id": pid,
        "name": name,
        "gender": gender,
        "gender_label": GENDERS[gender],
        "birth_date": born.isoformat(),
        "id_number": masked_id_number(cipher, cipher_text) if cipher_text else None,
        "phone": mask_phone(phone) if phone else None,
        "masked": True,
        "household_id": household,
        "relation": relation,
        "relation_label": RELATIONS[relation],
        "unit_code": unit_code,
    }


def person_by_id_number(
    conn: Connection, cipher: ArchiveCipher, scope: list[tuple[str, str]], number: str
) -> list[dict[str, Any]]:
    """The person with ID number ``number`` inside ``scope`` (a list of none or one)."""
    values = {"id_hash": cipher.lookup_hash(number), **scope_parameters(scope)}
    return [_shown(r, cipher) for r in conn.execute(by_id_statement(len(scope)), values)]


def persons_by_name(
    conn: Connection,
    cipher: ArchiveCipher,
    scope: list[tuple[str, str]],
    prefix: str,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit`` persons inside ``scope`` whose name starts with ``prefix``."""
    statement = by_name_statement(len(scope), conn.dialect.name)
    values = {"low": prefix, "high": prefix + TOP, "limit": limit, **scope_parameters(scope)}
    return [_shown(r, cipher) for r in conn.execute(statement, values)]
