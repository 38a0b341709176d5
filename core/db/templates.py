"""Migrated databases in a blink, for tests: migrate once per set of histories, then copy.

Running the Alembic histories takes a second or more per database (several on PostgreSQL),
and every test gets an empty database of its own. :func:`prepare_migrated` migrates one
template per set of histories per process, then gives each new database the same schema:

* **SQLite**: the template file is copied (the database is one file);
* **PostgreSQL**: the statements the migrations sent are recorded while the template schema
  is migrated, and replayed, in one transaction, in the new schema (whose ``search_path``
  the URL sets). Reads (``SELECT``, ``SHOW``) are not replayed: nothing depends on their
  answers on an empty database.

Either way the result is what running the migrations gives, version tables included, so
``create_app`` finds nothing pending.

On PostgreSQL, DDL is what costs (a replay still takes about a second), so a schema
prepared here is **recycled** when its test is done (:func:`recycle`): if it still has the
tables the migrations made and no others, its rows are removed (``DELETE``, with the
append-only triggers off for that transaction) and its sequences restarted, the rows the
migrations wrote are written again, and it waits, renamed, for the next test of the same
histories, which gets it renamed to its own schema's name. A schema that does not qualify
is dropped, as before. Spare schemas are dropped when the process ends.
"""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url

from core.db.engine import make_engine
from core.db.migrate import histories, upgrade_all
from core.plugins.registry import PluginRegistry

Statement = tuple[str, Any, bool]  # as the driver's cursor got it: SQL, parameters, many
_lock = threading.Lock()
_sqlite_templates: dict[str, Path] = {}
_postgres_scripts: dict[str, list[Statement]] = {}
_spares: dict[str, list[tuple[str, str]]] = {}  # key -> (base URL, schema name) ready for reuse
_prepared: dict[str, str] = {}  # schema name -> key, for the schemas handed out here
_workdir: Path | None = None
READS = ("SELECT", "SHOW")
RESTART_SEQUENCES = """
SELECT setval(format('%%I.%%I', schemaname, sequencename), 1, false)
FROM pg_sequences WHERE schemaname = %(schema)s
"""
CREATED = re.compile(r"^\s*CREATE TABLE (?:IF NOT EXISTS )?\"?(\w+)\"?", re.IGNORECASE)
WRITTEN = re.compile(r"^\s*(?:INSERT INTO|UPDATE|DELETE FROM) \"?(\w+)\"?", re.IGNORECASE)


def _key(registry: PluginRegistry) -> str:
    """What a migrated schema depends on: the histories run, in order."""
    names = "|".join(f"{h.name}={h.location}" for h in histories(registry))
    return hashlib.sha256(names.encode()).hexdigest()[:16]


def _directory() -> Path:
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="sanmin-templates-"))
    return _workdir


def prepare_migrated(url: str, registry: PluginRegistry) -> bool:
    """Give the empty database at ``url`` (a new SQLite file, or a PostgreSQL URL whose
    ``search_path`` is an empty schema) the schema the registry's histories migrate to.

    :return: whether it did; ``False`` (nothing touched) when the database is not new: a
        SQLite file that exists, a schema with tables, or another kind of database.
    """
    key = _key(registry)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = parsed.database
        if not target or target == ":memory:" or Path(target).exists():
            return False
        with _lock:
            template = _sqlite_templates.get(key) or _sqlite_template(key, registry)
        shutil.copyfile(template, target)
        return True
    schema = _schema_of(url)
    if parsed.get_backend_name() != "postgresql" or schema is None or not _empty_schema(url):
        return False
    with _lock:
        script = _postgres_scripts.get(key)
        spare = _spares.get(key, []).pop() if _spares.get(key) else None
        _prepared[schema] = key
    if spare is not None:
        _swap_in(spare, schema)
        return True
    if script is None:
        script = _postgres_script(url, registry)
        with _lock:
            _postgres_scripts.setdefault(key, script)
        return True  # the statements were recorded while migrating this very database
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _replay(conn, script)
    finally:
        engine.dispose()
    return True


