"""Importing a department's archive sheet (CSV or XLSX) into households and persons.

Rows are read as a stream and handled in batches of :data:`BATCH_ROWS`, each in its own
transaction (on a first import, :data:`FIRST_IMPORT_BATCHES` batches a transaction): check
every row (:mod:`core.archives.rowcheck`; an invalid one goes to the errors file with its
row, column, value and reason), look the batch's households up by 户号 and its persons by the
keyed hash of 身份证号 in one query each, then write with driver ``executemany`` / ``COPY``
(no ORM unit of work). A row equal to what is stored changes
nothing, so a re-run of the same file reports no changes, and a crash leaves whole batches
that a re-run completes. Each changed existing person or household gets an audit entry (ID
and phone masked); the run gets one summary entry. Rows repeating a 身份证号 or disagreeing
about a household within one batch are rejected; across batches the later row wins.

A file of :data:`PARALLEL_BYTES` or more is read and checked by a second process
(:mod:`core.archives.import_worker`) while this one writes: checking (reading, the rules,
the keyed hash and the encryption) and writing each take about half of the work.
"""

from __future__ import annotations

import csv
import functools
import gc
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, String, bindparam, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.archives.bulk_indexes import built_after
from core.archives.crypto import ArchiveCipher
from core.archives.idnumbers import mask_phone
from core.archives.import_worker import checked_in_worker
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.archives.rowcheck import CheckedBatch, Problem, checked_batches
from core.audit.service import record
from core.db.types import utcnow
from core.units.codes import Level, parse_code
from core.units.models import Unit
from core.units.service import get_unit, in_subtree

BATCH_ROWS = 10000
FIRST_IMPORT_BATCHES = 10  # batches a transaction of a first import holds
PARALLEL_BYTES = 4_000_000  # ~35,000 rows of CSV: below, starting a process costs more
HOUSEHOLDS = ArchiveHousehold.__table__  # type: ignore[attr-defined]
PERSONS = ArchivePerson.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]
PERSON_FIELDS = ("name", "gender", "birth_date", "phone", "household_id", "relation", "unit_code")


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


# -- reading a batch's rows back ----------------------------------------------------------


@functools.cache
def _matching_statement(column: Any, dialect: str, *wanted: Any) -> Any:
    """``SELECT`` (``wanted`` columns, or the whole table) ``WHERE column`` is one of the
    values of a single bound JSON list ``:values``: ``IN (SELECT value FROM
    json_each(:values))`` on SQLite, ``IN (SELECT json_array_elements_text(:values))`` on
    PostgreSQL. A batch's thousands of keys are one parameter, not thousands (rendering
    those cost more than the lookups themselves), and JSON, not an array: psycopg checks
    every element of a list parameter with a regular expression."""
    query = select(*wanted) if wanted else select(column.table)
    if dialect == "postgresql":
        values = text("SELECT json_array_elements_text(CAST(:values AS json))")
    else:
        values = text("SELECT value FROM json_each(:values)")
    return query.where(column.in_(values.columns(value=String)))


def matching(conn: Connection, column: Any, values: Iterable[str], *wanted: Any) -> tuple[Any, Any]:
    """Arguments for ``conn.execute``: rows whose ``column`` is one of ``values``."""
    statement = _matching_statement(column, conn.dialect.name, *wanted)
    return statement, {"values": json.dumps(list(values))}


# -- writing new rows fast -----------------------------------------------------------------

# The columns of a new row given by the importer; created_at, updated_at and version follow.
NEW_PERSON_COLUMNS = (*PERSON_FIELDS, "id_hash", "id_cipher", "source")
NEW_HOUSEHOLD_COLUMNS = ("number", "address", "unit_code", "source")
STAMPS = ("created_at", "updated_at", "version")


