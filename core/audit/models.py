"""The audit table. Rows are only ever inserted; triggers refuse UPDATE and DELETE on
both databases, and TRUNCATE on PostgreSQL (see the core migration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401
from core.db.types import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    """Who did what to which record, where and when, with the state before and after."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_target", "target_type", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(UTCDateTime(), nullable=False, index=True),
    )
    actor: str = Field(max_length=200, index=True)
    action: str = Field(max_length=100, index=True)
    target_type: str = Field(max_length=100)
    target_id: str = Field(max_length=200)
    unit_code: str | None = Field(default=None, max_length=15, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    source: str | None = Field(default=None, max_length=200, description="address or channel")
