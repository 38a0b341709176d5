"""The resident archive at a million persons: first import, lookups and HTTP reads, each figure
next to a baseline measured in the same run (issue 5).

Run from the repository root (1,000,000 persons: several minutes on 2 cores)::

    python bench/archive.py                   # SQLite (temporary files), 1,000,000 persons
    python bench/archive.py --postgres        # PostgreSQL, in fresh schemas dropped afterwards
    python bench/archive.py --persons 20000   # a quick trial (well under a minute)
    python bench/archive.py --no-http         # skip the uvicorn part
    python bench/archive.py --keep DIR        # leave the CSV, errors file and SQLite files in DIR
    python bench/archive.py --profile         # also profile an import of 50,000 rows (cProfile)

What is measured (see docs/benchmarks.md, "Archives"):

0. Data: ``bench/archive_data.py`` writes N persons (default 1,000,000) in households of 1-5
   (about N / 2.5) over the 40 demo grids of 柯城区 330802 into a CSV in the import template's
   columns, with valid ID numbers, deterministically (a fixed seed, ages as of 2026-11-27).
1. First import into an empty archive: the real CLI, ``sanmin import archive FILE --unit
   330802000000 --source bench`` (``SANMIN_DATABASE_URL``, a fixed ``SANMIN_ARCHIVE_KEY``), as
   a child process on a freshly migrated database holding the demo units and one account: wall
   time (process start included) and peak memory: the larger of the RSS of the CLI and its
   descendants summed (should the importer ever start helpers), sampled every 0.1 s, and
   ``ru_maxrss`` of ``os.wait4`` (the largest single process's peak, which sampling can
   miss). The counts in the database are checked after.
   Baseline, on a second database migrated the same way: the same CSV read and every row
   validated as the importer does (``check_row``, the grid's existence, repeats within a
   chunk of 10,000, ``lookup_hash`` and ``encrypt``), **untimed**; then, timed: raw
   ``sqlite3`` ``executemany`` (same pragmas as ``core/db/engine.py``) or psycopg ``COPY`` of
   the households (ids assigned here) and persons into the same tables emptied of every index
   and unique constraint, then every index and unique constraint the project's tables have
   (read from the migrated database) built after the load, in one transaction, then the
   commit. Targets: rows/s >= 50% of the baseline's (and never below 25% on SQLite); peak
   memory <= 300 MB (10^6 bytes). For information: the same raw load into a third database
   whose indexes stay in place (what the inserts cost when they maintain the indexes, as the
   importer's do; on SQLite with the importer's 64 MiB page cache), chunk by chunk in turn
   with the baseline; and, per row, the CLI's start-up
   (the same command on a file with only the header), what the import costs beyond each raw
   load, and what reading, checking and crypto cost in the baseline's untimed part.
2. Lookups on the imported database, in process: ``person_search.person_by_id_number`` (the
   service the API calls: keyed hash, one prebuilt read with the demo county admin's scope,
   decrypt and mask) against the raw indexed lookup ``SELECT <same columns> FROM archive_person
   WHERE id_hash = ?`` (hash precomputed) on a raw driver connection (target <= 15x); and
   ``persons_by_name(prefix, 20)`` against the raw ``WHERE name >= ? AND name < ? ORDER BY
   name, id LIMIT 20`` (``COLLATE "C"`` on PostgreSQL, as the service) (target <= 2x), with the
   plan of the service's statement printed (on PostgreSQL after ``ANALYZE``, which autovacuum
   runs within a minute of a large import, and also the generic plan that a prepared statement
   switches to, with how many times the server used each). A name-prefix plan that reads
   every person in scope fails: a table scan, a walk of a whole index (SQLite ``SCAN
   archive_person USING INDEX``) or a read driven by the scope's unit-code range instead of
   the name range; the generic plan counts when the server used it.
   ID numbers and surnames rotate over those ``write_csv`` sampled (one row in 997).
3. HTTP: the same database under uvicorn (a child process, 1 worker, 127.0.0.1), the demo
   county admin's bearer token: median round trip of ``GET /api/v1/archives/persons?id_number=``
   and of ``GET /api/v1/archives/village-book?unit=<village>&limit=50`` against ``GET /healthz``,
   requests alternating on one keep-alive connection (target <= 3x each). The ID numbers rotate
   over 5 samples and the book over its first 5 pages of the village with the most households.
4. With ``--profile``: ``import_archive`` alone (what the CLI calls, after the same set-up) on
   the first 50,000 rows, into a third database, under cProfile in a child process: own time
   per row grouped into reading, validation, hashing and encryption, SQL and the importer's own
   work, and the top functions. The profiler inflates Python code against C code: read the
   shares, not the absolute figures.

Where this differs from the first design, and why: the databases get the demo units and the
demo county admin account, not ``load_demo``, which since the demo archive also writes about
8,000 persons (the import must start from an empty archive); the primary keys stay (the
persons' foreign key needs the households'); the foreign keys stay on both sides (both then
check them per row); the untimed part also converts dates and stamps to what the driver takes.

Timing of lookups as in bench/hooks.py (whose helpers this imports): batches of 20 calls, GC
off, one warm-up round then 31 rounds, service and raw batches interleaved; the ratio is the
median of the per-round ratios. HTTP ratios are ratios of medians. The exit code is 0 even
when a target is missed or a part fails: this is a report.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pstats
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from core.archives import person_search, village_book
from core.archives.crypto import ArchiveCipher, cipher_for
from core.archives.importer import HOUSEHOLDS, PERSONS, SQLITE_IMPORT_CACHE_KIB
from core.archives.listing import TOP
from core.archives.rowcheck import check_row
from core.archives.template import read_rows
from core.db.types import utcnow
from core.demo.load import demo_unit_rows
from core.identity.access import scope_parameters, scope_ranges
from core.identity.models import Account
from core.identity.service import actor_from_token, create_account, issue_token
from core.plugins.registry import PluginRegistry
from core.plugins.service import bump_config_version
from core.settings import Settings
from core.units.codes import parse_code, path_upper_bound
from core.units.service import load_units
from core.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python bench/archive.py``: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

from bench.archive_data import Sample, write_csv  # noqa: E402
from bench.hooks import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    Row,
    Stat,
    bench_database,
    free_port,
    http_latencies,
    interleaved,
    part,
    print_table,
    report,
    timed_loop,
    wait_ready,
)

COUNTY = "330802000000"  # 柯城区, the demo county: the importing unit
ADMIN = "county_admin"
PASSWORD = "bench-archive-2026"  # the benchmark's own account, in a throwaway database
ARCHIVE_KEY = "sanmin-bench-archive-key-2026-11-27-not-a-secret"  # >= 32 characters
AS_OF = date(2026, 11, 27)  # the data's ages are drawn as of this day
SOURCE = "bench"
PERSONS_DEFAULT = 1_000_000
CHUNK = 10_000  # rows the baseline validates (untimed) before inserting them (timed)
PROFILE_ROWS = 50_000
ROUNDS = 31  # timed lookup rounds after one warm-up round
CALL_BATCH = 20
HTTP_REQUESTS = 200  # per kind (healthz, person, book), alternating
HTTP_GROUPS = 5  # ID numbers and book pages rotated over
BOOK_PAGE = 50
NAME_LIMIT = 20
MEMORY_SAMPLE_S = 0.1
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

IMPORT_TARGET = 0.50
IMPORT_FLOOR = 0.25  # SQLite: never below
MEMORY_TARGET_MB = 300.0
ID_TARGET = 15.0
NAME_TARGET = 2.0
HTTP_TARGET = 3.0

ARCHIVE_TABLES = ("archive_household", "archive_person")
PERSON_COLUMNS = (
    "id",
    "name",
    "gender",
    "birth_date",
    "id_cipher",
    "phone",
    "household_id",
    "relation",
    "unit_code",
)
HOUSEHOLD_INSERT = ("id", "number", "address", "unit_code", "source", "created_at", "updated_at")
PERSON_INSERT = (
    "name",
    "gender",
    "birth_date",
    "phone",
    "household_id",
    "relation",
    "unit_code",
    "id_hash",
    "id_cipher",
    "source",
    "created_at",
    "updated_at",
)


# -- databases ---------------------------------------------------------------------------------


@dataclass
class Database:
    """One benchmark database: its SQLAlchemy URL and how to reach it without SQLAlchemy."""

    url: str

    @property
    def postgres(self) -> bool:
        return make_url(self.url).get_backend_name() == "postgresql"

    @property
    def path(self) -> str:
        """The SQLite file."""
        database = make_url(self.url).database
        assert database is not None
        return database

    def raw(self) -> Any:
        """A plain driver connection: ``sqlite3`` with the pragmas of ``core/db/engine.py``
        (autocommit mode: the caller begins), or psycopg with the schema on its search path."""
        if self.postgres:
            import psycopg

            conninfo = make_url(self.url).set(drivername="postgresql")
            return psycopg.connect(conninfo.render_as_string(hide_password=False))
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA journal_mode=WAL")
        return conn


DATABASES = ("project", "baseline", "indexed", "profile")


@contextmanager
def databases(postgres: bool, keep: Path | None, count: int) -> Iterator[list[Database]]:
    """``count`` empty databases, named after :data:`DATABASES` (SQLite files in ``keep``
    when given, else temporary)."""
    with ExitStack() as stack:
        if keep is not None and not postgres:
            files = [keep / f"{name}.db" for name in DATABASES[:count]]
            for path in files:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            yield [Database(f"sqlite:///{path}") for path in files]
            return
        yield [Database(stack.enter_context(bench_database(postgres))) for _ in range(count)]


def app_for(url: str, migrate: bool = False) -> Any:
    """The application on ``url`` with the installed plugins and the benchmark's archive key."""
    settings = Settings(database_url=url, auto_migrate=migrate, archive_key=ARCHIVE_KEY)
    return create_app(settings, registry=PluginRegistry().load())