def _replay(conn: Any, statements: list[Statement]) -> None:
    """Run recorded statements on the driver's cursor exactly as they were sent."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        for statement, parameters, many in statements:
            if many:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, parameters)
    finally:
        cursor.close()


def _schema_of(url: str) -> str | None:
    """The schema a URL's ``options=-csearch_path=NAME`` names (as the test fixtures set it)."""
    options = make_url(url).query.get("options")
    found = re.fullmatch(r"-csearch_path=(\w+)", options) if isinstance(options, str) else None
    return found.group(1) if found else None


def _admin_url(url: str) -> str:
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "options"}
    return parsed.set(query=query).render_as_string(hide_password=False)


def _swap_in(spare: tuple[str, str], schema: str) -> None:
    """Replace the empty ``schema`` by the spare migrated one, under the same name."""
    base, name = spare
    engine = make_engine(base)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}"')
            conn.exec_driver_sql(f'ALTER SCHEMA "{name}" RENAME TO "{schema}"')
    finally:
        engine.dispose()


def recycle(url: str) -> bool:
    """Clean the schema of ``url`` (handed out by :func:`prepare_migrated`) and keep it for
    the next test of the same histories; ``False`` (nothing done) when it was not handed out
    here or its tables are not the migrations' own any more: the caller drops it."""
    schema = _schema_of(url)
    with _lock:
        key = _prepared.pop(schema, None) if schema else None
        script = _postgres_scripts.get(key) if key else None
    if schema is None or script is None:
        return False
    made = {m.group(1) for st, _, _ in script if (m := CREATED.match(st))}
    versions = {t for t in made if t.endswith("alembic_version")}
    seeds = [
        (st, params, many)
        for st, params, many in script
        if (m := WRITTEN.match(st)) and m.group(1) not in versions
    ]
    base = _admin_url(url)
    engine = make_engine(base)
    try:
        with engine.begin() as conn:
            tables = set(
                conn.exec_driver_sql(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema,),
                ).scalars()
            )
            if tables != made:
                return False
            # guards and foreign-key triggers off for this transaction: any order will do
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql(f'SET LOCAL search_path = "{schema}"')
            # DELETE, not TRUNCATE: on a test's few rows it costs nothing, where TRUNCATE
            # makes new files for each of a hundred tables
            for table in sorted(made - versions):
                conn.exec_driver_sql(f'DELETE FROM "{table}"')
            conn.exec_driver_sql(RESTART_SEQUENCES, {"schema": schema})
            _replay(conn, seeds)
            spare = f"sanmin_spare_{uuid.uuid4().hex[:12]}"
            conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" RENAME TO "{spare}"')
    finally:
        engine.dispose()
    with _lock:
        _spares.setdefault(key, []).append((base, spare))  # type: ignore[arg-type]
    return True


@atexit.register
def _drop_spares() -> None:
    """Drop the spare schemas when the process ends (a test run leaves none behind)."""
    for spares in _spares.values():
        for base, name in spares:
            engine = make_engine(base)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            except Exception:  # the server is gone: nothing left to clean
                pass
            finally:
                engine.dispose()
    _spares.clear()


def _empty_schema(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            ).scalar()
    finally:
        engine.dispose()
    return tables == 0


def _sqlite_template(key: str, registry: PluginRegistry) -> Path:
    path = _directory() / f"{key}-{uuid.uuid4().hex[:8]}.db"  # a failed attempt is left apart
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_all(engine, registry)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the main file
    finally:
        engine.dispose()
    _sqlite_templates[key] = path
    return path


def _postgres_script(url: str, registry: PluginRegistry) -> list[Statement]:
    """Migrate the database at ``url`` and return the statements that changed it."""
    recorded: list[Statement] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not statement.lstrip().upper().startswith(READS):
            recorded.append((statement, parameters, many))

    engine = make_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        upgrade_all(engine, registry)
    finally:
        engine.dispose()
    return recorded
