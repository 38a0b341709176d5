"""Searching and exporting the audit log within the actor's scope; auditing sensitive reads.

That the database itself refuses UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit
entries is tested in ``tests/test_toggles.py``
(``test_the_database_refuses_to_update_or_delete_audit_entries``).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select
from starlette.requests import Request

import core.audit.api as audit_api
from core.audit.models import AuditEntry
from core.audit.reads import audit_read, record_read
from core.audit.service import record
from core.identity.service import actor_from_token, issue_token
from core.testing import TEST_PASSWORD, all_routes

TOWNSHIP_A = "330802001000"
TOWNSHIP_B = "330802002000"
SEEDED = {
    "seed.grid": "330802001001001",
    "seed.township": TOWNSHIP_A,
    "seed.village": "330802001001",
    "seed.other_township": "330802002001",
    "seed.county": "330802000000",
    "seed.unitless": None,
}


def seed(sanmin) -> None:  # type: ignore[no-untyped-def]
    """Entries in township A, in township B, at the county and without a unit, written
    both directly and by real actions (toggles audit themselves)."""
    for code in ("330802001001001", "330802002001", "330802002000"):
        sanmin.unit(code)
    with sanmin.session() as session:
        for action, unit in SEEDED.items():
            record(
                session,
                actor="account:seeder",
                action=action,
                target_type="thing",
                target_id=action.removeprefix("seed."),
                unit_code=unit,
            )
    sanmin.enable("knock_door", TOWNSHIP_A)
    sanmin.enable("knock_door", TOWNSHIP_B)


def listed(client, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    answer = client.get("/api/v1/audit", params={"limit": 500, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def actions(entries: list[dict]) -> set[str]:
    return {e["action"] for e in entries}


# -- scope ---------------------------------------------------------------------------------


def test_a_township_admin_sees_their_township_and_nothing_else(sanmin) -> None:
    seed(sanmin)
    admin = sanmin.client_as("township_admin", TOWNSHIP_A)
    entries = listed(admin)
    assert {"seed.grid", "seed.township", "seed.village", "plugin.enable"} <= actions(entries)
    assert not actions(entries) & {"seed.other_township", "seed.county", "seed.unitless"}
    assert all(e["unit_code"] and e["unit_code"].startswith("330802001") for e in entries)
    toggles = [e for e in entries if e["action"] == "plugin.enable"]
    assert [e["unit_code"] for e in toggles] == [TOWNSHIP_A]
    # the next township's admin sees the mirror image
    other = listed(sanmin.client_as("township_admin", TOWNSHIP_B))
    assert "seed.other_township" in actions(other)
    assert not actions(other) & {"seed.grid", "seed.township", "seed.unitless"}


def test_a_county_admin_sees_the_county_but_not_unitless_entries(sanmin) -> None:
    seed(sanmin)
    entries = listed(sanmin.client_as("county_admin", "330802000000"), action="seed.")
    assert actions(entries) == set(SEEDED) - {"seed.unitless"}


def test_a_city_admin_does_not_see_entries_without_a_unit(sanmin) -> None:
    """Entries without a unit are the installation's, not any one city's (finding 3)."""
    seed(sanmin)
    city = sanmin.client_as("city_admin", "330800000000")
    assert actions(listed(city, action="seed.")) == set(SEEDED) - {"seed.unitless"}
    assert all(e["unit_code"] for e in listed(city))
    page = city.get("/admin/audit", params={"action": "seed."})
    assert "seed.county" in page.text and "seed.unitless" not in page.text
    assert "以及不属于任何单位的记录" not in page.text
    # a system administrator at a city does see them
    system = sanmin.client_as("system_admin", "330800000000")
    assert actions(listed(system, action="seed.")) == set(SEEDED)
    assert "以及不属于任何单位的记录" in system.get("/admin/audit").text


def test_logins_of_another_city_and_of_unknown_usernames_stay_hidden_from_a_city_admin(
    sanmin,
) -> None:
    """The review's t13: a city admin must learn nothing of another city's account logins
    nor of failed logins with unknown usernames (a password typed in the wrong field)."""
    sanmin.account("county_admin", "330702000000", "jinhua-admin")  # 金华市, another city
    anonymous = sanmin.anonymous
    for username, password in (
        ("jinhua-admin", "My-Secret-typo"),
        ("My-Real-Password-2026", "x"),
        ("jinhua-admin", TEST_PASSWORD),
    ):
        anonymous.post("/api/v1/auth/token", data={"username": username, "password": password})
    city = sanmin.client_as("city_admin", "330800000000")
    seen = listed(city, action="auth.")
    assert all(e["unit_code"] and e["unit_code"].startswith("3308") for e in seen), seen
    assert not [e for e in seen if "jinhua" in e["actor"] or e["target_id"].startswith("my")]
    everything = listed(sanmin.client, action="auth.login_failed")
    assert any(e["unit_code"] is None for e in everything)  # the unknown username's


def test_entries_without_a_unit_need_system_admin_or_a_province_role() -> None:
    """Who sees entries without a unit, role by role (a plugin may add a province role)."""
    from core import Role
    from core.audit.search import sees_unitless
    from core.identity.access import AccessCatalog, Actor, role_at
    from core.units.codes import Level

    catalog = AccessCatalog.core()
    catalog.add(
        "prov",
        [Role("prov_auditor", "省审计", frozenset({Level.province}), frozenset({"audit.read"}))],
    )
    catalog.add(
        "prov2",
        [Role("prov2_viewer", "省查看", frozenset({Level.province}), frozenset({"units.read"}))],
    )

    def sees(role: str, unit: str) -> bool:
        actor = Actor(kind="account", id=1, name="x", roles=(role_at(role, unit),))
        return sees_unitless(actor, catalog)

    assert sees("system_admin", "330000000000") and sees("system_admin", "330800000000")
    assert sees("prov_auditor", "330000000000")
    assert not sees("prov2_viewer", "330000000000")  # no audit.read
    assert not sees("city_admin", "330800000000")
    assert not sees("county_admin", "330802000000")
    assert not sees("township_admin", TOWNSHIP_A)


def test_the_system_admin_sees_everything_including_entries_without_a_unit(sanmin) -> None:
    seed(sanmin)
    entries = listed(sanmin.client)
    assert set(SEEDED) <= actions(entries)
    assert {"role.grant", "plugin.enable"} <= actions(entries)
    assert any(e["unit_code"] is None for e in entries)
    with Session(sanmin.engine) as session:
        assert len(entries) == len(session.exec(select(AuditEntry)).all())


def test_entries_carry_every_field_newest_first_with_a_zoned_time(sanmin) -> None:
    seed(sanmin)
    entries = listed(sanmin.client, action="seed.")
    assert [e["action"] for e in entries] == list(reversed(SEEDED))
    grid = entries[-1]
    assert set(grid) == {
        "id",
        "at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "unit_code",
        "before",
        "after",
        "source",
    }
    assert datetime.fromisoformat(grid["at"]).utcoffset() is not None
    assert grid["at"].endswith("+00:00")
    assert (grid["actor"], grid["target_type"], grid["target_id"]) == (
        "account:seeder",
        "thing",
        "grid",
    )


def test_a_role_without_audit_read_gets_403_and_anonymous_401(sanmin) -> None:
    volunteer = sanmin.client_as("volunteer", TOWNSHIP_A)
    cadre = sanmin.client_as("village_cadre", "330802001001")
    for client in (volunteer, cadre):
        for path in ("/api/v1/audit", "/api/v1/audit/export", "/admin/audit"):
            answer = client.get(path)
            assert answer.status_code == 403, (path, answer.text)
        assert client.get("/api/v1/audit").json()["permission"] == "audit.read"
    for path in ("/api/v1/audit", "/api/v1/audit/export?format=csv"):
        assert sanmin.anonymous.get(path).status_code == 401
    page = sanmin.anonymous.get(
        "/admin/audit", headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 303 and page.headers["location"].startswith("/login?")


def test_anonymous_callers_learn_nothing_from_bad_filters(sanmin) -> None:
    assert sanmin.anonymous.get("/api/v1/audit", params={"since": "x"}).status_code == 401


# -- filters -------------------------------------------------------------------------------


def test_action_and_actor_match_exactly_or_by_prefix(sanmin) -> None:
    seed(sanmin)
    client = sanmin.client
    assert actions(listed(client, action="seed.grid")) == {"seed.grid"}
    assert actions(listed(client, action="seed.")) == set(SEEDED)
    assert actions(listed(client, action="seed*")) == set(SEEDED)
    assert actions(listed(client, action="seed")) == set()
    assert actions(listed(client, action="SEED.")) == set()  # case-sensitive on SQLite too
    assert actions(listed(client, action="plugin.")) == {"plugin.enable"}
    assert actions(listed(client, actor="account:seeder")) == set(SEEDED)
    assert actions(listed(client, actor="account:seed*")) == set(SEEDED)
    assert listed(client, actor="account:seed") == []
    assert {e["actor"] for e in listed(client, actor="account:")} >= {"account:seeder"}
    # LIKE wildcards in a filter are plain characters
    assert listed(client, action="seed_*") == []
    assert listed(client, action="%") == []


def test_target_filters_are_exact(sanmin) -> None:
    seed(sanmin)
    entries = listed(sanmin.client, target_type="thing", target_id="grid")
    assert actions(entries) == {"seed.grid"}
    assert listed(sanmin.client, target_type="thin") == []


def test_the_unit_filter_takes_the_subtree(sanmin) -> None:
    seed(sanmin)
    village = listed(sanmin.client, unit="330802001001", action="seed.")
    assert actions(village) == {"seed.village", "seed.grid"}
    county = listed(sanmin.client, unit="330802000000", action="seed.")
    assert actions(county) == set(SEEDED) - {"seed.unitless"}


def test_a_unit_filter_outside_scope_is_404_and_one_above_shows_the_own_part(sanmin) -> None:
    seed(sanmin)
    admin = sanmin.client_as("township_admin", TOWNSHIP_A)
    assert admin.get("/api/v1/audit", params={"unit": TOWNSHIP_B}).status_code == 404
    assert admin.get("/api/v1/audit/export", params={"unit": TOWNSHIP_B}).status_code == 404
    above = listed(admin, unit="330802000000", action="seed.")
    assert actions(above) == {"seed.grid", "seed.township", "seed.village"}


def test_since_is_inclusive_and_until_exclusive_in_any_zone(sanmin) -> None:
    times = {
        "old.jan": datetime(2020, 1, 1, tzinfo=UTC),
        "old.jun": datetime(2020, 6, 1, tzinfo=UTC),
        "old.dec": datetime(2020, 12, 31, tzinfo=UTC),
    }
    with sanmin.session() as session:
        for action, at in times.items():
            session.add(
                AuditEntry(at=at, actor="test", action=action, target_type="t", target_id="1")
            )
    client = sanmin.client
    window = listed(
        client, action="old.", since="2020-06-01T08:00:00+08:00", until="2020-12-31T00:00:00Z"
    )
    assert actions(window) == {"old.jun"}
    assert actions(listed(client, action="old.", since="2020-06-01T00:00:00.000001Z")) == {
        "old.dec"
    }
    # an unencoded "+" arrives as a space and is taken back as the zone's sign
    raw = client.get("/api/v1/audit?action=old.&until=2020-06-01T08:00:00+08:00")
    assert actions(raw.json()) == {"old.jan"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2020-01-01T00:00:00"}, "since"),  # no zone
        ({"until": "2020-13-01T00:00:00Z"}, "until"),
        ({"since": "2021-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"unit": "abc"}, "unit"),
        ({"actor": "x" * 201}, "actor"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "501"}, "limit"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_invalid_filters_answer_422_naming_the_field(sanmin, params, field) -> None:
    answer = sanmin.client.get("/api/v1/audit", params=params)
    assert answer.status_code == 422, answer.text
    assert ["query", field] in [e["loc"] for e in answer.json()["detail"]]


def test_export_refuses_an_unknown_format_and_bad_filters(sanmin) -> None:
    for params, field in (({"format": "xlsx"}, "format"), ({"since": "x"}, "since")):
        answer = sanmin.client.get("/api/v1/audit/export", params=params)
        assert answer.status_code == 422
        assert ["query", field] in [e["loc"] for e in answer.json()["detail"]]


def test_pages_follow_a_cursor_without_gaps_or_repeats(sanmin) -> None:
    seed(sanmin)
    everything = [e["id"] for e in listed(sanmin.client)]
    seen: list[int] = []
    params: dict[str, object] = {"limit": 4}
    while True:
        answer = sanmin.client.get("/api/v1/audit", params=params)
        seen += [e["id"] for e in answer.json()]
        cursor = answer.headers.get("x-sanmin-next-cursor")
        if cursor is None:
            assert "link" not in answer.headers
            break
        assert answer.headers["link"].endswith('rel="next"') and cursor in answer.headers["link"]
        params = {"limit": 4, "cursor": cursor}
    assert seen == everything and len(seen) > 8


# -- export --------------------------------------------------------------------------------


def read_csv(answer) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def test_export_is_a_csv_of_the_visible_rows_with_a_bom_and_is_audited(sanmin) -> None:
    seed(sanmin)
    admin = sanmin.client_as("township_admin", TOWNSHIP_A, "li-si")
    answer = admin.get("/api/v1/audit/export", params={"format": "csv", "action": "seed."})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    assert answer.headers["x-sanmin-truncated"] == "false"
    rows = read_csv(answer)
    assert rows[0] == list(audit_api.CSV_HEADER)
    assert rows[0][:2] == ["编号 id", "时间(UTC) at"]
    assert [r[3] for r in rows[1:]] == ["seed.village", "seed.township", "seed.grid"]
    assert answer.headers["x-sanmin-rows"] == "3"
    with Session(sanmin.engine) as session:
        exports = session.exec(select(AuditEntry).where(AuditEntry.action == "audit.export")).all()
    assert len(exports) == 1
    entry = exports[0]
    assert entry.actor == "account:li-si" and entry.unit_code == TOWNSHIP_A
    assert entry.after is not None
    assert entry.after["filters"] == {"action": "seed."}
    assert (entry.after["rows"], entry.after["truncated"]) == (3, False)
    # the export shows up in the exporter's own search, and not in the next township's
    assert "audit.export" in actions(listed(admin, action="audit."))
    assert listed(sanmin.client_as("township_admin", TOWNSHIP_B), action="audit.") == []


def test_export_without_filters_matches_the_search(sanmin) -> None:
    seed(sanmin)
    admin = sanmin.client_as("township_admin", TOWNSHIP_A)
    searched = [str(e["id"]) for e in listed(admin)]
    rows = read_csv(admin.get("/api/v1/audit/export"))
    assert [r[0] for r in rows[1:]] == searched  # the export's own entry is not in it


def test_export_stops_at_the_cap_and_says_so(sanmin, monkeypatch) -> None:
    seed(sanmin)
    monkeypatch.setattr(audit_api, "EXPORT_MAX_ROWS", 2)
    answer = sanmin.client.get("/api/v1/audit/export", params={"action": "seed."})
    assert answer.headers["x-sanmin-truncated"] == "true"
    rows = read_csv(answer)
    assert [r[3] for r in rows[1:3]] == ["seed.unitless", "seed.county"]
    assert len(rows) == 4 and rows[3][0].startswith("# 已截断")


def test_export_cells_never_run_as_spreadsheet_formulas(sanmin) -> None:
    with sanmin.session() as session:
        record(
            session,
            actor="login:=1+1",
            action="auth.login_failed",
            target_type="account",
            target_id='=HYPERLINK("http://evil")',
            source="-1",
        )
    rows = read_csv(sanmin.client.get("/api/v1/audit/export", params={"action": "auth."}))
    row = next(r for r in rows[1:] if r[2] == "login:=1+1")
    assert row[5] == '\'=HYPERLINK("http://evil")' and row[9] == "'-1"


# -- the page ------------------------------------------------------------------------------


def test_the_page_lists_the_entries_in_scope_with_filters_and_an_export_link(sanmin) -> None:
    seed(sanmin)
    admin = sanmin.client_as("township_admin", TOWNSHIP_A)
    page = admin.get("/admin/audit", params={"action": "seed.", "limit": 2})
    assert page.status_code == 200
    assert "seed.village" in page.text and "seed.township" in page.text
    assert "seed.grid" not in page.text  # on the next page
    assert "seed.other_township" not in page.text
    assert 'href="/api/v1/audit/export?format=csv&amp;action=seed." download>导出 CSV' in page.text
    assert 'rel="next">更早' in page.text
    following = page.text.split('<a href="')[-1]
    assert following.startswith("/admin/audit?action=seed.&amp;limit=2&amp;cursor=")
    older = admin.get(following.split('"')[0].replace("&amp;", "&"))
    assert "seed.grid" in older.text and "seed.village" not in older.text
    assert 'rel="first">« 最新' in older.text


def test_the_page_reads_times_without_a_zone_as_beijing_time(sanmin) -> None:
    with sanmin.session() as session:
        session.add(
            AuditEntry(
                at=datetime(2020, 6, 1, 1, 0, tzinfo=UTC),
                actor="test",
                action="old.one",
                target_type="t",
                target_id="1",
            )
        )
    page = sanmin.client.get("/admin/audit", params={"since": "2020-06-01 09:00"})
    assert "old.one" in page.text and "2020-06-01 09:00:00" in page.text
    assert "since=2020-06-01T01%3A00%3A00%2B00%3A00" in page.text  # the export link: zoned
    later = sanmin.client.get("/admin/audit", params={"since": "2020-06-01 09:00:01"})
    assert "old.one" not in later.text


def test_the_page_names_bad_filters(sanmin) -> None:
    page = sanmin.client.get("/admin/audit", params={"since": "昨天", "unit": "12"})
    assert page.status_code == 422
    assert "起始时间：" in page.text and "单位：" in page.text
    assert "导出 CSV" not in page.text


def test_the_menu_links_the_page_for_admins_only(sanmin) -> None:
    admin = sanmin.client_as("township_admin", TOWNSHIP_A)
    assert 'href="/admin/audit">审计日志' in admin.get("/admin/audit").text
    volunteer = sanmin.client_as("volunteer", TOWNSHIP_A)
    home = volunteer.get("/")
    assert home.status_code == 200 and "/admin/audit" not in home.text


# -- no way to change the log ----------------------------------------------------------------


def test_no_route_updates_or_deletes_audit_entries(sanmin) -> None:
    found = [(path, methods) for path, methods in all_routes(sanmin.app) if "audit" in path]
    assert {path for path, _ in found} == {"/api/v1/audit", "/api/v1/audit/export", "/admin/audit"}
    for path, methods in found:
        assert methods <= {"GET", "HEAD"}, (path, methods)
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert sanmin.client.request(method, "/api/v1/audit").status_code == 405
        assert sanmin.client.request(method, "/api/v1/audit/1").status_code == 404


# -- sensitive reads -----------------------------------------------------------------------


def test_reads_under_a_sensitive_permission_are_recorded_and_others_not(sanmin) -> None:
    sanmin.unit("330802001001")
    cadre = sanmin.account("village_cadre", "330802001001", "wang-wu")
    with sanmin.session() as session:
        raw = issue_token(session, cadre, "bearer", None)
    with Session(sanmin.engine) as session:
        actor = actor_from_token(session, raw, "bearer")
    assert actor is not None
    access = sanmin.kernel.access
    with sanmin.session() as session:
        entry = record_read(
            session,
            access,
            actor,
            "archive.read_sensitive",
            target_type="person",
            target_id="7",
            unit_code="330802001001",
            fields=["phone", "id_number"],
            source="10.0.0.1",
        )
        assert entry is not None
        person = {"target_type": "person", "target_id": "7", "unit_code": "330802001001"}
        assert record_read(session, access, actor, "archive.read", **person) is None
        with pytest.raises(KeyError):  # a misspelt permission must not skip the audit quietly
            record_read(session, access, actor, "archive.raed", **person)
    request = Request(
        {
            "type": "http",
            "app": sanmin.app,
            "client": ("10.0.0.2", 5000),
            "headers": [],
            "method": "GET",
            "path": "/",
        }
    )
    other = {"target_type": "person", "target_id": "8", "unit_code": "330802001001"}
    assert audit_read(request, actor, "archive.read_sensitive", **other)
    assert not audit_read(request, actor, "archive.read", **other)
    admin = sanmin.client_as("township_admin", TOWNSHIP_A)
    reads = listed(admin, action="read.")
    assert [(e["action"], e["target_id"], e["source"]) for e in reads] == [
        ("read.archive.read_sensitive", "8", "10.0.0.2"),
        ("read.archive.read_sensitive", "7", "10.0.0.1"),
    ]
    assert reads[1]["after"] == {
        "permission": "archive.read_sensitive",
        "fields": ["id_number", "phone"],
    }
    assert reads[0]["actor"] == "account:wang-wu"
    with Session(sanmin.engine) as session:
        assert not session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "read.archive.read")
        ).all()


def test_a_signed_in_browser_follows_the_export_link(sanmin) -> None:
    sanmin.account("township_admin", TOWNSHIP_A, "zhao-liu")
    browser = sanmin.anonymous
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)[1]  # type: ignore[index]
    page = browser.post(
        "/login",
        data={
            "username": "zhao-liu",
            "password": TEST_PASSWORD,
            "csrf_token": csrf,
            "next": "/admin/audit?action=role.",
        },
    )
    assert page.status_code == 200 and "role.grant" in page.text
    href = re.search(r'class="export" href="([^"]+)"', page.text)[1].replace("&amp;", "&")  # type: ignore[index]
    answer = browser.get(href)
    assert answer.status_code == 200
    rows = read_csv(answer)
    assert {r[3] for r in rows[1:]} == {"role.grant"}


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/audit?unit={TOWNSHIP_A}",
        f"/api/v1/audit/export?format=csv&unit={TOWNSHIP_A}",
        f"/admin/audit?unit={TOWNSHIP_A}",
    ],
)
def test_every_audit_endpoint_is_scoped(sanmin, url: str) -> None:
    sanmin.unit(TOWNSHIP_B)
    sanmin.assert_scoped("GET", url, role="township_admin", inside=TOWNSHIP_A, outside=TOWNSHIP_B)
