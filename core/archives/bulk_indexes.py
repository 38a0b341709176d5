"""The first import into an empty archive builds the persons' and households' secondary
indexes once, after the load, instead of row by row (the classic bulk-load order).

Maintaining those indexes insert by insert cost the import as much as the raw load itself
(docs/benchmarks.md, "Archives"). Only non-unique indexes are deferred: the unique ones
(ID-number hash, 户号) and the primary keys stay, so integrity and the import's own upserts
hold throughout. Whatever ends the import, the indexes are built again; should the process be
killed, :func:`ensure_indexes` (run at every start of the application) rebuilds them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Index, select
from sqlalchemy.engine import Connection, Engine

from core.archives.listing import NAME_PREFIX_INDEX
from core.archives.models import ArchiveHousehold, ArchivePerson

log = logging.getLogger("sanmin.archives")
TABLES: tuple[Any, ...] = (ArchivePerson.__table__, ArchiveHousehold.__table__)  # type: ignore[attr-defined]
NAME_PREFIX_DDL = (
    f'CREATE INDEX IF NOT EXISTS {NAME_PREFIX_INDEX} ON archive_person (name COLLATE "C")'
)


def deferred_indexes() -> list[Index]:
    """The secondary (non-unique) indexes of the persons and households, from the models."""
    return [index for table in TABLES for index in table.indexes if not index.unique]


def _empty(conn: Connection) -> bool:
    return all(conn.execute(select(table.c.id).limit(1)).first() is None for table in TABLES)


def ensure_indexes(engine: Engine) -> None:
    """Build any deferred index that is missing (a first import that was killed)."""
    with engine.begin() as conn:
        for index in deferred_indexes():
            index.create(conn, checkfirst=True)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(NAME_PREFIX_DDL)


@contextmanager
def built_after(engine: Engine, enabled: bool) -> Iterator[bool]:
    """Drop the deferred indexes if ``enabled`` and the archive is empty, and build them
    again when the block ends, however it ends; yields whether they were dropped."""
    if enabled:
        with engine.begin() as conn:
            enabled = _empty(conn)
            if enabled:
                names = [index.name for index in deferred_indexes()]
                if conn.dialect.name == "postgresql":
                    names.append(NAME_PREFIX_INDEX)
                for name in names:
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    if not enabled:
        yield False
        return
    try:
        yield True
    finally:
        log.info("First import into an empty archive: building its indexes")
        ensure_indexes(engine)