def prepare(db: Database) -> list[str]:
    """Migrate ``db`` and load the demo units and the demo county admin (an empty archive);
    the 15-digit grid codes of the county, from the database."""
    app = app_for(db.url, migrate=True)
    kernel = app.state.kernel
    with Session(kernel.engine) as session:
        load_units(session, demo_unit_rows())
        bump_config_version(session)
        create_account(
            session,
            kernel.access,
            username=ADMIN,
            password=PASSWORD,
            roles=[(ADMIN, COUNTY)],
            by="bench",
            display_name="基准区管理员",
        )
        session.commit()
        grids = session.execute(
            text(
                "SELECT code FROM unit WHERE code LIKE :county AND length(code) = 15 ORDER BY code"
            ),
            {"county": COUNTY[:6] + "%"},
        )
        found = [code for (code,) in grids]
    kernel.dispose()
    return found


def describe(db: Database) -> str:
    """What the report's second line says about the database."""
    if not db.postgres:
        return f"SQLite {sqlite3.sqlite_version} (files, WAL, synchronous=NORMAL)"
    with db.raw() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"PostgreSQL {version} (fresh schemas)"


def counts(db: Database) -> tuple[int, int]:
    """(households, persons) in the archive."""
    conn = db.raw()
    try:
        households = conn.execute("SELECT count(*) FROM archive_household").fetchone()[0]
        persons = conn.execute("SELECT count(*) FROM archive_person").fetchone()[0]
        return households, persons
    finally:
        conn.close()


# -- 1. the project's import: the CLI in a child process ----------------------------------------


def sanmin_command() -> list[str]:
    """The ``sanmin`` console script next to this interpreter, else ``python -m core.cli``
    (as ``tests/servers.py`` finds it)."""
    script = Path(sys.executable).with_name("sanmin")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "core.cli"]


