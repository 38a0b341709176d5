"""Tables of 民主议事 (``deliberation_*``).

Registers, kept by the village or community:

* :class:`Estate`: a 小区 whose owners decide together (业主大会), at a village or grid.
* :class:`Parcel`: a 专有部分 of an estate with its floor area (建筑面积, in hundredths of a
  square metre) and its owner, an archive person (``owner_person_id``). The archive records
  dwellings and who lives there, not who owns a flat let to tenants, and the plugin API does
  not expose its housing table: this register is the owners' roll, keyed to archive records
  (``owner_person_id``, and ``archive_house_id`` when the flat is in the archive).
* :class:`Representative`: a member of a village's 村民代表会议.

A matter and what it gathers:

* :class:`Matter`: one 议题, its workflow instance's state mirrored on it, the rule it is
  decided by (copied when it is proposed), its milestones, and the counted outcome.
* :class:`Candidate`: a candidate of an election.
* :class:`Voter`: the electorate (表决名册), frozen when the matter is published.
* :class:`Turnout`: who has voted (签到), and how (online or in person): never the choice.
* :class:`Ballot`: the choices. A secret ballot carries no voter, no time and a random id;
  see ``README.md`` ("Ballot secrecy") for what links it to nobody.
* :class:`Meeting`: a 四议 step's meeting with its attendance (应到/实到) and votes.

The plugin references no core table but ``unit``. Change a table only through a new
revision in ``migrations/versions/``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core import UTCDateTime, utcnow


def _when(*, index: bool = False) -> Any:
    """An optional moment (UTC)."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))


def _stamp() -> Any:
    """A required moment, now by default."""
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _matter_fk(*, index: bool = True) -> Any:
    return Field(
        sa_column=Column(ForeignKey("deliberation_matter.id"), nullable=False, index=index)
    )


