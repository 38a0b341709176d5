"""Importing a department's archive sheet (CSV or XLSX) into households and persons.

Rows are read as a stream and handled in batches of :data:`BATCH_ROWS`, each in its own
transaction: validate every row (an invalid one goes to the errors file with its row,
column, value and reason), look the batch's households up by 户号 and its persons by the
keyed hash of 身份证号 in one query each, then write with Core ``executemany`` (no ORM unit of
work). A row equal to what is stored changes nothing, so a re-run of the same file reports
no changes, and a crash leaves whole batches that a re-run completes. Each changed existing
person or household gets an audit entry (ID and phone masked); the run gets one summary
entry. Rows repeating a 身份证号 or disagreeing about a household within one batch are
rejected; across batches the later row wins.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, String, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.archives.bulk_indexes import built_after
from core.archives.crypto import ArchiveCipher
from core.archives.idnumbers import (
    IdNumberError,
    birth_date_of,
    gender_of,
    mask_phone,
    validate_id_number,
    validate_phone,
)
from core.archives.models import GENDERS, RELATIONS, ArchiveHousehold, ArchivePerson
from core.archives.template import (
    ADDRESS,
    BIRTH_DATE,
    GENDER,
    GRID,
    HOUSEHOLD,
    ID_NUMBER,
    NAME,
    PHONE,
    RELATION,
    Row,
    read_rows,
)
from core.audit.service import record
from core.db.types import utcnow
from core.units.codes import Level, UnitCode, UnitCodeError, parse_code
from core.units.models import Unit
from core.units.service import get_unit

BATCH_ROWS = 10000
HOUSEHOLDS = ArchiveHousehold.__table__  # type: ignore[attr-defined]
PERSONS = ArchivePerson.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]
GENDER_KEYS = {label: key for key, label in GENDERS.items()}
RELATION_KEYS = {label: key for key, label in RELATIONS.items()} | {
    "本人": "head",
    "妻": "spouse",
    "夫": "spouse",
    "子": "child",
    "女": "child",
    "儿媳": "child_in_law",
    "女婿": "child_in_law",
    "父": "parent",
    "母": "parent",
    "孙子": "grandchild",
    "孙女": "grandchild",
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
PERSON_FIELDS = ("name", "gender", "birth_date", "phone", "household_id", "relation", "unit_code")
LIMITS = {NAME: 50, HOUSEHOLD: 32, ADDRESS: 200}


@dataclass
class ImportSummary:
    """What an import did (or, in a dry run, would do), counted in rows of the file."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.rejected


@dataclass
class Problem:
    """One reason a row was rejected."""

    row: int
    column: str
    value: str
    reason: str


@dataclass
class PersonRow:
    """A valid row, ready to write."""

    row: int
    name: str
    id_number: str
    gender: str
    birth_date: date
    phone: str | None
    household: str
    relation: str
    address: str
    grid: str
    problems: list[Problem] = field(default_factory=list)
    id_hash: str = ""  # the keyed hash and the ciphertext of a valid row's ID number
    id_cipher: str = ""


# -- validating one row --------------------------------------------------------------------


def _parse_date(text: str) -> date | None:
    if len(text) == 10 and text[4] == "-":  # YYYY-MM-DD, nearly every row: no strptime
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # the formats below say
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=4096)
def _grid_code(text: str) -> UnitCode:
    """:func:`parse_code`, memoised: a file names the same few hundred grids on every row."""
    return parse_code(text)


