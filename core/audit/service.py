"""Writing audit entries, always inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.db.types import utcnow

# Built once: building a statement per call costs more than running it (docs/benchmarks.md).
INSERT_ENTRY = insert(AuditEntry.__table__)  # type: ignore[attr-defined]


def record(
    db: Session | Connection,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    unit_code: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    source: str | None = None,
) -> int:
    """Write an audit entry in ``db``'s transaction (a Session's or a Connection's); it
    commits or rolls back with the change it records. Returns the entry's id.

    The row is inserted at once with a prebuilt Core statement (no ORM object, no flush);
    its id comes back with the INSERT (``RETURNING`` on PostgreSQL, the cursor's last row id
    on SQLite).
    """
    conn = db.connection() if isinstance(db, Session) else db
    values = {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "unit_code": unit_code,
        "before": before,
        "after": after,
        "source": source,
    }
    return conn.execute(INSERT_ENTRY, values).inserted_primary_key[0]