class Estate(SQLModel, table=True):
    """A 小区 whose owners decide together."""

    __tablename__ = "deliberation_estate"
    __table_args__ = (UniqueConstraint("unit_code", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    township_code: str = Field(max_length=15)
    name: str = Field(max_length=100)
    address: str = Field(default="", max_length=200)
    archive_estate_id: int | None = None
    created_by: str = Field(max_length=200)
    created_at: datetime = _stamp()
    updated_at: datetime = _stamp()


class Parcel(SQLModel, table=True):
    """A 专有部分 of an estate: its label (楼栋单元室号), floor area and owner."""

    __tablename__ = "deliberation_parcel"
    __table_args__ = (UniqueConstraint("estate_id", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(
        sa_column=Column(ForeignKey("deliberation_estate.id"), nullable=False, index=True)
    )
    label: str = Field(max_length=60)
    area: int  # 建筑面积 in hundredths of a square metre
    owner_person_id: int = Field(index=True)
    archive_house_id: int | None = None
    active: bool = True
    updated_by: str = Field(max_length=200)
    updated_at: datetime = _stamp()


class Representative(SQLModel, table=True):
    """A member of a village's 村民代表会议."""

    __tablename__ = "deliberation_representative"
    __table_args__ = (UniqueConstraint("unit_code", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    person_id: int
    since: date
    active: bool = True
    updated_by: str = Field(max_length=200)
    updated_at: datetime = _stamp()


class Matter(SQLModel, table=True):
    """One 议题, from 议题征集 to 执行结果公示."""

    __tablename__ = "deliberation_matter"
    __table_args__ = (
        Index("ix_deliberation_matter_board", "village_code", "public", "state"),
        Index("ix_deliberation_matter_unit", "unit_code", "state"),
        Index("ix_deliberation_matter_proposed", "unit_code", "proposed_at"),
        Index("ix_deliberation_matter_counted", "unit_code", "counted_at"),
        Index("ix_deliberation_matter_implemented", "unit_code", "implemented_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(unique=True)
    kind: str = Field(max_length=10)  # owners | village
    matter_type: str = Field(max_length=30)
    title: str = Field(max_length=100)
    description: str = Field(sa_column=Column(Text, nullable=False))
    unit_code: str = Field(sa_column=Column(String(15), ForeignKey("unit.code"), nullable=False))
    village_code: str = Field(max_length=15)
    township_code: str = Field(max_length=15, index=True)
    county_code: str = Field(max_length=15)
    estate_id: int | None = Field(
        default=None, sa_column=Column(ForeignKey("deliberation_estate.id"), nullable=True)
    )
    meeting: str | None = Field(default=None, max_length=30)
    rule: str = Field(max_length=40)
    quorum: str = Field(max_length=12)  # Threshold.encode(): "2/3", ">1/2"
    approval: str = Field(max_length=12)
    approval_base: str = Field(max_length=12)
    by_area: bool
    secret: bool
    allow_change: bool
    election: bool = False
    seats: int = 0
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=20)
    version: int = 1
    due_at: datetime | None = _when()
    public: bool = False
    proposer: str = Field(max_length=200)
    proposer_account: str | None = Field(default=None, max_length=64, index=True)
    proposed_at: datetime = _stamp()
    published_at: datetime | None = _when()
    opens_at: datetime | None = _when()
    closes_at: datetime | None = _when()
    opened_at: datetime | None = _when()
    closed_at: datetime | None = _when()
    counted_at: datetime | None = _when()
    results_published_at: datetime | None = _when()
    implementation_started_at: datetime | None = _when()
    implemented_at: datetime | None = _when()
    implementation_days: float | None = None
    implementation_note: str | None = Field(default=None, max_length=1000)
    ballot_key: str | None = Field(default=None, max_length=200)
    electorate_heads: int | None = None
    electorate_area: int | None = None
    participant_heads: int | None = None
    participant_area: int | None = None
    quorum_met: bool | None = None
    passed: bool | None = None
    tally: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = _stamp()


class Candidate(SQLModel, table=True):
    """A candidate of an election, in ballot order."""

    __tablename__ = "deliberation_candidate"
    __table_args__ = (UniqueConstraint("matter_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    matter_id: int = _matter_fk(index=False)
    position: int
    name: str = Field(max_length=50)
    person_id: int | None = None
    statement: str = Field(default="", max_length=500)


class Voter(SQLModel, table=True):
    """One entry of a matter's electorate (表决名册), frozen at publication: an owner with
    their 专有部分 and total area, a villager, or a representative."""

    __tablename__ = "deliberation_voter"
    __table_args__ = (UniqueConstraint("matter_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    matter_id: int = _matter_fk(index=False)
    person_id: int = Field(index=True)
    household_id: int | None = None
    name: str = Field(max_length=50)
    parcels: str = Field(default="", max_length=500)
    heads: int = 1
    area: int = 0


class Turnout(SQLModel, table=True):
    """That a voter has voted (one row per voter and matter: never twice), by which channel
    and who recorded it. It never holds the choice."""

    __tablename__ = "deliberation_turnout"
    __table_args__ = (UniqueConstraint("matter_id", "voter_id"),)

    id: int | None = Field(default=None, primary_key=True)
    matter_id: int = _matter_fk(index=False)
    voter_id: int = Field(sa_column=Column(ForeignKey("deliberation_voter.id"), nullable=False))
    channel: str = Field(max_length=10)  # online | in_person
    recorded_by: str = Field(max_length=200)
    cast_at: datetime = _stamp()
    changed_at: datetime | None = _when()
    changes: int = 0


class Ballot(SQLModel, table=True):
    """A ballot: the choice and the weight it counts with. Open ballots name their voter
    and time; secret ones carry neither, only a ``receipt`` (a keyed hash of the voter,
    whose key is erased when voting closes) when the matter lets votes change."""

    __tablename__ = "deliberation_ballot"
    __table_args__ = (
        UniqueConstraint("voter_id", "matter_id"),
        UniqueConstraint("receipt", "matter_id"),
    )

    id: str = Field(primary_key=True, max_length=32)  # random, never sequential
    matter_id: int = _matter_fk()
    choice: list[str] = Field(sa_column=Column(JSON, nullable=False))
    heads: int
    area: int
    voter_id: int | None = Field(
        default=None, sa_column=Column(ForeignKey("deliberation_voter.id"), nullable=True)
    )
    receipt: str | None = Field(default=None, max_length=64)
    cast_at: datetime | None = _when()


class Meeting(SQLModel, table=True):
    """A 四议 step's meeting (村党组织提议, 两委商议, 党员大会审议) with its attendance."""

    __tablename__ = "deliberation_meeting"
    __table_args__ = (UniqueConstraint("matter_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    matter_id: int = _matter_fk(index=False)
    step: str = Field(max_length=20)
    held_on: date
    form: str = Field(max_length=20)
    due: int
    present: int
    agree: int
    against: int
    abstain: int
    content: str = Field(max_length=1000)
    attendees: str = Field(max_length=1000)
    township_attendees: str | None = Field(default=None, max_length=500)
    passed: bool
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = _stamp()
