"""The ``form_record`` table: one row per submission of any plugin's form (一事一表).

Records are append-only: a correction is a new submission. ``data`` holds the validated
model as JSON (``model_dump(mode="json")``) and ``schema_version`` the form's version it
was written under.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow


class FormRecord(SQLModel, table=True):
    """One submitted form, attached to a subject (household, person, unit or ticket)."""

    __tablename__ = "form_record"
    __table_args__ = (
        Index("ix_form_record_plugin_form_unit", "plugin", "form", "unit_code"),
        Index("ix_form_record_subject", "subject_kind", "subject_id"),
        UniqueConstraint("author", "idempotency_key", name="uq_form_record_author_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plugin: str = Field(max_length=64)
    form: str = Field(max_length=64)
    schema_version: int
    subject_kind: str = Field(max_length=16)
    subject_id: str = Field(max_length=64)
    unit_code: str = Field(foreign_key="unit.code", max_length=15)
    author: str = Field(max_length=200)  # the actor's label: account:NAME or api_key:NAME
    author_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    idempotency_key: str | None = Field(default=None, max_length=128)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