def check_row(row: int, values: dict[str, str], scope_path: str, today: date) -> PersonRow:
    """The row's values, canonical; its ``problems`` list every column that is wrong (the
    grid's existence is checked per batch)."""
    problems: list[Problem] = []

    def bad(column: str, reason: str) -> None:
        problems.append(Problem(row, column, values.get(column, ""), reason))

    for column in (NAME, ID_NUMBER, HOUSEHOLD, RELATION, ADDRESS, GRID):
        if not values[column]:
            bad(column, "必填 / required")
    for column, limit in LIMITS.items():
        if len(values[column]) > limit:
            bad(column, f"超过 {limit} 个字 / longer than {limit} characters")
    number, id_born, id_gender = "", None, ""
    if values[ID_NUMBER]:
        try:
            number = validate_id_number(values[ID_NUMBER], today)
        except IdNumberError as exc:
            bad(ID_NUMBER, str(exc))
        else:
            id_born, id_gender = birth_date_of(number), gender_of(number)
    gender = GENDER_KEYS.get(values[GENDER]) if values[GENDER] else None
    if values[GENDER] and gender is None:
        bad(GENDER, "性别应为 男 或 女 / gender must be 男 or 女")
    elif gender and number and gender != id_gender:
        bad(GENDER, "性别与身份证号不符 / does not match the ID number")
    born = _parse_date(values[BIRTH_DATE]) if values[BIRTH_DATE] else None
    if values[BIRTH_DATE] and born is None:
        bad(BIRTH_DATE, "日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD")
    elif born and born > today:
        bad(BIRTH_DATE, "出生日期在未来 / birth date in the future")
    elif born and number and born != id_born:
        bad(BIRTH_DATE, "出生日期与身份证号不符 / does not match the ID number")
    phone = None
    if values[PHONE]:
        try:
            phone = validate_phone(values[PHONE])
        except ValueError as exc:
            bad(PHONE, str(exc))
    relation = RELATION_KEYS.get(values[RELATION], "")
    if values[RELATION] and not relation:
        bad(RELATION, "与户主关系应为 " + "、".join(RELATIONS.values()) + " 之一 / unknown")
    grid = values[GRID]
    if grid:
        try:
            code = _grid_code(grid)
        except UnitCodeError as exc:
            bad(GRID, str(exc))
        else:
            if code.level is not Level.grid:
                bad(GRID, "应为 15 位网格代码 / must be a grid")
            elif not code.code.startswith(scope_path):
                bad(GRID, "网格不在导入单位范围内 / grid outside the importing unit's scope")
    return PersonRow(
        row=row,
        name=values[NAME],
        id_number=number,
        gender=gender or id_gender,
        birth_date=born or id_born or today,
        phone=phone,
        household=values[HOUSEHOLD],
        relation=relation,
        address=values[ADDRESS],
        grid=grid,
        problems=problems,
    )


# -- reading a batch's rows back ----------------------------------------------------------


@functools.cache
def _matching_statement(column: Any, dialect: str, *wanted: Any) -> Any:
    """``SELECT`` (``wanted`` columns, or the whole table) ``WHERE column`` is one of the
    values of a single bound list ``:values``: ``= ANY(array)`` on PostgreSQL, ``IN (SELECT
    value FROM json_each(:values))`` on SQLite. A batch's thousands of keys are one
    parameter, not thousands (rendering those cost more than the lookups themselves)."""
    query = select(*wanted) if wanted else select(column.table)
    if dialect == "postgresql":
        return query.where(column == any_(bindparam("values", type_=ARRAY(String))))
    values = text("SELECT value FROM json_each(:values)").columns(value=String)
    return query.where(column.in_(values))


def matching(conn: Connection, column: Any, values: Iterable[str], *wanted: Any) -> tuple[Any, Any]:
    """Arguments for ``conn.execute``: rows whose ``column`` is one of ``values``."""
    statement = _matching_statement(column, conn.dialect.name, *wanted)
    listed = list(values)
    return statement, {
        "values": listed if conn.dialect.name == "postgresql" else json.dumps(listed)
    }


# -- writing new rows fast -----------------------------------------------------------------

# The columns of a new row given by the importer; created_at, updated_at and version follow.
NEW_PERSON_COLUMNS = (*PERSON_FIELDS, "id_hash", "id_cipher", "source")
NEW_HOUSEHOLD_COLUMNS = ("number", "address", "unit_code", "source")
STAMPS = ("created_at", "updated_at", "version")


def bulk_insert(
    conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]], now: Any
) -> None:
    """Insert ``rows`` (values of ``columns``, then the stamps) into ``table`` in one driver
    call: ``COPY`` on PostgreSQL, ``executemany`` of one prepared ``INSERT`` on SQLite.

    The ORM unit of work and Core's per-row parameter processing cost more than the
    database's own work on this path; values are converted here the way the column types
    would convert them (each column's own bind processor, the timestamp once).
    """
    names = (*columns, *STAMPS)
    dialect = conn.dialect
    if dialect.name == "postgresql":
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row((*row, now, now, 1))
        return
    convert = [
        (index, processor)
        for index, name in enumerate(columns)
        if (processor := table.c[name].type._cached_bind_processor(dialect)) is not None
    ]
    stamp = table.c.created_at.type._cached_bind_processor(dialect)
    stamps = (stamp(now), stamp(now), 1) if stamp is not None else (now, now, 1)
    if convert:
        rows = [_converted(row, convert) for row in rows]
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
        [(*row, *stamps) for row in rows],
    )


