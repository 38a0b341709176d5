"""Roles, permissions, the combining rule and scope in the query."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select

from core import Actor, Level, Permission, Role, hookimpl, scope_clause
from core.identity.access import AccessCatalog, AccessError, combine, role_at
from core.plugins.registry import PluginRegistry
from core.web.app import create_app
from tests.helpers import manifest


class Practice:
    """A plugin with a permission, a role and a township-scoped veto."""

    PLUGIN = manifest("practice")

    def __init__(self) -> None:
        self.vetoed: set[str] = set()

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [Permission("practice.visit", "走访", granted_to=("volunteer", "practice_lead"))]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            Role(
                "practice_lead",
                "队长",
                frozenset({Level.village}),
                frozenset({"practice.visit", "units.read"}),
            )
        ]

    @hookimpl
    def permission_allowed(self, actor, permission, unit_code):  # type: ignore[no-untyped-def]
        return False if unit_code in self.vetoed else None


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("practice", Practice())]


def test_hook_register_permissions(sanmin) -> None:
    access = sanmin.kernel.access
    assert access.permissions["practice.visit"].title == "走访"
    assert access.grants("volunteer", "practice.visit")
    assert not access.grants("grid_worker", "practice.visit")


def test_hook_register_roles(sanmin) -> None:
    access = sanmin.kernel.access
    assert access.grants("practice_lead", "practice.visit")
    access.check_assignable("practice_lead", "330802001001")
    with pytest.raises(AccessError, match="只能设在"):
        access.check_assignable("practice_lead", "330802001000")


def test_hook_permission_allowed(sanmin) -> None:
    a, b = sanmin.township(), sanmin.township()
    sanmin.enable("practice", a)
    volunteer = Actor(
        "account", 1, "v", (role_at("volunteer", a.code), role_at("volunteer", b.code))
    )
    assert sanmin.kernel.allowed(volunteer, "practice.visit", a.code)
    practice = sanmin.kernel.pm.get_plugin("practice")
    practice.vetoed |= {a.code, b.code}
    assert not sanmin.kernel.allowed(volunteer, "practice.visit", a.code)  # veto where enabled
    assert sanmin.kernel.allowed(volunteer, "practice.visit", b.code)  # off in b: not asked


@pytest.mark.parametrize(
    ("answers", "role_answer", "expected"),
    [
        ([], False, False),  # deny by default
        ([], True, True),
        ([None, None], False, False),
        ([True], False, True),  # a plugin may grant
        ([True, False], True, False),  # any False denies, even over a True and the roles
        ([None, False], True, False),
    ],
)
def test_the_one_combining_rule(answers, role_answer, expected) -> None:  # type: ignore[no-untyped-def]
    assert combine(answers, role_answer) is expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([Permission("visit", "x")], "must be named 'bad.…'"),
        ([Permission("other.visit", "x")], "must be named 'bad.…'"),
        ([Permission("bad.visit", "x", granted_to=("nobody",))], "unknown role"),
        ([Permission("units.read", "x")], "must be named"),
        ([Role("lead", "x", frozenset({Level.grid}))], "must be named 'bad_…'"),
        (
            [Role("bad_lead", "x", frozenset({Level.grid}), frozenset({"bad.nothing"}))],
            "unknown permission",
        ),
        (["not a role"], "expected Permission or Role"),
    ],
)
def test_bad_declarations_take_the_plugin_out(sanmin_settings, items, message) -> None:  # type: ignore[no-untyped-def]
    class Bad:
        PLUGIN = manifest("bad")

        @hookimpl
        def register_permissions(self):  # type: ignore[no-untyped-def]
            return items

    app = create_app(
        sanmin_settings,
        registry=PluginRegistry().load(
            discover=False, extra=[("bad", Bad()), ("practice", Practice())]
        ),
    )
    failed = app.state.kernel.registry.plugins_failed
    assert message in failed["bad"].error
    assert "practice.visit" in app.state.kernel.access.permissions  # the others start


def test_roles_are_checked_against_unit_levels() -> None:
    catalog = AccessCatalog.core()
    catalog.check_assignable("grid_worker", "330802001001001")
    catalog.check_assignable("township_admin", "330802001000")
    for role, unit in [
        ("grid_worker", "330802001000"),
        ("township_admin", "330802000000"),
        ("village_cadre", "330802001001001"),
    ]:
        with pytest.raises(AccessError):
            catalog.check_assignable(role, unit)
    with pytest.raises(AccessError, match="不存在"):
        catalog.check_assignable("king", "330802001000")


def test_scope_clause_keeps_rows_inside_the_actors_units(sanmin) -> None:
    table = Table("scope_probe", MetaData(), Column("unit_code", String(15)))
    codes = [
        "330802001001001",
        "330802001001002",
        "330802001002001",
        "330802002001001",
        "330803001001001",
        "330802001000",
    ]
    catalog = sanmin.kernel.access
    grid_worker = Actor("account", 1, "g", (role_at("grid_worker", "330802001001001"),))
    township = Actor("account", 2, "t", (role_at("township_admin", "330802001000"),))
    two = Actor(
        "account",
        3,
        "two",
        (role_at("grid_worker", "330802001001001"), role_at("grid_worker", "330802002001001")),
    )
    volunteer = Actor("account", 4, "v", (role_at("volunteer", "330802001000"),))
    with sanmin.engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table), [{"unit_code": c} for c in codes])

        def visible(actor: Actor) -> list[str]:
            query = select(table.c.unit_code).where(
                scope_clause(actor, catalog, "archive.read", table.c.unit_code)
            )
            return sorted(conn.execute(query).scalars())

        assert visible(grid_worker) == ["330802001001001"]
        assert visible(township) == [
            "330802001000",
            "330802001001001",
            "330802001001002",
            "330802001002001",
        ]
        assert visible(two) == ["330802001001001", "330802002001001"]
        assert visible(volunteer) == []  # no role grants archive.read: nothing loads
        table.drop(conn)
