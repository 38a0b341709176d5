"""Tables of 民情直通车 (``mobile_office``): hotline calls, trips, on-site records, ledgers.

Every table name starts with ``mobile_office_``; change a table only through a new revision in
``migrations/versions/``. Calls and trips each mirror one workflow instance of the kernel
(``state`` and ``version``, written in the same transaction as every step, see
:mod:`plugins.mobile_office.workflows`), so that boards, ledgers and metrics read one table.
Rows refer to the core's ``unit`` table only; a core ticket or account is kept by its id.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from core import UTCDateTime, utcnow

UNIT_FK = "unit.code"


def _moment(*, index: bool = False, nullable: bool = True) -> datetime | None:
    """A timezone-aware UTC moment column."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))  # type: ignore[return-value]


class Call(SQLModel, table=True):
    """One call to the 民情热线 (or a visit to the 直通车): who called, what was asked, what
    the duty leader decided and how it ended."""

    __tablename__ = "mobile_office_call"
    __table_args__ = (
        Index("ix_mobile_office_call_day", "township_code", "received_at"),
        Index("ix_mobile_office_call_board", "township_code", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(unique=True)  # its ``mobile_office/call`` workflow instance
    intake_key: str | None = Field(default=None, max_length=300, unique=True)  # actor:key
    unit_code: str = Field(
        sa_column=Column(String(15), ForeignKey(UNIT_FK), nullable=False, index=True)
    )
    township_code: str = Field(max_length=15)
    caller_name: str = Field(max_length=50)
    caller_phone: str = Field(max_length=20)
    address: str | None = Field(default=None, max_length=200)
    category: str = Field(max_length=20)
    question: str = Field(sa_column=Column(Text, nullable=False))
    urgency: str = Field(default="normal", max_length=10)
    source: str = Field(default="hotline", max_length=10)
    also_12345: bool = False
    repeat_of_id: int | None = Field(
        default=None, sa_column=Column(ForeignKey("mobile_office_call.id"), nullable=True)
    )
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    received_by: str = Field(max_length=200)
    operator_name: str = Field(default="", max_length=100)
    state: str = Field(max_length=20)
    version: int = 1
    # the deadline now: on site within 4 hours if urgent, else a working day; a coordination
    # by the end of the agreed day
    due_at: datetime | None = _moment()
    triaged_at: datetime | None = _moment()
    triaged_by: str | None = Field(default=None, max_length=200)
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    trip_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("mobile_office_trip.id"), nullable=True, index=True),
    )
    ticket_id: int | None = Field(default=None, index=True)  # the core ticket it became
    arrived_at: datetime | None = _moment()
    arrival_minutes: float | None = None  # from the call to the crew's arrival
    outcome_at: datetime | None = _moment()
    promised_on: date | None = None  # 约期协调: the agreed day
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Trip(SQLModel, table=True):
    """An 出车单: where the 民情直通车 goes, with whom, when, for which calls and tickets."""

    __tablename__ = "mobile_office_trip"
    __table_args__ = (Index("ix_mobile_office_trip_day", "township_code", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(unique=True)  # its ``mobile_office/trip`` workflow instance
    unit_code: str = Field(
        sa_column=Column(String(15), ForeignKey(UNIT_FK), nullable=False, index=True)
    )
    township_code: str = Field(max_length=15)
    destination: str = Field(max_length=200)
    vehicle: str | None = Field(default=None, max_length=50)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    leader: str = Field(max_length=200)  # the duty leader who sent it (audit label)
    leader_name: str = Field(default="", max_length=100)
    state: str = Field(max_length=20)
    version: int = 1
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    departed_at: datetime | None = _moment(index=True)
    arrived_at: datetime | None = _moment()
    returned_at: datetime | None = _moment()
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TripCrew(SQLModel, table=True):
    """A staff account on a trip's crew (随车人员), with its name as it was then."""

    __tablename__ = "mobile_office_trip_crew"
    __table_args__ = (Index("ix_mobile_office_trip_crew_account", "account_id"),)

    trip_id: int = Field(
        sa_column=Column(ForeignKey("mobile_office_trip.id"), primary_key=True, nullable=False)
    )
    account_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    username: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=100)


class TripTicket(SQLModel, table=True):
    """A core ticket a trip goes to handle on site."""

    __tablename__ = "mobile_office_trip_ticket"

    trip_id: int = Field(
        sa_column=Column(ForeignKey("mobile_office_trip.id"), primary_key=True, nullable=False)
    )
    ticket_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})


class OnSiteRecord(SQLModel, table=True):
    """现场处置记录: what the crew found and did on site, and how it ended."""

    __tablename__ = "mobile_office_record"

    id: int | None = Field(default=None, primary_key=True)
    trip_id: int = Field(
        sa_column=Column(ForeignKey("mobile_office_trip.id"), nullable=False, index=True)
    )
    call_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("mobile_office_call.id"), nullable=True, unique=True),
    )  # the call it settles: one record per call
    unit_code: str = Field(
        sa_column=Column(String(15), ForeignKey(UNIT_FK), nullable=False, index=True)
    )
    township_code: str = Field(max_length=15)
    findings: str = Field(sa_column=Column(Text, nullable=False))
    parties: str | None = Field(default=None, max_length=200)
    actions: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    result: str = Field(max_length=12)  # resolved 当场办结 | scheduled 约期协调 | referred 转办
    promised_on: date | None = None
    meeting_place: str | None = Field(default=None, max_length=100)
    ticket_id: int | None = None
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    recorded_by: str = Field(max_length=200)
    recorder_name: str = Field(default="", max_length=100)


class Ledger(SQLModel, table=True):
    """日清日结台账: a township's day as the duty leader closed it (the counts then).

    A day is closed when ``closed_at`` is set; a call registered later for that day opens
    it again (``reopened_at``) until the duty leader closes it once more.
    """

    __tablename__ = "mobile_office_ledger"

    township_code: str = Field(
        sa_column=Column(String(15), ForeignKey(UNIT_FK), primary_key=True, nullable=False)
    )
    day: date = Field(primary_key=True)
    calls: int = 0
    answered: int = 0
    resolved: int = 0
    scheduled: int = 0
    transferred: int = 0
    trips: int = 0
    records: int = 0
    closed_at: datetime | None = _moment()
    closed_by: str | None = Field(default=None, max_length=200)
    closer_name: str = Field(default="", max_length=100)
    note: str | None = Field(default=None, max_length=500)
    reopened_at: datetime | None = _moment()
