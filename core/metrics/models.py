"""Daily aggregates of additive metrics, and how far each is complete."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, Double, Index, String
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime


class MetricDaily(SQLModel, table=True):
    """One additive metric's value for the records of one unit (the unit a record is
    attached to, any level) on one local day, per value of the metric's dimension (``""``
    when it has none). Roll-ups sum these over a code range."""

    __tablename__ = "metric_daily"
    __table_args__ = (Index("ix_metric_daily_metric_day", "metric", "day"),)

    metric: str = Field(sa_column=Column(String(120), primary_key=True))
    unit_code: str = Field(sa_column=Column(String(15), primary_key=True))
    day: date = Field(sa_column=Column(Date, primary_key=True))
    dimension: str = Field(default="", sa_column=Column(String(64), primary_key=True))
    value: float = Field(sa_column=Column(Double, nullable=False))


class MetricRefresh(SQLModel, table=True):
    """Per metric: every day up to ``fresh_through`` is in ``metric_daily`` (computed after
    the day ended); later days are computed live. The row is also the refresh's lock."""

    __tablename__ = "metric_refresh"

    metric: str = Field(sa_column=Column(String(120), primary_key=True))
    fresh_through: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    refreshed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