@dataclass
class ImportRun:
    seconds: float
    peak_mb: float  # the larger of the tree's sampled summed RSS and max_rss_mb, 10^6 bytes
    processes: int  # the most processes seen in the tree at once
    max_rss_mb: float  # ru_maxrss: the largest single process (the CLI or one it waited for)
    status: int
    output: str


def tree_rss(root: int) -> tuple[int, int]:
    """The summed RSS in bytes of process ``root`` and its descendants, and their number."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state"
            children.setdefault(parent, []).append(int(entry.name))
    total = count = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
        except OSError:
            continue
        count += 1
        pending += children.get(pid, [])
    return total, count


class TreeMemory(threading.Thread):
    """Samples :func:`tree_rss` of a process every :data:`MEMORY_SAMPLE_S` until stopped: the
    import may start a second process (a reader of the file), whose memory counts too."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.processes = root, 0, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(MEMORY_SAMPLE_S):
            total, count = tree_rss(self.root)
            self.peak = max(self.peak, total)
            self.processes = max(self.processes, count)


def run_import(db: Database, csv_path: Path, errors: Path, work: Path) -> ImportRun:
    """``sanmin import archive`` in a child process: wall time, memory, exit status and what
    it printed."""
    command = [*sanmin_command(), "import", "archive", str(csv_path), "--unit", COUNTY]
    command += ["--source", SOURCE, "--errors", str(errors)]
    env = {**os.environ, "SANMIN_DATABASE_URL": db.url, "SANMIN_ARCHIVE_KEY": ARCHIVE_KEY}
    out_path = work / "import.out"
    with out_path.open("w+b") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        memory = TreeMemory(proc.pid)
        memory.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        memory.stopped.set()
        memory.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace").strip()
    max_rss = usage.ru_maxrss * 1024  # KiB on Linux
    return ImportRun(
        seconds,
        max(memory.peak, max_rss) / 1e6,
        memory.processes,
        max_rss / 1e6,
        proc.returncode,
        output,
    )


# -- 1. the baseline: validated rows, raw inserts, indexes after ---------------------------------


@dataclass
class Baseline:
    """Seconds of a raw load (timed) and of the validation before it (untimed)."""

    insert_s: float = 0.0
    index_s: float = 0.0
    commit_s: float = 0.0
    read_s: float = 0.0  # untimed part: reading the CSV (read_rows)
    check_s: float = 0.0  # untimed: check_row and the batch checks
    crypto_s: float = 0.0  # untimed: lookup_hash and encrypt
    convert_s: float = 0.0  # untimed: values as the driver takes them
    rejected: int = 0
    indexes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.insert_s + self.index_s + self.commit_s


def strip_sqlite(conn: sqlite3.Connection) -> list[str]:
    """Recreate the (empty) archive tables without their unique constraints and drop their
    indexes; return the statements that rebuild every one of them (unique ones as unique
    indexes, under the constraint's name)."""
    marks = ", ".join("?" * len(ARCHIVE_TABLES))
    tables = dict(
        conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",
            ARCHIVE_TABLES,
        ).fetchall()
    )
    indexes = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({marks}) "
        "AND sql IS NOT NULL ORDER BY tbl_name, name",
        ARCHIVE_TABLES,
    ).fetchall()
    rebuild = [sql for _, sql in indexes]
    unique = re.compile(r",\s*CONSTRAINT (\w+) UNIQUE \(([^)]*)\)")
    stripped = {}
    for table, ddl in tables.items():
        found = unique.findall(ddl)
        declared = [
            row for row in conn.execute(f"PRAGMA index_list({table})") if row[3] == "u"
        ]  # (seq, name, unique, origin, partial): origin 'u' = a UNIQUE constraint
        if len(found) != len(declared):
            raise RuntimeError(f"{table}: unique constraints not understood in {ddl!r}")
        rebuild += [f"CREATE UNIQUE INDEX {name} ON {table} ({cols})" for name, cols in found]
        stripped[table] = unique.sub("", ddl)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    for table in reversed(ARCHIVE_TABLES):
        conn.execute(f"DROP TABLE {table}")
    for table in ARCHIVE_TABLES:
        conn.execute(stripped[table])
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys=ON")
    return rebuild


def strip_postgres(conn: Any) -> list[str]:
    """Drop the archive tables' indexes and unique constraints (the primary keys stay); return
    the statements that rebuild them, as the migrated database defines them."""
    rebuild: list[str] = []
    with conn.transaction():
        for table in ARCHIVE_TABLES:
            indexes = conn.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
                "ORDER BY i.relname",
                (table,),
            ).fetchall()
            constraints = conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'u' ORDER BY conname",
                (table,),
            ).fetchall()
            for name, definition in indexes:
                conn.execute(f'DROP INDEX "{name}"')
                rebuild.append(definition)
            for name, definition in constraints:
                conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return rebuild


def validated_chunks(
    csv_path: Path, grids: set[str], cipher: ArchiveCipher, result: Baseline
) -> Iterator[list[tuple[Any, ...]]]:
    """The CSV's valid rows in chunks, as the importer validates them, each as (number,
    address, grid, name, gender, born, phone, relation, id_hash, id_cipher); the time of each
    step added to ``result`` (all of it untimed for the baseline)."""
    scope_path, today = parse_code(COUNTY).path, date.today()
    rows = read_rows(csv_path)
    while True:
        start = time.perf_counter()
        chunk = list(islice(rows, CHUNK))
        checked_at = time.perf_counter()
        result.read_s += checked_at - start
        if not chunk:
            return
        checked = [check_row(n, values, scope_path, today, grids)[0] for n, values in chunk]
        ids: set[str] = set()
        homes: dict[str, tuple[str, str]] = {}
        valid = []
        for r in checked:  # as rowcheck.check_batch: no problem, no repeat, one home
            if r is None or r[0] in ids:
                continue
            number, household, address, grid = r[0], r[5], r[7], r[8]
            if homes.setdefault(household, (address, grid)) != (address, grid):
                continue
            ids.add(number)
            valid.append(r)
        result.rejected += len(checked) - len(valid)
        crypto_at = time.perf_counter()
        result.check_s += crypto_at - checked_at
        numbers = [r[0] for r in valid]
        sealed = zip(
            [cipher.lookup_hash(number) for number in numbers],
            cipher.encrypt_many(numbers),
            strict=True,
        )
        result.crypto_s += time.perf_counter() - crypto_at
        yield [
            (
                household,
                address,
                grid,
                name,
                gender,
                date.fromisoformat(born),
                phone,
                relation,
                *pair,
            )
            for (_, name, gender, born, phone, household, relation, address, grid), pair in zip(
                valid, sealed, strict=True
            )
        ]


