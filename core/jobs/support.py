"""What the worker's two parts (event delivery and jobs) share: running plugin code that may
be ``async``, the retry backoff, leases, an upsert on both databases and a short error text."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from core.plugins.calling import await_me_maybe

RETRY_FIRST = timedelta(seconds=10)
RETRY_CAP = timedelta(hours=1)
LEASE = timedelta(minutes=5)  # how long a claim holds before another worker may take over
RENEW_EVERY = LEASE / 5  # how often a worker running plugin code renews its lease

log = logging.getLogger("sanmin.worker")


def resolve(value: Any) -> Any:
    """The result of plugin code: a value, or a callable or awaitable run to completion here.

    Called from the worker's thread, where no event loop runs: an awaitable gets a loop of
    its own for the duration.
    """
    if callable(value) or inspect.isawaitable(value):
        return asyncio.run(await_me_maybe(value))
    return value


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failures: 10 s, 20 s, 40 s… capped at one hour."""
    return min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 20), RETRY_CAP)


def insert(connection: Connection, table: Table) -> Any:
    """The dialect's INSERT for ``table`` (it has ``on_conflict_do_*`` on both databases)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def describe(exc: BaseException) -> str:
    """A one-line description of a failure, for the ``last_error`` columns."""
    return f"{type(exc).__name__}: {exc}"[:2000]


def worker_name() -> str:
    """A name for this runner, unique across machines and processes (host, pid, random)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def renew(conn: Connection, table: Table, row_id: int, worker: str, now: datetime) -> bool:
    """Extend ``worker``'s lease on a row of ``table`` (``event_outbox`` or ``job_run``) to
    ``now + LEASE``, in ``conn``'s transaction; ``False`` when the row is no longer its
    (another worker took it over after the lease ran out, or it was settled or purged)."""
    renewed = conn.execute(
        update(table)
        .where(table.c.id == row_id, table.c.claimed_by == worker)
        .values(claimed_until=now + LEASE)
    )
    return renewed.rowcount == 1


def heartbeat(engine: Engine, table: Table, row_id: int, worker: str, now: datetime) -> bool:
    """:func:`renew` in a transaction of its own (committed when this returns)."""
    with engine.begin() as conn:
        return renew(conn, table, row_id, worker, now)


@contextmanager
def lease_kept(
    engine: Engine, table: Table, row_id: int, worker: str, clock: Callable[[], datetime]
) -> Iterator[None]:
    """While the block runs plugin code (a reaction, a job: possibly slower than the lease),
    renew the lease every :data:`RENEW_EVERY` from a thread, so that no other worker takes
    the row over from a live one. A worker that dies stops renewing: its lease runs out
    and another worker takes over, as before."""
    done = threading.Event()

    def keep() -> None:
        while not done.wait(RENEW_EVERY.total_seconds()):
            try:
                heartbeat(engine, table, row_id, worker, clock())
            except Exception:  # the database is away: the next beat may succeed
                log.warning("Could not renew the lease on %s %s", table.name, row_id)

    thread = threading.Thread(target=keep, name=f"lease:{table.name}:{row_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