def bulk_insert(
    conn: Connection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]], now: Any
) -> None:
    """Insert ``rows`` (values of ``columns`` as the driver takes them: text, numbers, dates
    as ``YYYY-MM-DD``; then the stamps are added) into ``table`` in one driver call: ``COPY``
    on PostgreSQL, ``executemany`` of one prepared ``INSERT`` on SQLite.

    The ORM unit of work and Core's per-row parameter processing cost more than the
    database's own work on this path; the timestamp is converted once, by its column's type.
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
    stamp = table.c.created_at.type._cached_bind_processor(dialect)
    stamps = (stamp(now), stamp(now), 1) if stamp is not None else (now, now, 1)
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
        [(*row, *stamps) for row in rows],
    )


# -- one batch -----------------------------------------------------------------------------


class _Writer:
    """Writes the checked batches: inserts, updates and their audit entries."""

    def __init__(self, conn: Connection, source: str, actor: str, dry_run: bool) -> None:
        self.conn, self.source, self.actor, self.dry_run = conn, source, actor, dry_run

    def write(self, batch: CheckedBatch, summary: ImportSummary) -> None:
        """Count (and unless ``dry_run`` write) the batch's valid rows."""
        if not batch.persons:
            return
        conn, now = self.conn, utcnow()
        homes = {number: (address, grid) for number, address, grid in batch.households}
        found = {h.number: h for h in conn.execute(*matching(conn, HOUSEHOLDS.c.number, homes))}
        new_homes = [n for n in homes if n not in found]
        moved = {h.id: h for n, h in found.items() if (h.address, h.unit_code) != homes[n]}
        ids = {n: h.id for n, h in found.items()}
        if not self.dry_run:
            self._write_households(new_homes, homes, moved, now)
            if new_homes:
                number = HOUSEHOLDS.c.number
                fresh = matching(conn, number, new_homes, number, HOUSEHOLDS.c.id)
                ids |= dict(conn.execute(*fresh).all())
        hashes = [person[7] for person in batch.persons]
        stored = {p.id_hash: p for p in conn.execute(*matching(conn, PERSONS.c.id_hash, hashes))}
        source = self.source
        if not stored:  # nobody of the batch is in the archive yet: every row is an insert
            summary.inserted += len(batch.persons)
            inserts = [
                (name, gender, born, phone, ids.get(home), relation, grid, hashed, sealed, source)
                for name, gender, born, phone, home, relation, grid, hashed, sealed in batch.persons
            ]
        else:
            inserts = self._compare(batch, stored, ids, moved, now, summary)
        if not self.dry_run and inserts:
            bulk_insert(conn, PERSONS, NEW_PERSON_COLUMNS, inserts, now)

    def _compare(
        self,
        batch: CheckedBatch,
        stored: dict[str, Any],
        ids: dict[str, Any],
        moved: dict[int, Any],
        now: Any,
        summary: ImportSummary,
    ) -> list[tuple[Any, ...]]:
        """Update the stored persons that changed (audited); the inserts of the others."""
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        for name, gender, born, phone, home, relation, grid, hashed, sealed in batch.persons:
            person = stored.get(hashed)
            if person is None:
                summary.inserted += 1
                household, source = ids.get(home), self.source
                inserts.append(
                    (name, gender, born, phone, household, relation, grid, hashed, sealed, source)
                )
                continue
            wanted = {
                "name": name,
                "gender": gender,
                "birth_date": date.fromisoformat(born),
                "phone": phone,
                "household_id": ids.get(home),
                "relation": relation,
                "unit_code": grid,
            }
            changed = {k: v for k, v in wanted.items() if getattr(person, k) != v}
            if not changed and ids.get(home) not in moved:
                summary.unchanged += 1
                continue
            summary.updated += 1
            if changed:
                updates.append(
                    wanted | {"pid": person.id, "version": person.version + 1, "updated_at": now}
                )
                self._audit_person(person, changed)
        if updates and not self.dry_run:
            self.conn.execute(
                update(PERSONS)
                .where(PERSONS.c.id == bindparam("pid"))
                .values({k: bindparam(k) for k in (*PERSON_FIELDS, "version", "updated_at")}),
                updates,
            )
        return inserts

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
                writer.writerows(problems)

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


def _grids(engine: Engine, scope_path: str) -> list[str]:
    """The codes of the grids inside the importing unit: a row's grid must be one of them."""
    with engine.connect() as conn:
        inside = select(UNITS.c.code).where(in_subtree(scope_path), UNITS.c.level == Level.grid)
        return list(conn.scalars(inside))


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
    parallel: bool | None = None,
    first_import_batches: int = FIRST_IMPORT_BATCHES,
) -> ImportSummary:
    """Import ``path`` for the unit ``unit_code``: grids outside its subtree are rejected.

    Each batch of ``batch_rows`` rows is committed, or on a first import (an empty archive,
    its secondary indexes built after the load) every ``first_import_batches`` batches:
    each commit of a large archive rewrites the index pages its batches touched (the keyed
    hashes land all over theirs). ``progress(rows)`` is called after each commit with the
    rows it held. ``dry_run`` validates and counts but writes nothing (not even the audit
    entry); households first met in an earlier batch then count as new again.
    ``parallel``: check the rows in a second process (default: for a file of
    :data:`PARALLEL_BYTES` or more); the outcome is the same either way.

    :raises UnitNotFound: ``unit_code`` names no unit.
    :raises SheetError: the file is unreadable or lacks a required column.
    :raises ImportWorkerError: the checking process failed.
    """
    with Session(engine) as session:
        scope = get_unit(session, unit_code)
    scope_path, today = parse_code(scope.code).path, today or date.today()
    grids = _grids(engine, scope_path)
    if parallel is None:
        parallel = bool(sys.executable) and path.is_file() and path.stat().st_size >= PARALLEL_BYTES
    check = checked_in_worker if parallel else checked_batches
    summary = ImportSummary()
    with (
        _errors_writer(errors) as write_errors,
        built_after(engine, enabled=not dry_run) as first,
        _import_connection(engine) as conn,
        closing(check(path, encoding, batch_rows, scope_path, today, grids, cipher)) as batches,
        _young_collections(),
    ):
        writer = _Writer(conn, source, actor, dry_run)
        per_commit = first_import_batches if first else 1
        pending = done = 0
        for batch in batches:
            summary.rejected += batch.rejected
            write_errors(batch.problems)
            writer.write(batch, summary)
            pending, done = pending + batch.rows, done + 1
            if done % per_commit == 0:
                pending = _end_transaction(conn, dry_run, pending, progress)
        _end_transaction(conn, dry_run, pending, progress)
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


def _end_transaction(
    conn: Connection, dry_run: bool, rows: int, progress: Callable[[int], None] | None
) -> int:
    """Commit (roll back in a dry run) the batches written since the last time, collect the
    young garbage, report their ``rows``; 0, the rows now pending."""
    if dry_run:
        conn.rollback()
    else:
        conn.commit()
    gc.collect(1)
    if progress is not None and rows:
        progress(rows)
    return 0


@contextmanager
def _young_collections() -> Iterator[None]:
    """No automatic garbage collection while the batches are written; the caller collects
    the young generations after each batch. An automatic full collection walks every object
    of the process (the CLI's ~1,100 modules), and the rows a batch allocates set one off
    every few thousand rows."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