def _converted(row: tuple[Any, ...], convert: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for index, processor in convert:
        if values[index] is not None:
            values[index] = processor(values[index])
    return tuple(values)


# -- one batch -----------------------------------------------------------------------------


class _Batch:
    """One batch's valid rows checked against each other and the database, then written."""

    def __init__(self, conn: Connection, cipher: ArchiveCipher, source: str, actor: str) -> None:
        self.conn, self.cipher, self.source, self.actor = conn, cipher, source, actor

    def reject_clashes(self, rows: list[PersonRow]) -> None:
        """Within the batch: a repeated ID number, a household given two addresses or
        grids, or a grid that does not exist."""
        known = set(
            self.conn.scalars(
                *matching(self.conn, UNITS.c.code, {r.grid for r in rows}, UNITS.c.code)
            )
        )
        ids: set[str] = set()
        homes: dict[str, tuple[str, str]] = {}
        for r in rows:
            if r.grid not in known:
                r.problems.append(Problem(r.row, GRID, r.grid, "网格不存在 / no such grid"))
            if r.problems:
                continue
            if r.id_number in ids:
                reason = "与本批前面的行身份证号重复 / ID number repeated in the file"
                r.problems.append(Problem(r.row, ID_NUMBER, r.id_number, reason))
            home = homes.setdefault(r.household, (r.address, r.grid))
            if home != (r.address, r.grid):
                reason = "同一户号的住址或网格与前面的行不一致 / household differs from above"
                r.problems.append(Problem(r.row, HOUSEHOLD, r.household, reason))
            ids.add(r.id_number)

    def run(self, rows: list[PersonRow], dry_run: bool, summary: ImportSummary) -> None:
        """Count (and unless ``dry_run`` write) the batch's valid rows."""
        if not rows:
            return
        now = utcnow()
        homes = {r.household: (r.address, r.grid) for r in rows}
        found = {
            h.number: h for h in self.conn.execute(*matching(self.conn, HOUSEHOLDS.c.number, homes))
        }
        new_homes = [n for n in homes if n not in found]
        moved = {h.id: h for n, h in found.items() if (h.address, h.unit_code) != homes[n]}
        ids = {n: h.id for n, h in found.items()}
        if not dry_run:
            self._write_households(new_homes, homes, moved, now)
            if new_homes:
                number = HOUSEHOLDS.c.number
                fresh = matching(self.conn, number, new_homes, number, HOUSEHOLDS.c.id)
                ids |= {h.number: h.id for h in self.conn.execute(*fresh)}
        hashes = {r.id_hash: r for r in rows}
        stored = {
            p.id_hash: p for p in self.conn.execute(*matching(self.conn, PERSONS.c.id_hash, hashes))
        }
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        for id_hash, r in hashes.items():
            wanted = {
                "name": r.name,
                "gender": r.gender,
                "birth_date": r.birth_date,
                "phone": r.phone,
                "household_id": ids.get(r.household),
                "relation": r.relation,
                "unit_code": r.grid,
            }
            person = stored.get(id_hash)
            if person is None:
                summary.inserted += 1
                inserts.append((*wanted.values(), id_hash, r.id_cipher, self.source))
                continue
            changed = {k: v for k, v in wanted.items() if getattr(person, k) != v}
            household_changed = ids.get(r.household) in moved
            if not changed and not household_changed:
                summary.unchanged += 1
                continue
            summary.updated += 1
            if changed:
                updates.append(
                    wanted | {"pid": person.id, "version": person.version + 1, "updated_at": now}
                )
                self._audit_person(person, changed)
        if not dry_run:
            if inserts:
                bulk_insert(self.conn, PERSONS, NEW_PERSON_COLUMNS, inserts, now)
            if updates:
                self.conn.execute(
                    update(PERSONS)
                    .where(PERSONS.c.id == bindparam("pid"))
                    .values({k: bindparam(k) for k in (*PERSON_FIELDS, "version", "updated_at")}),
                    updates,
                )

    def _write_households(
        self,
        new: list[str],
        homes: dict[str, tuple[str, str]],
        moved: dict[int, Any],
        now: Any,
    ) -> None:
        if new:
            rows = [(n, *homes[n], self.source) for n in new]
            bulk_insert(self.conn, HOUSEHOLDS, NEW_HOUSEHOLD_COLUMNS, rows, now)
        if not moved:
            return
        self.conn.execute(
            update(HOUSEHOLDS)
            .where(HOUSEHOLDS.c.id == bindparam("hid"))
            .values(
                address=bindparam("address"),
                unit_code=bindparam("unit_code"),
                version=bindparam("version"),
                updated_at=bindparam("updated_at"),
            ),
            [
                {
                    "hid": h.id,
                    "address": homes[h.number][0],
                    "unit_code": homes[h.number][1],
                    "version": h.version + 1,
                    "updated_at": now,
                }
                for h in moved.values()
            ],
        )
        self.conn.execute(  # members not in the file follow their household's grid
            update(PERSONS)
            .where(PERSONS.c.household_id == bindparam("hid"))
            .values(unit_code=bindparam("grid")),
            [{"hid": h.id, "grid": homes[h.number][1]} for h in moved.values()],
        )
        for h in moved.values():
            address, grid = homes[h.number]
            record(
                self.conn,
                actor=self.actor,
                action="archive.household.update",
                target_type="household",
                target_id=str(h.id),
                unit_code=grid,
                before={"address": h.address, "unit_code": h.unit_code},
                after={"address": address, "unit_code": grid},
                source=self.source,
            )

    def _audit_person(self, person: Any, changed: dict[str, Any]) -> None:
        def shown(key: str, value: Any) -> Any:
            if key == "phone" and value:
                return mask_phone(value)
            return value.isoformat() if isinstance(value, date) else value

        record(
            self.conn,
            actor=self.actor,
            action="archive.person.update",
            target_type="person",
            target_id=str(person.id),
            unit_code=changed.get("unit_code", person.unit_code),
            before={k: shown(k, getattr(person, k)) for k in changed},
            after={k: shown(k, v) for k, v in changed.items()},
            source=self.source,
        )


# -- the whole file ------------------------------------------------------------------------


@contextmanager
def _errors_writer(path: Path | None) -> Iterator[Callable[[Iterable[Problem]], None]]:
    handle: TextIO | None = None
    try:
        if path is not None:
            handle = path.open("w", encoding="utf-8-sig", newline="")
            writer = csv.writer(handle)
            writer.writerow(("行", "列", "值", "原因"))

        def write(problems: Iterable[Problem]) -> None:
            if handle is not None:
                writer.writerows((p.row, p.column, p.value, p.reason) for p in problems)

        yield write
    finally:
        if handle is not None:
            handle.close()


SQLITE_IMPORT_CACHE_KIB = 65536


@contextmanager
def _import_connection(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole import (a transaction per batch on it). On SQLite its
    page cache is raised to 64 MiB while the import runs: the default 2 MiB cannot hold the
    indexes a large archive inserts into (the keyed hashes land all over theirs), and every
    miss is a read. Set back before the connection returns to the pool."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
            conn.commit()
        try:
            yield conn
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")
                conn.commit()


def _checked_chunks(
    rows: Iterator[Row], size: int, scope_path: str, today: date, cipher: ArchiveCipher
) -> Iterator[tuple[list[Row], list[PersonRow]]]:
    """The file's rows ``size`` at a time, each checked, valid ones hashed and encrypted."""
    while chunk := list(islice(rows, size)):
        checked = [check_row(n, values, scope_path, today) for n, values in chunk]
        for r in checked:
            if not r.problems:
                r.id_hash, r.id_cipher = (
                    cipher.lookup_hash(r.id_number),
                    cipher.encrypt(r.id_number),
                )
        yield chunk, checked


def import_archive(
    engine: Engine,
    cipher: ArchiveCipher,
    path: Path,
    *,
    unit_code: str,
    actor: str,
    source: str = "import",
    dry_run: bool = False,
    errors: Path | None = None,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import ``path`` for the unit ``unit_code``: grids outside its subtree are rejected.

    ``progress(rows)`` is called after each batch is committed with the rows it held.
    ``dry_run`` validates and counts but writes nothing (not even the audit entry);
    households first met in an earlier batch then count as new again.

    :raises UnitNotFound: ``unit_code`` names no unit.
    :raises SheetError: the file is unreadable or lacks a required column.
    """
    with Session(engine) as session:
        scope = get_unit(session, unit_code)
    scope_path, today = parse_code(scope.code).path, today or date.today()
    summary = ImportSummary()
    rows: Iterator[Row] = read_rows(path, encoding)
    chunks = _checked_chunks(rows, batch_rows, scope_path, today, cipher)
    with (
        _errors_writer(errors) as write_errors,
        built_after(engine, enabled=not dry_run),
        _import_connection(engine) as conn,
    ):
        # Reading ahead in a thread was tried: the GIL hand-offs slowed the writes more than
        # the overlap gained (docs/benchmarks.md, "Archives").
        for chunk, checked in chunks:
            batch = _Batch(conn, cipher, source, actor)
            batch.reject_clashes(checked)
            bad = [r for r in checked if r.problems]
            summary.rejected += len(bad)
            write_errors(p for r in bad for p in r.problems)
            batch.run([r for r in checked if not r.problems], dry_run, summary)
            if dry_run:
                conn.rollback()
            else:
                conn.commit()
            if progress is not None:
                progress(len(chunk))
    if not dry_run:
        with engine.begin() as conn:
            record(
                conn,
                actor=actor,
                action="archive.import",
                target_type="import",
                target_id=path.name,
                unit_code=scope.code,
                after={
                    "inserted": summary.inserted,
                    "updated": summary.updated,
                    "unchanged": summary.unchanged,
                    "rejected": summary.rejected,
                },
                source=source,
            )
    return summary
