"""Job runs: one row per (job, township, period), claimed by inserting it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow


class JobRun(SQLModel, table=True):
    """One run of a job for one period, in one township (``''`` for installation jobs).

    The unique key decides who runs it: the worker whose INSERT succeeds. ``status`` is
    ``running``, ``done`` or ``failed``; a failed run (or a running one whose lease
    ``claimed_until`` ran out, its worker gone) is taken again within the period.
    """

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "township_code", "period_start"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=150)
    township_code: str = Field(default="", sa_column=Column(String(15), nullable=False))
    period_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(default="running", max_length=10, index=True)
    attempts: int = 1
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    started_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
