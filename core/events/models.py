"""The outbox: one row per event, written in the transaction of the change that caused it,
and one row per (event, plugin) recording that plugin's delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow


class OutboxEvent(SQLModel, table=True):
    """An event waiting for (or done with) delivery.

    ``done_at`` is set once every plugin enabled in the township at delivery time has
    handled it. Until then ``next_attempt_at`` says when a runner should look at it again,
    and ``claimed_until`` is the lease of the runner delivering it now (several workers
    share the table: a runner only takes an event whose lease is free).
    """

    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_due", "done_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    unit_code: str = Field(max_length=15, index=True)
    township_code: str = Field(max_length=15)
    subject: str | None = Field(default=None, max_length=200)
    actor_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class EventDelivery(SQLModel, table=True):
    """One plugin's delivery of one event: done, or how often it failed and when to retry."""

    __tablename__ = "event_delivery"

    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("event_outbox.id"), primary_key=True)
    )
    plugin: str = Field(sa_column=Column(String(100), primary_key=True))
    attempts: int = 0
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
