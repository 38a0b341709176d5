"""Tables of 敲门嫂 (``knock_door_…``): teams and their members, visit plans, visits and the
needs they found.

A plan (``knock_door_plan``) is one person to visit in one period (a week, a month or a
quarter, from the care level or special group): at most one per person and period. A visit
(``knock_door_visit``) is what the plugin keeps of one 入户问需记录 (the form record itself is
the forms service's ``form_record``): the figures its metrics count. A need
(``knock_door_need``) is one need found on a visit, with the ticket it was turned into and
that ticket's state. ``unit_code`` is always the person's unit (a grid), so every scoped
query and every metric is a range on one indexed column. Change a table only through a new
revision in ``migrations/versions/``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core import UTCDateTime, utcnow


def _timestamp(index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=False, index=index)


def _optional_timestamp(index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=True, index=index)


class Team(SQLModel, table=True):
    """A 敲门嫂 team of a village or a grid."""

    __tablename__ = "knock_door_team"
    __table_args__ = (UniqueConstraint("unit_code", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    name: str = Field(max_length=50)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Member(SQLModel, table=True):
    """A volunteer (or the leader) of a team, by account name."""

    __tablename__ = "knock_door_member"
    __table_args__ = (UniqueConstraint("team_id", "username"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="knock_door_team.id", index=True)
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16)  # volunteer | leader
    joined_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Plan(SQLModel, table=True):
    """One person to visit in one period; ``due_on`` is the period's last day."""

    __tablename__ = "knock_door_plan"
    __table_args__ = (
        UniqueConstraint("person_id", "period_start"),
        Index("ix_knock_door_plan_unit_code_due_on", "unit_code", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int
    household_id: int
    unit_code: str = Field(foreign_key="unit.code", max_length=15)
    team_id: int | None = Field(default=None, foreign_key="knock_door_team.id", index=True)
    volunteer: str | None = Field(default=None, max_length=64, index=True)  # a username
    frequency: str = Field(max_length=8)  # week | month | quarter
    basis: str = Field(max_length=40)  # level:red, tag:gugua …
    period_start: date
    due_on: date
    status: str = Field(max_length=16)  # planned | overdue | visited | reviewed
    visit_id: int | None = Field(default=None)
    visited_at: datetime | None = Field(default=None, sa_column=_optional_timestamp())
    overdue_at: datetime | None = Field(default=None, sa_column=_optional_timestamp())
    reviewed_by: str | None = Field(default=None, max_length=200)
    reviewed_at: datetime | None = Field(default=None, sa_column=_optional_timestamp())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    version: int = 1


class Visit(SQLModel, table=True):
    """One 入户问需记录 as the metrics count it; the form record holds the whole form."""

    __tablename__ = "knock_door_visit"
    __table_args__ = (UniqueConstraint("visitor", "submission_key"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: int | None = Field(default=None, unique=True)  # the forms service's record
    plan_id: int | None = Field(default=None, foreign_key="knock_door_plan.id", index=True)
    person_id: int = Field(index=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    visitor: str = Field(max_length=200)  # the actor's label
    visitor_name: str = Field(max_length=100)
    submission_key: str = Field(max_length=128)
    visited_on: date = Field(index=True)
    method: str = Field(max_length=8)
    minutes: int
    abnormal: bool = False  # an observation rated 异常
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Need(SQLModel, table=True):
    """A need found on a visit, the ticket it became and how that ticket stands."""

    __tablename__ = "knock_door_need"

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="knock_door_visit.id", index=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    household_id: int
    kind: str = Field(max_length=16)
    title: str = Field(max_length=100)
    description: str = Field(max_length=1000)
    reporter_name: str = Field(max_length=50)  # the person visited, for the ticket
    address: str = Field(max_length=200)
    urgent: bool = False
    transfer: bool = False  # to be turned into a ticket
    found_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp(index=True))
    ticket_id: int | None = Field(default=None, unique=True)
    transferred_at: datetime | None = Field(default=None, sa_column=_optional_timestamp(True))
    ticket_state: str | None = Field(default=None, max_length=40)
    ticket_version: int = 0
    solved_at: datetime | None = Field(default=None, sa_column=_optional_timestamp(True))
