"""Workflow instances and their history.

``workflow_instance`` holds each instance's current state and a ``version`` that every
transition raises with a conditional ``UPDATE … WHERE version = :seen``, so two concurrent
transitions cannot both win. ``workflow_history`` is append-only: triggers refuse ``UPDATE``
and ``DELETE`` on both databases (and ``TRUNCATE`` on PostgreSQL), as for the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401
from core.db.types import UTCDateTime, utcnow


class WorkflowInstanceRow(SQLModel, table=True):
    """One instance of a plugin's workflow, at a unit."""

    __tablename__ = "workflow_instance"
    __table_args__ = (
        UniqueConstraint("plugin", "workflow", "subject"),
        Index("ix_workflow_instance_listing", "plugin", "workflow", "unit_code"),
        Index("ix_workflow_instance_state", "plugin", "workflow", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plugin: str = Field(max_length=40)
    workflow: str = Field(max_length=40)
    unit_code: str = Field(
        sa_column=Column(String(15), ForeignKey("unit.code"), nullable=False, index=True)
    )
    township_code: str = Field(max_length=15, index=True)
    subject: str | None = Field(default=None, max_length=200)
    state: str = Field(max_length=40)
    closed: bool = False
    version: int = 1
    due_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    created_by: str = Field(max_length=200)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class WorkflowHistoryRow(SQLModel, table=True):
    """One step of an instance: its start (no transition) or a transition. Never changed."""

    __tablename__ = "workflow_history"
    __table_args__ = (UniqueConstraint("instance_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(
        sa_column=Column(ForeignKey("workflow_instance.id"), nullable=False, index=True)
    )
    version: int  # the instance's version after this step
    transition: str | None = Field(default=None, max_length=40)
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str = Field(max_length=40)
    unit_code: str = Field(max_length=15)  # where the instance is after this step
    actor: str = Field(max_length=200)
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
