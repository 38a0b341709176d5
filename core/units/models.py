"""The unit table."""

from __future__ import annotations

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.units.codes import Level, parse_code


class Unit(SQLModel, table=True):
    """One administrative unit. ``path`` is the code's significant prefix, indexed,
    so that a whole subtree is one range scan."""

    __tablename__ = "unit"

    code: str = Field(sa_column=Column(String(15), primary_key=True))
    name: str = Field(max_length=100)
    level: Level = Field(sa_column=Column(String(10), nullable=False, index=True))
    parent_code: str | None = Field(
        default=None, foreign_key="unit.code", max_length=15, index=True
    )
    path: str = Field(sa_column=Column(String(15), nullable=False, unique=True, index=True))

    @classmethod
    def build(cls, code: str, name: str) -> Unit:
        """A unit whose level, parent and path are derived from its code."""
        parsed = parse_code(code)
        return cls(
            code=parsed.code,
            name=name,
            level=parsed.level,
            parent_code=parsed.parent,
            path=parsed.path,
        )

    @property
    def level_label(self) -> str:
        return Level(self.level).label

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