class Loader:
    """Raw loads into one database: validated chunks in (converted untimed, inserted timed),
    then, timed, the indexes (when stripped first) and the commit, all in one transaction."""

    def __init__(self, db: Database, strip: bool) -> None:
        self.postgres, self.conn, self.result = db.postgres, db.raw(), Baseline()
        if strip:
            self.result.indexes = (strip_postgres if self.postgres else strip_sqlite)(self.conn)
        elif not self.postgres:  # maintaining the indexes: the importer's page cache, as it
            self.conn.execute(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
        self.ids: dict[str, int] = {}
        columns = f"{', '.join(HOUSEHOLD_INSERT)}, version"
        person_columns = f"{', '.join(PERSON_INSERT)}, version"
        now = utcnow()
        if self.postgres:
            self.stamps: tuple[Any, ...] = (now, now)
            self.household_sql = f"COPY archive_household ({columns}) FROM STDIN"
            self.person_sql = f"COPY archive_person ({person_columns}) FROM STDIN"
            self.date_of: Any = None
            return
        dialect = sqlite_dialect.dialect()
        stamp_of = HOUSEHOLDS.c.created_at.type.bind_processor(dialect)
        stamp = stamp_of(now) if stamp_of else now
        self.stamps = (stamp, stamp)
        self.date_of = PERSONS.c.birth_date.type.bind_processor(dialect)
        marks = ", ".join("?" * (len(HOUSEHOLD_INSERT) + 1))
        self.household_sql = f"INSERT INTO archive_household ({columns}) VALUES ({marks})"
        marks = ", ".join("?" * (len(PERSON_INSERT) + 1))
        self.person_sql = f"INSERT INTO archive_person ({person_columns}) VALUES ({marks})"
        self.conn.execute("BEGIN")

    def load(self, chunk: list[tuple[Any, ...]]) -> None:
        """Insert one validated chunk (timed); converting its values is not timed."""
        start = time.perf_counter()
        homes, persons = [], []
        for number, address, grid, name, gender, born, phone, relation, hashed, sealed in chunk:
            hid = self.ids.get(number)
            if hid is None:
                hid = self.ids[number] = len(self.ids) + 1
                homes.append((hid, number, address, grid, SOURCE, *self.stamps, 1))
            if self.date_of is not None:
                born = self.date_of(born)
            person = (name, gender, born, phone, hid, relation, grid, hashed, sealed, SOURCE)
            persons.append((*person, *self.stamps, 1))
        timed_at = time.perf_counter()
        self.result.convert_s += timed_at - start
        if self.postgres:
            with self.conn.cursor() as cursor:
                with cursor.copy(self.household_sql) as copy:
                    for row in homes:
                        copy.write_row(row)
                with cursor.copy(self.person_sql) as copy:
                    for row in persons:
                        copy.write_row(row)
        else:
            self.conn.executemany(self.household_sql, homes)
            self.conn.executemany(self.person_sql, persons)
        self.result.insert_s += time.perf_counter() - timed_at

    def finish(self) -> Baseline:
        """Build the indexes stripped before (timed), commit (timed), close."""
        start = time.perf_counter()
        for statement in self.result.indexes:
            self.conn.execute(statement)
        committed_at = time.perf_counter()
        if self.postgres:
            self.conn.commit()
        else:
            self.conn.execute("COMMIT")
        self.result.index_s = committed_at - start
        self.result.commit_s = time.perf_counter() - committed_at
        self.conn.close()
        return self.result


def run_baseline(
    stripped: Database, indexed: Database, csv_path: Path, grids: list[str]
) -> tuple[Baseline, Baseline]:
    """The baseline load of ``csv_path`` into ``stripped`` (its archive indexes rebuilt after
    the load) and, for information, the same rows into ``indexed`` with its indexes in place,
    chunk by chunk in turn; both migrated and prepared as the project's database."""
    fast, incremental = Loader(stripped, strip=True), Loader(indexed, strip=False)
    cipher = ArchiveCipher(ARCHIVE_KEY)
    for chunk in validated_chunks(csv_path, set(grids), cipher, fast.result):
        fast.load(chunk)
        incremental.load(chunk)
    return fast.finish(), incremental.finish()


# -- 1. the report of the import -----------------------------------------------------------------


def bench_import(
    dbs: list[Database], csv_path: Path, rows: int, grids: list[str], work: Path
) -> list[bool]:
    """Part 1: the CLI's import against the raw loads, printed; its targets' verdicts."""
    project, baseline, indexed = dbs[:3]
    empty = work / "empty.csv"
    empty.write_text(csv_path.open(encoding="utf-8-sig").readline(), encoding="utf-8-sig")
    fixed = run_import(project, empty, work / "empty-errors.csv", work)
    if fixed.status != 0:
        raise RuntimeError(f"sanmin import of an empty file failed:\n{fixed.output}")
    before = counts(project)
    run = run_import(project, csv_path, work / "errors.csv", work)
    if run.status != 0:
        raise RuntimeError(f"sanmin import failed ({run.status}):\n{run.output[-2000:]}")
    households, persons = counts(project)
    if before != (0, 0) or persons != rows:
        raise RuntimeError(
            f"after the import: {households} households, {persons} persons, expected {rows} "
            f"persons in an empty archive (before: {before}); the CLI said: {run.output[-300:]}"
        )
    base, incremental = run_baseline(baseline, indexed, csv_path, grids)
    for db in (baseline, indexed):
        if counts(db) != (households, persons) or base.rejected:
            raise RuntimeError(
                f"baseline: {counts(db)} (households, persons), {base.rejected} rejected; "
                f"the project has {(households, persons)}"
            )
    project_rps = rows / run.seconds
    base_rps = rows / base.seconds
    ratio = project_rps / base_rps
    what = "psycopg COPY" if baseline.postgres else "sqlite3 executemany"
    summary = run.output.splitlines()[-1] if run.output else "(nothing printed)"
    print(f"\n1. First import into an empty archive ({rows:,} persons, {households:,} households)")
    print(
        f"  project: sanmin import archive (child process): {run.seconds:,.1f} s = "
        f"{project_rps:,.0f} rows/s; the CLI said: {summary}"
    )
    print(
        f"  baseline: {what}, indexes after: {base.seconds:,.1f} s = {base_rps:,.0f} rows/s "
        f"(inserts {base.insert_s:,.1f} s, {len(base.indexes)} indexes and unique constraints "
        f"{base.index_s:,.1f} s, commit {base.commit_s:,.2f} s)"
    )
    print(
        f"  for information, {what} into the tables with their indexes in place: "
        f"{incremental.seconds:,.1f} s = {rows / incremental.seconds:,.0f} rows/s (inserts "
        f"{incremental.insert_s:,.1f} s, commit {incremental.commit_s:,.2f} s); the import "
        f"reaches {project_rps / (rows / incremental.seconds):.1%} of that"
    )
    verdicts = [ratio >= IMPORT_TARGET]
    floor = ""
    if not baseline.postgres:
        verdicts.append(ratio >= IMPORT_FLOOR)
        floor = f"; floor ≥{IMPORT_FLOOR:.0%}: {'PASS' if verdicts[-1] else 'FAIL'}"
    print(
        f"  throughput ratio {ratio:.1%}  target ≥{IMPORT_TARGET:.0%}: "
        f"{'PASS' if verdicts[0] else 'FAIL'}{floor}"
    )
    memory_ok = run.peak_mb <= MEMORY_TARGET_MB
    verdicts.append(memory_ok)
    print(
        f"  peak memory of the import {run.peak_mb:,.0f} MB  target ≤{MEMORY_TARGET_MB:.0f} MB: "
        f"{'PASS' if memory_ok else 'FAIL'}  (the larger of: the RSS of the CLI and its "
        f"descendants summed, {run.processes} process(es) at most, sampled every "
        f"{MEMORY_SAMPLE_S} s; the largest single process's peak, {run.max_rss_mb:,.0f} MB. "
        f"The CLI on an empty file: {fixed.max_rss_mb:,.0f} MB)"
    )
    per_row = 1e6 / rows
    print("  per row, µs (information):")
    lines = [
        ("the whole import (child process)", run.seconds),
        ("  start-up and shut-down of the CLI (on an empty file)", fixed.seconds),
        ("  the baseline's database work (inserts, indexes after, commit)", base.seconds),
        ("  the import beyond start-up and that", run.seconds - fixed.seconds - base.seconds),
        ("raw inserts with the indexes in place (and commit)", incremental.seconds),
        (
            "  the import beyond start-up and that",
            run.seconds - fixed.seconds - incremental.seconds,
        ),
        ("reading the CSV (read_rows), in the baseline, untimed", base.read_s),
        ("check_row and the batch checks, idem", base.check_s),
        ("lookup_hash + encrypt, idem", base.crypto_s),
    ]
    for label, seconds in lines:
        print(f"    {label:<62} {seconds * per_row:>8.1f}")
    validation = base.read_s + base.check_s + base.crypto_s
    counted = rows / (base.seconds + validation + base.convert_s)
    print(
        f"  for information: against the baseline with reading, validation, crypto and value "
        f"conversion counted ({counted:,.0f} rows/s): {project_rps / counted:.1%}"
    )
    return verdicts


# -- 2. lookups in process -------------------------------------------------------------------------


def service_plan(conn: Connection, statement: Any, values: dict[str, Any]) -> list[str]:
    """The database's plan of ``statement`` as the service sends it, with ``values`` bound."""
    compiled = statement.compile(dialect=conn.dialect)
    params = compiled.construct_params(values)
    if conn.dialect.name == "sqlite":
        positional = tuple(params[name] for name in compiled.positiontup)
        found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, positional)
        return [row[3] for row in found]
    return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + compiled.string, params)]


