"""Per-township plugin settings: inheritance, validation, audit and the 404."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from core.audit.models import AuditEntry
from core.plugins.service import ToggleError
from tests.helpers import MenuPlugin


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [
        ("on_by_default", MenuPlugin("on_by_default", default_enabled=True)),
        ("off_by_default", MenuPlugin("off_by_default")),
    ]


PLUGIN_AUDIT = select(AuditEntry).where(col(AuditEntry.action).startswith("plugin."))


def enabled_at(sanmin, code: str) -> frozenset[str]:  # type: ignore[no-untyped-def]
    return sanmin.kernel.scope(code).enabled


def test_settings_inherit_township_then_county_then_city_then_default(sanmin) -> None:
    a = sanmin.unit("330802001000")
    b = sanmin.unit("330802002000")
    c = sanmin.unit("330803001000")
    assert "on_by_default" in enabled_at(sanmin, a.code)
    assert "off_by_default" not in enabled_at(sanmin, a.code)

    sanmin.enable("off_by_default", "330800000000")  # city
    assert all("off_by_default" in enabled_at(sanmin, u.code) for u in (a, b, c))
    sanmin.disable("off_by_default", "330802000000")  # county 柯城区 overrides the city
    assert "off_by_default" not in enabled_at(sanmin, a.code)
    assert "off_by_default" in enabled_at(sanmin, c.code)  # other county unaffected
    sanmin.enable("off_by_default", a)  # township overrides its county
    assert "off_by_default" in enabled_at(sanmin, a.code)
    assert "off_by_default" not in enabled_at(sanmin, b.code)
    sanmin.set("off_by_default", a, None)  # back to inheriting
    assert "off_by_default" not in enabled_at(sanmin, a.code)

    states = sanmin.kernel.plugin_states("330802001001")  # a village reads its township
    assert states["off_by_default"].origin == "inherited"
    assert states["off_by_default"].origin_unit == "330802000000"
    assert states["home"].origin == "core" and states["home"].enabled


def test_a_village_grid_resolves_to_its_township(sanmin) -> None:
    grid = sanmin.unit("330802001001001")
    scope = sanmin.kernel.scope(grid.code)
    assert scope.township.code == "330802001000" and scope.unit.code == grid.code


@pytest.mark.parametrize(
    ("plugin", "unit", "message"),
    [
        ("absent", "330802001000", "未安装"),
        ("home", "330802001000", "不能停用"),
        ("off_by_default", "330802001001", "村社区"),
        ("off_by_default", "330802009000", "不存在"),
    ],
)
def test_bad_settings_are_refused_and_write_nothing(sanmin, plugin, unit, message) -> None:  # type: ignore[no-untyped-def]
    sanmin.unit("330802001001")
    with pytest.raises((ToggleError, LookupError), match=message):
        sanmin.enable(plugin, unit)
    with Session(sanmin.engine) as session:
        assert session.exec(PLUGIN_AUDIT).all() == []
        assert session.execute(text("SELECT count(*) FROM plugin_setting")).scalar() == 0


def test_every_change_is_audited_with_before_and_after(sanmin) -> None:
    township = sanmin.township()
    sanmin.enable("off_by_default", township)
    sanmin.enable("off_by_default", township)  # no change: not audited again
    sanmin.disable("off_by_default", township)
    sanmin.set("off_by_default", township, None)
    with Session(sanmin.engine) as session:
        entries = session.exec(PLUGIN_AUDIT.order_by(AuditEntry.id)).all()
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("plugin.enable", {"enabled": None}, {"enabled": True}),
        ("plugin.disable", {"enabled": True}, {"enabled": False}),
        ("plugin.inherit", {"enabled": False}, {"enabled": None}),
    ]
    assert all(e.actor == "test" and e.unit_code == township.code and e.at for e in entries)
    assert entries[0].target_id == f"{township.code}:off_by_default"


def test_the_database_refuses_to_update_or_delete_audit_entries(sanmin) -> None:
    sanmin.enable("off_by_default", sanmin.township())
    statements = ["UPDATE audit_entry SET actor = 'x'", "DELETE FROM audit_entry"]
    if sanmin.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_entry")
    for statement in statements:
        with sanmin.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
    with Session(sanmin.engine) as session:
        assert len(session.exec(PLUGIN_AUDIT).all()) == 1


def test_a_change_in_one_township_leaves_the_others_alone(sanmin) -> None:
    a, b = sanmin.township(), sanmin.township()
    sanmin.disable("on_by_default", a)
    assert "on_by_default" not in enabled_at(sanmin, a.code)
    assert "on_by_default" in enabled_at(sanmin, b.code)


def test_townships_with_the_same_enabled_set_share_one_hook_relay(sanmin) -> None:
    a, b, c = sanmin.township(), sanmin.township(), sanmin.township()
    sanmin.enable("off_by_default", c)
    assert sanmin.kernel.hooks_for(a.code) is sanmin.kernel.hooks_for(b.code)
    assert sanmin.kernel.hooks_for(a.code) is not sanmin.kernel.hooks_for(c.code)


def test_the_plugins_api_reports_state_and_origin(sanmin) -> None:
    township = sanmin.township()
    sanmin.enable("off_by_default", township)
    body = sanmin.client.get("/api/v1/plugins", params={"unit": township.code}).json()
    by_name = {p["name"]: p for p in body}
    assert by_name["off_by_default"]["enabled"] is True
    assert by_name["off_by_default"]["origin"] == "unit"
    assert by_name["on_by_default"]["origin"] == "default"
    unknown = sanmin.client.get("/api/v1/plugins", params={"unit": "330899001000"})
    assert unknown.status_code == 404 and "330899001000" in unknown.json()["detail"]


def test_the_admin_page_shows_the_matrix(sanmin) -> None:
    township = sanmin.township("矩阵镇")
    sanmin.enable("off_by_default", township)
    page = sanmin.client.get("/admin/plugins", headers={"Accept": "text/html"}).text
    assert "矩阵镇" in page
    assert f'data-plugin="off_by_default" data-unit="{township.code}"' in page


def test_an_admin_switches_plugins_in_their_own_units_only(sanmin) -> None:
    a, b = sanmin.unit("330802001000"), sanmin.unit("330802002000")
    admin = sanmin.client_as("township_admin", a, "fushan-admin")
    url = f"/api/v1/plugins/off_by_default/settings/{a.code}"
    answer = admin.put(url, json={"enabled": True})
    assert answer.status_code == 200 and answer.json()["enabled"] is True
    assert "off_by_default" in enabled_at(sanmin, a.code)
    other = admin.put(f"/api/v1/plugins/off_by_default/settings/{b.code}", json={"enabled": True})
    assert other.status_code == 404
    county = admin.put(
        "/api/v1/plugins/off_by_default/settings/330802000000", json={"enabled": True}
    )
    assert county.status_code == 404  # above the admin's township: not theirs to set
    unknown = admin.put(f"/api/v1/plugins/nope/settings/{a.code}", json={"enabled": True})
    assert unknown.status_code == 422 and "plugin" in unknown.json()["detail"]
    bad = admin.put(url, json={"enabled": "yes please"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "enabled"]
    back = admin.put(url, json={"enabled": None})
    assert back.json()["origin"] == "default"
    worker = sanmin.client_as("grid_worker", "330802001001001")
    assert worker.put(url, json={"enabled": True}).status_code == 403
    with Session(sanmin.engine) as session:
        entries = session.exec(PLUGIN_AUDIT.order_by(AuditEntry.id)).all()
    assert [(e.actor, e.action) for e in entries] == [
        ("account:fushan-admin", "plugin.enable"),
        ("account:fushan-admin", "plugin.inherit"),
    ]
