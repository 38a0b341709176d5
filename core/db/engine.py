"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


def make_engine(url: str, *, transactional_ddl: bool = False, **kwargs: Any) -> Engine:
    """Create an engine with the settings Sanmin relies on.

    SQLite gets WAL, ``synchronous=NORMAL``, foreign keys and a busy timeout
    (see ``shared/baselines.md``: NORMAL is ~17x faster than FULL and still
    durable across application crashes in WAL mode).

    ``transactional_ddl`` (SQLite only; migrations use it): Python's sqlite3 commits DDL
    as it goes, so a failed migration would leave half its tables behind. With it, the
    driver's own transaction handling is off and SQLAlchemy emits ``BEGIN`` itself
    (SQLAlchemy's documented pysqlite recipe), so DDL rolls back with everything else.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        WriterQueue().attach(engine)
        if transactional_ddl:
            event.listen(engine, "connect", _driver_autocommit)
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    ReadsCommit().attach(engine)
    return engine


class ReadsCommit:
    """PostgreSQL: a transaction that only read ends with ``COMMIT`` instead of ``ROLLBACK``.

    psycopg prepares a statement on the server after its fifth run on a connection, so that
    the server no longer plans it each time, but it deallocates every prepared statement on
    ``rollback()``; and SQLAlchemy rolls back every connection the pool gets back, and every
    session closed without a commit. So on this engine nothing was ever prepared, and the
    server planned every statement of every request (8–11 ms for the dashboard's largest,
    docs/benchmarks.md). For a transaction whose statements were all ``SELECT`` or ``SHOW``
    a commit changes nothing a rollback would not (locks and snapshots end either way), and it
    keeps the prepared statements. Any other statement (``INSERT``, ``UPDATE``, ``DELETE``,
    DDL, ``SAVEPOINT``, ``WITH`` …) marks the transaction as writing, and it is rolled back
    as before; so is a transaction in error.
    """

    MARK = "sanmin_wrote"
    READS = ("SELECT", "SHOW")

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        dialect = engine.dialect  # one per engine: wrapping its methods touches no other
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(connection: Any) -> None:
            self._forget(connection)
            commit(connection)

        def do_rollback(connection: Any) -> None:
            wrote = self._forget(connection)
            raw = getattr(connection, "dbapi_connection", connection)
            status = getattr(getattr(raw, "info", None), "transaction_status", None)
            if not wrote and status is not None and status.name == "INTRANS":
                raw.commit()
            else:
                rollback(connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip()[:6].upper().startswith(self.READS):
            conn.connection.info[self.MARK] = True

    def _forget(self, connection: Any) -> bool:
        """Whether the connection's transaction wrote (``True`` when unknown), forgotten."""
        try:
            info = connection.info  # the pool's proxy; the first connect passes another
        except (AttributeError, NotImplementedError):
            return True
        return bool(info.pop(self.MARK, False))


BUSY_TIMEOUT_SECONDS = 5.0  # as ``PRAGMA busy_timeout`` below
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriterQueue:
    """One writing transaction at a time per SQLite engine, in this process.

    SQLite has one write lock per database. Without this, the threads of a busy server that
    want it wait in SQLite's busy handler, which sleeps and retries and is not first come,
    first served: under 50 concurrent requests some waited past the busy timeout and failed
    with "database is locked" (docs/benchmarks.md, "Tickets"). Here a connection takes the
    engine's turn before its transaction's first write and gives it back once the
    transaction has ended (after the driver's commit or rollback, or when the connection
    goes back to the pool), so the other writers queue on a lock instead. Reads never wait
    (WAL). Waiting longer than the busy timeout still fails, as "database is locked"
    (answered 503 by the app). Other processes on the same file are kept apart by SQLite's
    own lock, as before.
    """

    def __init__(self) -> None:
        self.turn = threading.Lock()
        self.holder: Any = None  # the driver connection whose transaction writes now

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.pool, "checkin", lambda dbapi, _record: self._release(dbapi))
        dialect = engine.dialect  # one per engine: wrapping its methods touches no other
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        if self.holder is dbapi or not statement.lstrip()[:7].upper().startswith(WRITES):
            return
        if not self.turn.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        self.holder = dbapi

    def _release(self, connection: Any) -> None:
        # the pool's proxy (what commits and rollbacks are given) or the driver's connection
        dbapi = getattr(connection, "dbapi_connection", connection)
        if dbapi is not None and self.holder is dbapi:
            self.holder = None
            self.turn.release()


def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if mode not in ("wal", "memory"):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: a session on the application's engine, closed after the request.

    ``async`` on purpose: making a session does no I/O (a connection is taken when the
    first query runs, in the endpoint's thread), and a sync generator dependency would
    cost two threadpool hops per request (docs/benchmarks.md).
    """
    with Session(request.app.state.kernel.engine) as session:
        yield session