def generic_plan(
    db: Database, conn: Connection, statement: Any, values: dict[str, Any]
) -> list[str]:
    """PostgreSQL: the generic plan of ``statement``, the one a prepared statement switches to
    (psycopg prepares a statement on its 5th execution; the server then plans it once for any
    values when that looks no dearer than planning for each)."""
    import psycopg

    compiled = statement.compile(dialect=conn.dialect)
    params = compiled.construct_params(values)
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    sql = re.sub(r"%\((\w+)\)s", numbered, compiled.string)
    raw = db.raw()
    try:
        cursor = psycopg.ClientCursor(raw)  # values inlined: EXECUTE takes no $n of its own
        cursor.execute(f"PREPARE bench_plan AS {sql}")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        marks = ", ".join(["%s"] * len(names))
        cursor.execute(f"EXPLAIN EXECUTE bench_plan({marks})", [params[n] for n in names])
        return [row[0] for row in cursor.fetchall()]
    finally:
        raw.close()


def scans(plan: list[str]) -> bool:
    """Whether a name-prefix plan reads all of ``archive_person`` in scope: a table scan, a
    walk of a whole index (no range), or a read driven by the scope's unit-code range (every
    person in the county) instead of the name range."""
    return any(
        re.match(r"\s*SCAN (TABLE )?archive_person\b", line)
        or "Seq Scan on archive_person" in line
        or re.search(r"Index Scan (using|on) ix_archive_person_unit_code\b", line)
        for line in plan
    )


