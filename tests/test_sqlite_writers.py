"""SQLite writers queue on the engine's turn (core.db.engine.WriterQueue): a second writer in
the process waits for the first transaction to end instead of SQLite's busy handler; readers
never wait; the turn comes back on commit, rollback and when a connection returns to the pool."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from core.db.engine import make_engine


def engine_with_table(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine


def test_a_second_writer_waits_for_the_first_transaction_and_readers_do_not(
    tmp_path: Path,
) -> None:
    engine = engine_with_table(tmp_path)
    # no busy handler: without the queue the second writer would fail at once, "database is
    # locked"; with it, it waits for its turn
    event.listen(engine.pool, "checkout", lambda dbapi, *_: dbapi.execute("PRAGMA busy_timeout=0"))
    order: list[str] = []
    second_started = threading.Event()

    def second_writer() -> None:
        second_started.set()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO note (body) VALUES ('second')"))
            order.append("second wrote")

    with engine.connect() as first:
        first.execute(text("INSERT INTO note (body) VALUES ('first')"))
        writer = threading.Thread(target=second_writer)
        writer.start()
        second_started.wait()
        with engine.connect() as reader:  # a read goes ahead while the first holds the turn
            assert reader.execute(text("SELECT count(*) FROM note")).scalar() == 0
        writer.join(timeout=0.5)
        assert writer.is_alive() and order == []  # still waiting for the turn
        order.append("first commits")
        first.commit()
    writer.join()
    assert order == ["first commits", "second wrote"]
    with engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM note ORDER BY id")).scalars().all()
    assert bodies == ["first", "second"]


def test_the_turn_comes_back_on_rollback_and_on_return_to_the_pool(tmp_path: Path) -> None:
    engine = engine_with_table(tmp_path)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO note (body) VALUES ('x')"))
        conn.rollback()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO note (body) VALUES ('y')"))
    # closed without commit: rolled back, and the turn is free for the next writer
    done = threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO note (body) VALUES ('z')"))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(timeout=10)
    assert done.is_set()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT body FROM note")).scalars().all() == ["z"]


def test_the_turn_comes_back_at_commit_even_while_the_connection_stays_open(
    tmp_path: Path,
) -> None:
    engine = engine_with_table(tmp_path)
    event.listen(engine.pool, "checkout", lambda dbapi, *_: dbapi.execute("PRAGMA busy_timeout=0"))
    with engine.connect() as kept:
        kept.execute(text("INSERT INTO note (body) VALUES ('a')"))
        kept.commit()  # the transaction is over; the connection is still checked out
        with engine.begin() as other:  # in the same thread: must not wait for ``kept``
            other.execute(text("INSERT INTO note (body) VALUES ('b')"))
        kept.execute(text("INSERT INTO note (body) VALUES ('c')"))
        kept.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT body FROM note ORDER BY id")).scalars().all() == [
            "a",
            "b",
            "c",
        ]
