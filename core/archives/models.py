"""The archive tables: ``archive_household`` (一户一档) and ``archive_person``, plus the
database-kept ``archive_key`` used when ``SANMIN_ARCHIVE_KEY`` is not set.

Only fields of docs domain.md §2.2 A that are in scope. A person's ``id_cipher`` is the
AES-GCM ciphertext of the ID number and ``id_hash`` its keyed hash (unique: one person per
number); the phone is ordinary PI, stored plain for exact search and masked on read.
``unit_code`` is the household's grid, copied onto its members so that every scoped query
filters one indexed column. ``version`` grows by one on each update (409 on a stale one).
``extra`` holds plugins' extension fields, namespaced by plugin (``{plugin: {field:
value}}``, :mod:`core.archives.extensions`); an empty object when there are none.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from core.archives.vocabulary import GENDERS, RELATIONS
from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow

__all__ = ["GENDERS", "RELATIONS", "ArchiveHousehold", "ArchiveKey", "ArchivePerson"]


def _timestamp() -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=False)


def _extra() -> Column:  # type: ignore[type-arg]
    """Plugins' extension values; ``{}`` also for rows inserted without it (imports)."""
    return Column(JSON, nullable=False, server_default=text("'{}'"))


class ArchiveHousehold(SQLModel, table=True):
    """One household (户): its number, address and grid."""

    __tablename__ = "archive_household"
    # (grid, 户号): scoped lists and the village book read their pages in this order, so a
    # page is an index range that stops after it, not a sort of the whole village.
    __table_args__ = (Index("ix_archive_household_unit_code_number", "unit_code", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)  # 户号
    address: str = Field(max_length=200)
    unit_code: str = Field(foreign_key="unit.code", max_length=15)
    source: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    version: int = 1
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=_extra())


class ArchivePerson(SQLModel, table=True):
    """One resident, member of one household."""

    __tablename__ = "archive_person"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, index=True)
    gender: str = Field(max_length=8)
    birth_date: date
    id_cipher: str | None = Field(default=None, max_length=80)
    id_hash: str | None = Field(default=None, max_length=64, unique=True)
    phone: str | None = Field(default=None, max_length=20, index=True)
    household_id: int = Field(foreign_key="archive_household.id", index=True)
    relation: str = Field(max_length=16)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    source: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    version: int = 1
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=_extra())


class ArchiveKey(SQLModel, table=True):
    """The archive key made at first start when ``SANMIN_ARCHIVE_KEY`` is unset (demo)."""

    __tablename__ = "archive_key"

    id: int = Field(primary_key=True)
    value: str = Field(max_length=128)
