"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

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
        if transactional_ddl:
            event.listen(engine, "connect", _driver_autocommit)
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


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
