"""Menu entries that plugins contribute to the shared layout, and who sees each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from core.units.codes import parse_code

if TYPE_CHECKING:
    from core.identity.access import AccessCatalog, Actor
    from core.plugins.toggles import ScopeUnit


class MenuLink(BaseModel):
    """One entry of the navigation menu; lower ``order`` comes first.

    ``roles`` and ``permission`` say who sees it: with neither, everyone who sees the
    page; with ``roles``, actors holding one of them; with ``permission``, actors whose
    roles grant it. Either way the role must be held in the page's township (at it,
    above it or inside it), or anywhere on pages outside a township. Anonymous
    visitors see only entries with neither. Hiding an entry is a courtesy, not access
    control: the route it links to checks the permission itself.
    """

    model_config = ConfigDict(frozen=True)

    href: str
    label: str
    order: int = 100
    roles: tuple[str, ...] = ()
    permission: str | None = None

    def shown_to(
        self, actor: Actor | None, catalog: AccessCatalog, township: ScopeUnit | None
    ) -> bool:
        """Whether this entry belongs in ``actor``'s menu on a page of ``township``."""
        if not self.roles and self.permission is None:
            return True
        if actor is None:
            return False
        path = parse_code(township.code).path if township is not None else ""
        return any(
            (held.path.startswith(path) or path.startswith(held.path))
            and (not self.roles or held.role in self.roles)
            and (self.permission is None or catalog.grants(held.role, self.permission))
            for held in actor.roles
        )