@dataclass
class Lookups:
    """What part 2 found: its table rows, the plans, whether a used name plan scans."""

    rows: list[Row]
    plans: dict[str, list[str]]
    scanning: bool


def bench_lookups(db: Database, sample: Sample) -> tuple[Lookups, str]:
    """Service against raw lookups; also returns the county admin's bearer token."""
    app = app_for(db.url)
    kernel = app.state.kernel
    with Session(kernel.engine) as session:
        account = session.exec(select(Account).where(Account.username == ADMIN)).one()
        token = issue_token(session, account, "bearer", "127.0.0.1")
        session.commit()
        actor = actor_from_token(session, token, "bearer")
    assert actor is not None
    scope = scope_ranges(actor, kernel.access, "archive.read")
    cipher = cipher_for(kernel)
    numbers = sample.id_numbers
    hashes = [cipher.lookup_hash(n) for n in numbers]
    prefixes = sample.surnames
    pg = db.postgres
    columns = ", ".join(PERSON_COLUMNS)
    mark = "%s" if pg else "?"
    by_id_sql = f"SELECT {columns} FROM archive_person WHERE id_hash = {mark}"
    name = 'name COLLATE "C"' if pg else "name"
    by_name_sql = (
        f"SELECT {columns} FROM archive_person WHERE {name} >= {mark} AND {name} < {mark} "
        f"ORDER BY {name}, id LIMIT {NAME_LIMIT}"
    )
    raw = db.raw()
    generic_used = False
    if pg:  # the statistics autovacuum gathers within a minute of a large import
        analyzed = raw.execute(
            "SELECT last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relid = 'archive_person'::regclass"
        ).fetchone()[0]
        raw.execute("ANALYZE archive_household, archive_person")
        raw.commit()
        print(
            "\n  PostgreSQL: ANALYZE of the archive tables before the lookups (autovacuum had "
            f"{'already' if analyzed else 'not yet'} analyzed archive_person)"
        )
    service_conn = kernel.engine.connect()
    try:

        def raw_by_id(i: int) -> list[Any]:
            return raw.execute(by_id_sql, (hashes[i],)).fetchall()

        def service_by_id(i: int) -> list[dict[str, Any]]:
            return person_search.person_by_id_number(service_conn, cipher, scope, numbers[i])

        id_statement = person_search.by_id_statement(len(scope))
        name_statement = person_search.by_name_statement(len(scope), service_conn.dialect.name)
        scope_values = scope_parameters(scope)

        def statement_by_id(i: int) -> list[Any]:
            values = {"id_hash": hashes[i], **scope_values}
            return service_conn.execute(id_statement, values).all()

        def raw_by_name(i: int) -> list[Any]:
            return raw.execute(by_name_sql, (prefixes[i], prefixes[i] + TOP)).fetchall()

        def service_by_name(i: int) -> list[dict[str, Any]]:
            return person_search.persons_by_name(
                service_conn, cipher, scope, prefixes[i], NAME_LIMIT
            )

        def statement_by_name(i: int) -> list[Any]:
            values = {"low": prefixes[i], "high": prefixes[i] + TOP, "limit": NAME_LIMIT}
            return service_conn.execute(name_statement, values | scope_values).all()

        for i in range(len(numbers)):  # the same answers before timing
            found, expected = service_by_id(i), raw_by_id(i)
            assert len(found) == len(expected) == 1, (numbers[i], found, expected)
            assert found[0]["id"] == expected[0][0]
        for i in range(min(len(prefixes), 50)):
            named, expected = service_by_name(i), raw_by_name(i)
            assert [p["id"] for p in named] == [r[0] for r in expected], prefixes[i]
            assert len(named) == NAME_LIMIT, (prefixes[i], len(named))

        id_values = {"id_hash": hashes[0], **scope_values}
        name_values = {"low": prefixes[0], "high": prefixes[0] + TOP, "limit": NAME_LIMIT}
        name_values |= scope_values
        plans = {
            "person_by_id_number's statement": service_plan(service_conn, id_statement, id_values),
            "persons_by_name's statement": service_plan(service_conn, name_statement, name_values),
        }
        village, _ = busiest_village(db)
        path = parse_code(village).path
        book_values = {"low": path, "high": path_upper_bound(path), "limit": BOOK_PAGE + 1}
        book_values |= {"offset": 0} | scope_values
        plans[f"read_book's page statement, village {village} (information)"] = service_plan(
            service_conn, village_book.book_statement(len(scope), False), book_values
        )
        if pg:
            plans["person_by_id_number's statement, generic plan"] = generic_plan(
                db, service_conn, id_statement, id_values
            )
            plans["persons_by_name's statement, generic plan"] = generic_plan(
                db, service_conn, name_statement, name_values
            )

        def rotating(fn: Callable[[int], Any], size: int) -> Callable[[], float]:
            order = itertools.cycle(range(size))
            return lambda: timed_loop(fn, [next(order) for _ in range(CALL_BATCH)])

        stats = interleaved(
            {
                "statement_id": rotating(statement_by_id, len(numbers)),
                "service_id": rotating(service_by_id, len(numbers)),
                "raw_id": rotating(raw_by_id, len(numbers)),
                "hash": rotating(lambda i: cipher.lookup_hash(numbers[i]), len(numbers)),
                "statement_name": rotating(statement_by_name, len(prefixes)),
                "service_name": rotating(service_by_name, len(prefixes)),
                "raw_name": rotating(raw_by_name, len(prefixes)),
            },
            ROUNDS,
        )
        if pg:  # which plans the server ran the service's prepared name statement with
            used = service_conn.exec_driver_sql(
                "SELECT coalesce(sum(custom_plans), 0), coalesce(sum(generic_plans), 0) "
                "FROM pg_prepared_statements WHERE strpos(statement, 'COLLATE \"C\"') > 0"
            ).one()
            generic_used = used[1] > 0
            print(
                f"\n  PostgreSQL ran persons_by_name's prepared statement with {used[0]} custom "
                f"and {used[1]} generic plans"
            )
    finally:
        service_conn.close()
        raw.close()
        kernel.dispose()
    rows = [
        Row(
            "by ID number: person_by_id_number",
            stats["service_id"],
            stats["raw_id"],
            "I",
            ID_TARGET,
        ),
        Row(
            "  the service's statement alone (hash given)",
            stats["statement_id"],
            stats["raw_id"],
            "I",
        ),
        Row("  the keyed hash alone (HMAC-SHA256)", stats["hash"], stats["raw_id"], "I"),
        Row(
            f"by name prefix: persons_by_name(…, {NAME_LIMIT})",
            stats["service_name"],
            stats["raw_name"],
            "N",
            NAME_TARGET,
        ),
        Row("  the service's statement alone", stats["statement_name"], stats["raw_name"], "N"),
    ]
    scanning = any(
        scans(plan)
        for what, plan in plans.items()
        if "persons_by_name" in what and ("generic" not in what or generic_used)
    )
    return Lookups(rows, plans, scanning), token


