"""Menu entries that plugins contribute to the shared layout."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MenuLink(BaseModel):
    """One entry of the navigation menu; lower ``order`` comes first."""

    model_config = ConfigDict(frozen=True)

    href: str
    label: str
    order: int = 100


def link_for_holders(
    request: object, permission: str, href: str, label: str, order: int
) -> list[MenuLink]:
    """A one-entry menu for actors whose roles grant ``permission`` somewhere, else none."""
    state = getattr(request, "state", None)
    actor = getattr(state, "actor", None)
    if actor is None or not actor.paths_with(request.app.state.kernel.access, permission):  # type: ignore[attr-defined]
        return []
    return [MenuLink(href=href, label=label, order=order)]
