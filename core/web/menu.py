"""Menu entries that plugins contribute to the shared layout."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MenuLink(BaseModel):
    """One entry of the navigation menu; lower ``order`` comes first."""

    model_config = ConfigDict(frozen=True)

    href: str
    label: str
    order: int = 100