# -- 3. HTTP -----------------------------------------------------------------------------------


class MedianRow(Row):
    """A row whose ratio is the ratio of the medians (requests not paired in rounds)."""

    @property
    def ratio(self) -> float:
        assert self.baseline is not None
        return self.project.median / self.baseline.median


def serve(port: int, url: str) -> None:
    """Child process: the application on the imported database under uvicorn on 127.0.0.1."""
    import uvicorn

    uvicorn.run(app_for(url), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def busiest_village(db: Database) -> tuple[str, int]:
    """The village (12-digit code) with the most households, and how many."""
    conn = db.raw()
    try:
        return tuple(
            conn.execute(
                "SELECT substr(unit_code, 1, 12) AS village, count(*) FROM archive_household "
                "GROUP BY village ORDER BY count(*) DESC, village LIMIT 1"
            ).fetchone()
        )  # type: ignore[return-value]
    finally:
        conn.close()


def bench_http(db: Database, sample: Sample, token: str) -> list[Row] | str:
    """Round trips against the app under uvicorn; rows, or why the part was skipped."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return "uvicorn is not installed"
    village, households = busiest_village(db)
    if households < BOOK_PAGE * HTTP_GROUPS:
        return f"the busiest village has {households} households, fewer than needed"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), db.url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if not wait_ready(port, proc, timeout=60):
            err = proc.stderr.read().decode(errors="replace")[-500:] if proc.poll() else ""
            return f"uvicorn did not start on 127.0.0.1:{port} {err}".strip()
        targets, headers = [], []
        auth = f"Authorization: Bearer {token}"
        for k in range(HTTP_GROUPS):
            number = sample.id_numbers[k * len(sample.id_numbers) // HTTP_GROUPS]
            targets += [
                "/healthz",
                f"/api/v1/archives/persons?id_number={number}",
                f"/api/v1/archives/village-book?unit={village}&limit={BOOK_PAGE}"
                f"&offset={k * BOOK_PAGE}",
            ]
            headers += ["", auth, auth]
        samples = http_latencies(
            port, targets, HTTP_REQUESTS // HTTP_GROUPS, warmup=10, headers=headers
        )
        healthz, person, book = (Stat([x for s in samples[i::3] for x in s]) for i in range(3))
        print(f"\n  village book of {village}: {households:,} households, pages 1-{HTTP_GROUPS}")
        return [
            MedianRow(
                "GET /api/v1/archives/persons?id_number=…", person, healthz, "T", HTTP_TARGET
            ),
            MedianRow(
                f"GET /api/v1/archives/village-book (limit={BOOK_PAGE})",
                book,
                healthz,
                "T",
                HTTP_TARGET,
            ),
        ]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- the profile ---------------------------------------------------------------------------------

# What a function is counted as, by the first rule its "file:function" matches (lower case).
CATEGORIES = (
    ("reading the CSV", ("archives/template.py", "_csv.reader", "codecs")),
    (
        "hashing and encryption",
        (
            "cryptography",
            "hmac",
            "_hashlib",
            "base64",
            "binascii",
            "urandom",
            "archives/crypto.py",
        ),
    ),
    ("SQL: SQLAlchemy, driver, database", ("sqlalchemy/", "sqlite3", "psycopg")),
    (
        "validation",
        (
            "archives/idnumbers.py",
            "archives/rowcheck.py",
            "stdnum",
            "units/codes",
        ),
    ),
    ("the importer's own work", ("archives/importer.py",)),
)


def print_profile(path: Path, rows: int) -> None:
    """Own time per row of the profiled import, grouped, and the top functions."""
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in entries.values())
    groups: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in entries.items():
        key = f"{filename}:{function}".lower()
        group = next(
            (name for name, needles in CATEGORIES if any(n in key for n in needles)),
            "everything else",
        )
        groups[group] = groups.get(group, 0.0) + own
    print(f"  own time per row under cProfile ({rows:,} rows; the profiler inflates Python code):")
    for name, seconds in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"    {name:<40} {seconds * 1e6 / rows:>8.1f} µs  {seconds / total:>6.1%}")
    print(f"    {'total':<40} {total * 1e6 / rows:>8.1f} µs")
    print("  top 15 functions by own time:")
    top = sorted(entries.items(), key=lambda item: -item[1][2])[:15]
    for (filename, line, function), (_, calls, own, _, _) in top:
        where = f"{Path(filename).name}:{line}" if filename != "~" else ""
        print(f"    {own * 1e6 / rows:>7.1f} µs/row {calls:>9,} calls  {function} {where}")


def profile_child(url: str, csv_path: Path, out: Path) -> None:
    """Child process: what the CLI does for ``sanmin import archive`` (settings, engine,
    cipher), then ``import_archive`` alone under cProfile, statistics written to ``out``."""
    import cProfile

    from core.archives.importer import import_archive
    from core.db.engine import make_engine

    engine = make_engine(url)
    cipher = ArchiveCipher(ARCHIVE_KEY)
    profiler = cProfile.Profile()
    summary = profiler.runcall(
        import_archive,
        engine,
        cipher,
        csv_path,
        unit_code=COUNTY,
        actor="bench",
        source=SOURCE,
        parallel=False,  # one process: the checking process would not be profiled
    )
    profiler.dump_stats(out)
    engine.dispose()
    if summary.inserted == 0 or summary.rejected:
        raise SystemExit(f"profiled import: {summary}")


def bench_profile(db: Database, csv_path: Path, work: Path) -> None:
    """Import the first PROFILE_ROWS rows into a fresh database under cProfile."""
    prepare(db)
    part_csv = work / "profile.csv"
    with (
        csv_path.open(encoding="utf-8-sig") as source,
        part_csv.open("w", encoding="utf-8-sig") as target,
    ):
        for line in islice(source, PROFILE_ROWS + 1):
            target.write(line)
    rows = sum(1 for _ in part_csv.open(encoding="utf-8-sig")) - 1
    profile = work / "import.prof"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--profile-child", db.url, str(part_csv), str(profile)],
        check=True,
    )
    seconds = time.perf_counter() - start
    print(
        f"\n4. Profile of import_archive alone on {rows:,} rows (cProfile, one child process; "
        f"{seconds:,.1f} s with start-up)"
    )
    print_profile(profile, rows)


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[bool]:
    """The parts in order; their targets' verdicts."""
    verdicts: list[bool] = []
    with ExitStack() as stack:
        if args.keep is not None:
            work = args.keep
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sanmin-bench-")))
        dbs = stack.enter_context(databases(args.postgres, args.keep, 4 if args.profile else 3))
        project = dbs[0]
        print(f"database: {describe(project)}; importing unit {COUNTY} (柯城区)")
        start = time.perf_counter()
        grids = prepare(project)
        for db in dbs[1:3]:
            prepare(db)
        print(f"three databases migrated, demo units loaded: {time.perf_counter() - start:.1f} s")
        csv_path = work / f"archive-{args.persons}.csv"
        start = time.perf_counter()
        sample = write_csv(csv_path, args.persons, grids, AS_OF)
        size = csv_path.stat().st_size / 1e6
        print(
            f"0. CSV of {args.persons:,} persons over {len(grids)} grids: "
            f"{time.perf_counter() - start:.1f} s, {size:,.0f} MB; {len(sample.id_numbers)} "
            f"sampled ID numbers; load average {os.getloadavg()[0]:.2f}"
        )
        imported = part(
            "1. import",
            lambda: bench_import(dbs, csv_path, args.persons, grids, work),
        )
        verdicts += imported
        print(f"  load average {os.getloadavg()[0]:.2f}")
        if imported == [False]:
            return verdicts
        token: list[str] = []

        def lookups() -> list[bool]:
            found, issued = bench_lookups(project, sample)
            token.append(issued)
            result = print_table(
                f"2. Lookups in process ({CALL_BATCH} per batch, {ROUNDS} rounds; demo county "
                f"admin's scope; {len(sample.id_numbers)} ID numbers and surnames rotated)",
                found.rows,
                {
                    "I": "SELECT <the service's columns> FROM archive_person WHERE id_hash = ? "
                    "(hash precomputed), raw driver connection",
                    "N": "SELECT … WHERE name >= ? AND name < ? ORDER BY name, id LIMIT "
                    f"{NAME_LIMIT}"
                    + (' (COLLATE "C")' if project.postgres else "")
                    + ", raw driver connection",
                },
            )
            for what, plan in found.plans.items():
                print(f"  plan of {what}:")
                for line in plan:
                    print(f"    {line}")
            ok = not found.scanning
            print(
                "  name prefix read by its index range, in every plan the database used: "
                + ("PASS" if ok else "FAIL")
            )
            print(f"  load average {os.getloadavg()[0]:.2f}")
            return [*result, ok]

        verdicts += part("2. lookups", lookups)
        if args.no_http:
            print("\n3. HTTP: skipped (--no-http)")
        elif token:

            def http() -> list[bool]:
                found = bench_http(project, sample, token[0])
                if isinstance(found, str):
                    print(f"\n3. HTTP: skipped ({found})")
                    return []
                result = print_table(
                    "3. Over HTTP: uvicorn (1 worker) on 127.0.0.1, round trips on one "
                    "keep-alive connection",
                    found,
                    {
                        "T": f"GET /healthz round trip, {HTTP_REQUESTS} requests per kind, "
                        "alternating /healthz, person, book; ratio of the medians",
                    },
                )
                print(f"  load average {os.getloadavg()[0]:.2f}")
                return result

            verdicts += part("3. HTTP", http)
        if args.profile:
            part("4. profile", lambda: (bench_profile(dbs[3], csv_path, work), [])[1])
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; the exit code is always 0 (a report)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--persons", type=int, default=PERSONS_DEFAULT, help="persons in the CSV (1,000,000)"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (SANMIN_TEST_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES_URL}) in fresh schemas, dropped afterwards",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn part")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the CSV (and SQLite files) to DIR and leave them",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"also profile import_archive on the first {PROFILE_ROWS:,} rows (a third database)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile_child:
        url, csv_path, out = args.profile_child
        profile_child(url, Path(csv_path), Path(out))
        return 0
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    import cryptography

    return report("archive", lambda: run(args), f"cryptography {cryptography.__version__}, ")


if __name__ == "__main__":
    sys.exit(main())
