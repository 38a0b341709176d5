"""Tables of 民情茶馆 (``tea_house``).

A village (村社区) keeps a fixed-day **schedule** (民情沟通日, e.g. the 10th of each month);
each **session** (场次) is announced at least three days ahead, held, then closed; the 馆员
on duty sign the session's **duty** roster; every **issue** (民情登记) raised at a session is
answered on the spot or transferred to a core ticket, whose state is mirrored here from the
ticket events so that the next session can report the result back in public.

Every table name starts with ``tea_house_``; rows carry the village's ``unit_code`` and its
``township_code`` (the per-township switch and county-wide lists filter on it). Change a
table only through a new revision in ``migrations/versions/``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core import UTCDateTime, utcnow


def _moment(*, index: bool = False) -> datetime | None:
    """An optional timezone-aware UTC moment."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))


class TeaHouseSchedule(SQLModel, table=True):
    """A village's fixed communication day: which day of the month, when and where."""

    __tablename__ = "tea_house_schedule"

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, unique=True)
    township_code: str = Field(max_length=15, index=True)
    day_of_month: int
    start_time: str = Field(max_length=5)  # HH:MM, local time
    venue: str = Field(max_length=100)
    lead_days: int = 7  # announce this many days ahead (never fewer than the notice rule)
    active: bool = True
    updated_by: str = Field(max_length=200)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TeaHouseSession(SQLModel, table=True):
    """One session (场次): announced → held → closed, or cancelled before it is held."""

    __tablename__ = "tea_house_session"
    __table_args__ = (
        UniqueConstraint("unit_code", "kind", "held_on"),
        Index("ix_tea_house_session_unit_held", "unit_code", "held_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15)
    township_code: str = Field(max_length=15, index=True)
    kind: str = Field(max_length=10)  # fixed 固定沟通日 / open 日常开放 / topic 专题
    held_on: date = Field(index=True)
    start_time: str = Field(max_length=5)
    venue: str = Field(max_length=100)
    topics: str | None = Field(default=None, max_length=500)
    host: str | None = Field(default=None, max_length=50)
    recorder: str | None = Field(default=None, max_length=50)
    cadres: str | None = Field(default=None, max_length=200)  # attending cadres and leaders
    status: str = Field(default="announced", max_length=10)
    attendance: int = 0  # villagers present
    leaders: int = 0  # township and county leaders present
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    cancel_reason: str | None = Field(default=None, max_length=200)
    version: int = 1
    announced_by: str = Field(max_length=200)
    announced_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    opened_at: datetime | None = _moment()
    closed_at: datetime | None = _moment()


class TeaHouseDuty(SQLModel, table=True):
    """A 馆员 (holder of one of the plugin's roles) on duty at a session: the roster."""

    __tablename__ = "tea_house_duty"
    __table_args__ = (UniqueConstraint("session_id", "actor"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="tea_house_session.id", index=True)
    actor: str = Field(max_length=200)  # the actor's label, one entry per person
    name: str = Field(max_length=100)
    role: str = Field(max_length=64)
    signed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TeaHouseIssue(SQLModel, table=True):
    """One issue raised at a session (民情登记): pending, answered on the spot, or transferred
    to a ticket with a promised deadline; the ticket's state is mirrored from its events."""

    __tablename__ = "tea_house_issue"
    __table_args__ = (UniqueConstraint("session_id", "client_key"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="tea_house_session.id", index=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    township_code: str = Field(max_length=15, index=True)
    category: str = Field(max_length=10)
    summary: str = Field(max_length=100)  # shown in public: no names, no phone numbers
    description: str = Field(sa_column=Column(Text, nullable=False))
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: str | None = Field(default=None, max_length=20)
    outcome: str = Field(default="pending", max_length=12)  # pending / answered / transferred
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    responsible: str | None = Field(default=None, max_length=50)  # 责任人
    promised_by: date | None = None  # 承诺办理期限
    ticket_id: int | None = Field(default=None, index=True)
    ticket_state: str | None = Field(default=None, max_length=40)
    ticket_version: int = 0
    solved_at: datetime | None = _moment(index=True)
    reported_session_id: int | None = Field(default=None, foreign_key="tea_house_session.id")
    reported_at: datetime | None = _moment(index=True)
    client_key: str | None = Field(default=None, max_length=64)  # a retried submission
    version: int = 1
    created_by: str = Field(max_length=200)
    raised_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    decided_at: datetime | None = _moment()
