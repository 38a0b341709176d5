"""Tickets (一事一表 of 为民办事) and what hangs off them.

A ticket's lifecycle is an instance of the core workflow ``tickets/ticket``
(:mod:`core.tickets.lifecycle`): the engine owns the state, the version check and the
append-only history. The ``ticket`` row keeps the request itself (type, channel, reporter,
place, description, the type's extra fields) and mirrors ``state``, ``version``,
``unit_code`` and ``due_at`` of its instance, written in the same transaction as every
transition, so that inboxes and KPIs read one table. The milestones (accepted, signed,
resolved, rated, the latest reopen) and whether each clock was kept are stored as they
happen: KPIs count them, never recompute them from history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401
from core.db.types import UTCDateTime, utcnow

CHANNELS: dict[str, str] = {
    "web": "网页",
    "app": "APP一键",
    "hotline": "民情热线",
    "mobile_office": "民情直通车",
    "door_knock": "敲门走访",
    "tea_house": "民情茶馆",
    "wechat": "微信群",
    "open311": "Open311 接口",
    "hotline_12345": "12345 转入",
}
SATISFACTION_LEVELS: dict[int, tuple[str, str]] = {
    # the 5-level scale mapped onto 12345's three levels (domain.md §6.7)
    5: ("很满意", "satisfied"),
    4: ("满意", "satisfied"),
    3: ("较满意", "basic"),
    2: ("基本满意", "basic"),
    1: ("不满意", "unsatisfied"),
}
SATISFACTION_LABELS: dict[str, str] = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
}


def _when() -> Any:
    """An optional moment (UTC)."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Ticket(SQLModel, table=True):
    """One resident request."""

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_inbox", "unit_code", "state", "due_at"),
        Index("ix_ticket_due", "state", "due_at"),  # the deadline sweeper's
        Index("ix_ticket_county_submitted", "county_code", "submitted_at"),
        Index("ix_ticket_reporter", "reporter_account_id", "submitted_at"),
        Index("ix_ticket_public", "public", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(
        sa_column=Column(ForeignKey("workflow_instance.id"), nullable=False, unique=True)
    )
    type: str = Field(max_length=40, index=True)
    nature: str = Field(default="help", max_length=20)
    channel: str = Field(default="web", max_length=20)
    priority: str = Field(default="normal", max_length=10)
    # where it is handled now (mirrors the instance), where it was reported, and its county
    unit_code: str = Field(sa_column=Column(String(15), ForeignKey("unit.code"), nullable=False))
    township_code: str = Field(max_length=15)
    origin_code: str = Field(max_length=15, index=True)
    county_code: str = Field(max_length=15)
    state: str = Field(max_length=40)
    version: int = 1
    due_at: datetime | None = _when()
    title: str = Field(max_length=100)
    description: str = Field(sa_column=Column(Text, nullable=False))
    address: str | None = Field(default=None, max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    household_id: int | None = Field(
        default=None, sa_column=Column(ForeignKey("archive_household.id"), nullable=True)
    )
    reporter_account_id: int | None = Field(
        default=None, sa_column=Column(ForeignKey("account.id"), nullable=True)
    )
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=20)
    anonymous: bool = False
    confidential: bool = False
    reported_by: str | None = Field(default=None, max_length=200)  # 代报人, an actor label
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # a photo's address as an Open311 client sent it (http/https, checked by
    # core.tickets.service.checked_media_url); Sanmin never fetches it
    media_url: str | None = Field(default=None, max_length=2000)
    # milestones, and the clocks as they were set
    submitted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    respond_due_at: datetime | None = _when()
    handle_due_at: datetime | None = _when()
    accepted_at: datetime | None = _when()
    signed_at: datetime | None = _when()
    resolved_at: datetime | None = _when()
    rated_at: datetime | None = _when()
    closed_at: datetime | None = _when()
    responded_on_time: bool | None = None
    resolved_on_time: bool | None = None
    level: int = 0  # 0 grid … 4 city: where on the ladder it is now
    resolved_level: int | None = None
    escalations: int = 0
    reopens: int = 0
    reopened_at: datetime | None = _when()  # the latest reopen (重办)
    rating: int | None = None
    satisfaction: str | None = Field(default=None, max_length=12)
    solved: bool | None = None
    rating_comment: str | None = Field(default=None, max_length=500)
    public: bool = False
    public_summary: str | None = Field(default=None, max_length=500)
    published_at: datetime | None = _when()
    created_by: str = Field(max_length=200)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TicketIdempotency(SQLModel, table=True):
    """One ``Idempotency-Key`` an actor used to create a ticket: a retry finds it."""

    __tablename__ = "ticket_idempotency"
    __table_args__ = (UniqueConstraint("actor", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=200)
    key: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)  # of the request body: a different body is a 422
    ticket_id: int = Field(sa_column=Column(ForeignKey("ticket.id"), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TicketComment(SQLModel, table=True):
    """A comment on a ticket; ``internal`` ones are for staff only."""

    __tablename__ = "ticket_comment"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(sa_column=Column(ForeignKey("ticket.id"), nullable=False, index=True))
    actor: str = Field(max_length=200)
    author: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    internal: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TicketAttachment(SQLModel, table=True):
    """A photo attached to a ticket; the file lives in the attachments directory."""

    __tablename__ = "ticket_attachment"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(sa_column=Column(ForeignKey("ticket.id"), nullable=False, index=True))
    stored_name: str = Field(max_length=100, unique=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=50)
    size: int
    sha256: str = Field(max_length=64)
    actor: str = Field(max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TicketReminder(SQLModel, table=True):
    """A reminder sent for one clock of a ticket (the instance's ``version`` when the clock
    was set) at 50, 80 or 100%: the unique key makes the sweeper send each once, however many
    workers run."""

    __tablename__ = "ticket_reminder"
    __table_args__ = (UniqueConstraint("ticket_id", "version", "threshold"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(sa_column=Column(ForeignKey("ticket.id"), nullable=False))
    version: int
    threshold: int
    unit_code: str = Field(max_length=15)
    sent_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
