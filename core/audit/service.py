"""Writing audit entries, always inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.audit.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    unit_code: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    source: str | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``; it commits or rolls back with the change it records."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        unit_code=unit_code,
        before=before,
        after=after,
        source=source,
    )
    session.add(entry)
    return entry
