"""Form subjects ``household`` and ``person``: plugin forms (一事一表) attach to archive
records through these resolvers (:mod:`core.forms.subjects`), each one prebuilt statement
with the scope as bound values."""

from __future__ import annotations

import functools
import re

from sqlalchemy import Connection, Select, Table, bindparam, select

from core.archives.models import ArchiveHousehold, ArchivePerson
from core.forms.subjects import Within
from core.identity.access import bound_scope_clause
from core.web.inputs import DB_INT_MAX

ROW_ID = re.compile(r"[1-9][0-9]{0,9}")


@functools.cache
def _statement(table: Table, ranges: int) -> Select[tuple[str]]:
    return select(table.c.unit_code).where(
        table.c.id == bindparam("id"), bound_scope_clause(table.c.unit_code, ranges)
    )


def _resolve(table: Table, conn: Connection, subject_id: str, within: Within) -> str | None:
    if not ROW_ID.fullmatch(subject_id) or int(subject_id) > DB_INT_MAX:
        return None
    statement = _statement(table, len(within.ranges))
    return conn.execute(statement, {"id": int(subject_id), **within.parameters}).scalar()


def resolve_household(conn: Connection, subject_id: str, within: Within) -> str | None:
    """A household subject: its grid, if it exists within the scope."""
    return _resolve(ArchiveHousehold.__table__, conn, subject_id, within)  # type: ignore[arg-type]


def resolve_person(conn: Connection, subject_id: str, within: Within) -> str | None:
    """A person subject: its household's grid, if it exists within the scope."""
    return _resolve(ArchivePerson.__table__, conn, subject_id, within)  # type: ignore[arg-type]
