"""PostgreSQL: a transaction that only read ends with COMMIT (core.db.engine.ReadsCommit), so
psycopg's prepared statements survive it; any transaction that wrote, or failed, is rolled back
exactly as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from core.db.engine import make_engine

STATEMENT = "SELECT body FROM note WHERE id = :id"
# PostgreSQL only (SQLite has no prepared statements to keep); unreachable, it is skipped with
# the reason, or fails under CI=true, as every storage test
pytestmark = pytest.mark.parametrize("sanmin_database_url", ["postgresql"], indirect=True)


@pytest.fixture
def engine(sanmin_database_url: str) -> Iterator[Engine]:
    engine = make_engine(sanmin_database_url, pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
        conn.execute(text("INSERT INTO note (id, body) VALUES (1, 'kept')"))
    yield engine
    engine.dispose()


def _prepared(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


def test_a_statement_read_again_and_again_is_prepared_and_stays_so(engine: Engine) -> None:
    for _ in range(7):  # psycopg prepares on the fifth run; each read returns its connection
        with engine.connect() as conn:
            assert conn.execute(text(STATEMENT), {"id": 1}).scalar() == "kept"
    with Session(engine) as session:  # a session closed without a commit, as pages do
        assert session.execute(text(STATEMENT), {"id": 1}).scalar() == "kept"
    assert any("FROM note WHERE id" in statement for statement in _prepared(engine))


def test_a_transaction_that_wrote_is_rolled_back_when_it_is_not_committed(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text(STATEMENT), {"id": 1}).scalar() == "kept"  # a read first
        conn.execute(text("INSERT INTO note (id, body) VALUES (2, 'dropped')"))
        conn.execute(text("UPDATE note SET body = 'changed' WHERE id = 1"))
    with Session(engine) as session:
        session.execute(text("DELETE FROM note WHERE id = 1"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, body FROM note ORDER BY id")).all() == [(1, "kept")]


def test_a_failed_transaction_is_rolled_back_and_the_connection_serves_again(
    engine: Engine,
) -> None:
    with engine.connect() as conn, pytest.raises(DBAPIError):
        conn.execute(text("SELECT body FROM no_such_table"))
    with engine.connect() as conn:
        assert conn.execute(text(STATEMENT), {"id": 1}).scalar() == "kept"


def test_a_committed_write_is_kept_and_the_next_read_only_transaction_commits(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO note (id, body) VALUES (3, 'saved')"))
    for _ in range(6):
        with engine.connect() as conn:
            assert conn.execute(text(STATEMENT), {"id": 3}).scalar() == "saved"
    assert any("FROM note WHERE id" in statement for statement in _prepared(engine))
