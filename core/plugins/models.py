"""Tables behind per-township plugin settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401
from core.db.types import UTCDateTime, utcnow


class PluginSetting(SQLModel, table=True):
    """An explicit on/off for one plugin at one city, county or township.

    Absence means "inherit from the unit above, else the manifest default".
    """

    __tablename__ = "plugin_setting"
    __table_args__ = (UniqueConstraint("unit_code", "plugin"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    plugin: str = Field(max_length=40)
    enabled: bool
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_by: str = Field(max_length=200)


class ConfigVersion(SQLModel, table=True):
    """One row whose counter goes up with every change to settings or units.

    Every process compares it with the version of its cached snapshot (at most
    once per refresh interval) and reloads when it moved: that is how a change
    made by one process reaches the others without a restart.
    """

    __tablename__ = "config_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
