"""Menu entries per role and permission, and only where their plugin is enabled."""

from __future__ import annotations

import pytest

from core import MenuLink, hookimpl
from tests.helpers import manifest

GRID_A = "330802001001001"  # 府山街道, 府山社区第一网格
GRID_B = "330802002001001"  # the next township


class RoleMenus:
    """A township plugin with one entry for everyone, one per role, one per permission."""

    PLUGIN = manifest("rolemenus")

    @hookimpl
    def menu_links(self, township, request):  # type: ignore[no-untyped-def]
        return [
            MenuLink(href="/p/rolemenus/all", label="人人可见"),
            MenuLink(href="/p/rolemenus/grid", label="网格员专用", roles=("grid_worker",)),
            MenuLink(href="/p/rolemenus/audit", label="审计可见", permission="audit.read"),
        ]


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("rolemenus", RoleMenus())]


def links(client, unit: str) -> set[str]:  # type: ignore[no-untyped-def]
    page = client.get("/", params={"unit": unit})
    assert page.status_code == 200, page.text
    return {href for href in ("all", "grid", "audit") if f'href="/p/rolemenus/{href}"' in page.text}


def test_entries_follow_the_viewers_roles_and_permissions(sanmin) -> None:
    sanmin.unit(GRID_A)
    sanmin.enable("rolemenus", "330802000000")
    grid_worker = sanmin.client_as("grid_worker", GRID_A)
    township_admin = sanmin.client_as("township_admin", GRID_A[:9] + "000")
    assert links(grid_worker, GRID_A) == {"all", "grid"}
    assert links(township_admin, GRID_A) == {"all", "audit"}


def test_a_role_reaches_the_townships_below_it(sanmin) -> None:
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    sanmin.enable("rolemenus", "330802000000")
    county_admin = sanmin.client_as("county_admin", "330802000000")
    other_admin = sanmin.client_as("township_admin", GRID_B[:9] + "000")
    # A county admin's role reaches every township below: the audit entry shows in each.
    assert links(county_admin, GRID_A) == {"all", "audit"}
    # Another township's admin gets the entry in its own township's menu.
    assert links(other_admin, GRID_B) == {"all", "audit"}


def test_no_entries_where_the_plugin_is_disabled(sanmin) -> None:
    sanmin.unit(GRID_A)
    sanmin.disable("rolemenus", "330802000000")
    assert links(sanmin.client_as("grid_worker", GRID_A), GRID_A) == set()


def test_shown_to_matches_the_page_township() -> None:
    from core.identity.access import AccessCatalog, Actor, role_at
    from core.plugins.toggles import ScopeUnit
    from core.units.codes import Level

    catalog = AccessCatalog.core()
    admin_b = Actor("account", 1, "b", (role_at("township_admin", "330802002000"),))
    town_a = ScopeUnit("330802001000", "府山街道", Level.township, "330802000000")
    town_b = ScopeUnit("330802002000", "荷花街道", Level.township, "330802000000")
    link = MenuLink(href="/x", label="审计", permission="audit.read")
    assert link.shown_to(admin_b, catalog, town_b)
    assert not link.shown_to(admin_b, catalog, town_a)
    assert link.shown_to(admin_b, catalog, None)  # pages outside any township
    assert not link.shown_to(None, catalog, town_b)
    assert MenuLink(href="/y", label="公开").shown_to(None, catalog, town_a)
