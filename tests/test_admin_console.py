"""The admin console: units (/admin/units), the plugin matrix (/admin/plugins) and settings
(/admin/settings). Every test runs on SQLite and PostgreSQL.

柯城区 (330802) has two townships, 府山街道 (HOME) and 荷花街道 (NEXT); 衢江区 (330803) is
the other county.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import col, select

from core.audit.models import AuditEntry
from core.settings import Settings
from core.testing import Sanmin, all_routes
from core.units.models import Unit

HTML = {"Accept": "text/html"}
CITY, COUNTY, OTHER_COUNTY = "330800000000", "330802000000", "330803000000"
HOME, NEXT, OTHER_TOWN = "330802001000", "330802002000", "330803001000"
VILLAGE, GRID = "330802001001", "330802001001001"
NEXT_VILLAGE = "330802002001"
CARE = "/api/v1/archives/care/thresholds"

SCOPED_PATHS = {
    "/admin/units",  # lists the actor's own units only: test_the_index_lists_the_actors_units
    "/admin/units/{unit_code}",
    "/admin/units/{unit_code}/children",
    "/admin/units/{unit_code}/rename",
    "/admin/settings",  # thresholds of the actor's counties only: test_the_settings_page_…
    "/admin/settings/care/{county_code}",
}


@pytest.fixture
def sanmin_settings(sanmin_database_url: str) -> Settings:
    """The harness's settings, with an Open311 jurisdiction for the settings page to name."""
    return Settings(database_url=sanmin_database_url, auto_migrate=True, open311_jurisdiction=HOME)


@pytest.fixture
def tree(sanmin: Sanmin) -> Sanmin:
    """The city, two counties, three townships, a village with a grid in HOME, one in NEXT."""
    for code, name in (
        (CITY, "衢州市"),
        (COUNTY, "柯城区"),
        (OTHER_COUNTY, "衢江区"),
        (HOME, "府山街道"),
        (NEXT, "荷花街道"),
        (OTHER_TOWN, "樟潭街道"),
        (VILLAGE, "府山社区"),
        (GRID, "府山社区第一网格"),
        (NEXT_VILLAGE, "荷花社区"),
    ):
        sanmin.unit(code, name)
    return sanmin


def unit_count(sanmin: Sanmin) -> int:
    with sanmin.session() as session:
        return len(session.exec(select(Unit.code)).all())


def audit(sanmin: Sanmin, prefix: str) -> list[AuditEntry]:
    with sanmin.session() as session:
        query = select(AuditEntry).where(col(AuditEntry.action).startswith(prefix))
        return list(session.exec(query.order_by(col(AuditEntry.id))).all())


def row_codes(html: str, table: str) -> list[str]:
    """The unit codes of the rows of table ``table`` in the page, in order."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-code="(\d+)">', body)


# -- units ---------------------------------------------------------------------------------


def test_the_index_lists_the_actors_units(tree: Sanmin) -> None:
    county = tree.client_as("county_admin", COUNTY).get("/admin/units", headers=HTML)
    assert county.status_code == 200
    assert row_codes(county.text, "units") == [COUNTY]
    town = tree.client_as("township_admin", HOME).get("/admin/units", headers=HTML)
    assert row_codes(town.text, "units") == [HOME]
    assert "荷花街道" not in town.text and "柯城区" not in town.text


def test_a_unit_page_shows_its_children_with_counts_and_breadcrumbs(tree: Sanmin) -> None:
    tree.account("village_cadre", VILLAGE)
    tree.account("grid_worker", GRID)
    admin = tree.client_as("county_admin", COUNTY)
    page = admin.get(f"/admin/units/{COUNTY}", headers=HTML)
    assert page.status_code == 200
    assert row_codes(page.text, "children-table") == [HOME, NEXT]
    home_row = page.text.split(f'<tr data-code="{HOME}">', 1)[1].split("</tr>", 1)[0]
    assert "下级乡镇街道" in page.text  # the level of the rows
    # name, code, one village below it, and the two accounts held in its subtree
    cells = re.findall(r"<td[^>]*>(.*?)</td>", home_row, re.S)
    assert "府山街道" in cells[0] and HOME in cells[1]
    assert cells[2] == "1" and f'href="/admin/accounts?under={HOME}">2<' in cells[3]
    # the city above the county admin's units is named, not linked
    crumbs = page.text.split('class="crumbs"', 1)[1].split("</nav>", 1)[0]
    assert "衢州市" in crumbs and f'href="/admin/units/{CITY}"' not in crumbs

    village = admin.get(f"/admin/units/{VILLAGE}", headers=HTML).text
    crumbs = village.split('class="crumbs"', 1)[1].split("</nav>", 1)[0]
    assert [name for name in ("衢州市", "柯城区", "府山街道", "府山社区") if name in crumbs] == [
        "衢州市",
        "柯城区",
        "府山街道",
        "府山社区",
    ]
    assert f'href="/admin/units/{COUNTY}"' in crumbs and f'href="/admin/units/{HOME}"' in crumbs
    assert row_codes(village, "children-table") == [GRID]


def test_accounts_are_counted_only_for_those_who_may_read_them(tree: Sanmin) -> None:
    worker = tree.client_as("grid_worker", GRID)  # units.read, not accounts.read
    page = worker.get(f"/admin/units/{GRID}", headers=HTML)
    assert page.status_code == 200
    assert "/admin/accounts?under=" not in page.text
    assert 'id="add"' not in page.text and 'id="rename"' not in page.text
    index = worker.get("/admin/units", headers=HTML).text
    assert row_codes(index, "units") == [GRID] and "/admin/accounts?under=" not in index


def test_units_pages_are_refused_without_the_permission_and_404_outside_the_scope(
    tree: Sanmin,
) -> None:
    resident = tree.client_as("resident", GRID)
    assert resident.get("/admin/units", headers=HTML).status_code == 403
    assert resident.get(f"/admin/units/{GRID}", headers=HTML).status_code == 403
    admin = tree.client_as("township_admin", HOME)
    for code in (NEXT, NEXT_VILLAGE, OTHER_TOWN, COUNTY):
        answer = admin.get(f"/admin/units/{code}", headers=HTML)
        assert answer.status_code == 404, code
    assert admin.get("/admin/units/330802009000", headers=HTML).status_code == 404  # no such
    assert admin.get("/admin/units/12ab", headers=HTML).status_code == 400


def test_an_admin_adds_a_child_unit(tree: Sanmin) -> None:
    admin = tree.client_as("township_admin", HOME, "fushan-admin")
    form = admin.get(f"/admin/units/{HOME}", headers=HTML).text
    assert 'value="330802001002"' in form  # the next free village code is offered
    answer = admin.post(
        f"/admin/units/{HOME}/children",
        data={"code": " 330802001002 ", "name": " 新建社区 "},
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/units/{HOME}?done=created#children"
    page = admin.get(answer.headers["location"], headers=HTML).text
    assert row_codes(page, "children-table") == [VILLAGE, "330802001002"]
    assert "已新增下级单位" in page
    with tree.session() as session:
        unit = session.get(Unit, "330802001002")
        assert unit is not None
        assert (unit.name, unit.level, unit.parent_code) == ("新建社区", "village", HOME)
    entries = audit(tree, "unit.")
    assert [(e.actor, e.action, e.target_id, e.unit_code, e.before, e.after) for e in entries] == [
        ("account:fushan-admin", "unit.create", "330802001002", "330802001002", None,
         {"name": "新建社区"}),
    ]  # fmt: skip


def test_a_new_township_is_in_the_plugin_matrix_at_once(tree: Sanmin) -> None:
    admin = tree.client_as("county_admin", COUNTY)
    added = admin.post(
        f"/admin/units/{COUNTY}/children", data={"code": "330802003000", "name": "双港街道"}
    )
    assert added.status_code == 200
    matrix = admin.get("/admin/plugins", headers=HTML).text
    assert 'id="u330802003000"' in matrix and "双港街道" in matrix


BAD_CHILDREN = [
    # (code, name, status, field named, message part)
    ("", "新村", 422, "单位代码（code）", "必填"),
    ("33080200100a", "新村", 422, "单位代码（code）", "12 位数字"),
    ("330802001001002", "新网格", 422, "单位代码（code）", "不是府山街道"),  # a grid, not a village
    ("330802002002", "别人的村", 422, "单位代码（code）", "不是府山街道"),  # under NEXT
    ("330802000000", "柯城区", 422, "单位代码（code）", "不是府山街道"),  # the county itself
    (VILLAGE, "重复", 409, "单位代码（code）", "已存在"),
    ("330802001003", "", 422, "名称（name）", "必填"),
    ("330802001003", "   ", 422, "名称（name）", "必填"),
    ("330802001003", "村" * 101, 422, "名称（name）", "最多 100 个字符"),
    ("330802001003", "新\x00村", 422, "名称（name）", "控制字符"),
    ("330802001003", "新\n村", 422, "名称（name）", "控制字符"),
]


@pytest.mark.parametrize(("code", "name", "status", "field", "message"), BAD_CHILDREN)
def test_a_bad_child_unit_is_refused_naming_the_field_and_nothing_is_written(
    tree: Sanmin, code: str, name: str, status: int, field: str, message: str
) -> None:
    admin = tree.client_as("township_admin", HOME)
    before = unit_count(tree)
    answer = admin.post(
        f"/admin/units/{HOME}/children", data={"code": code, "name": name}, headers=HTML
    )
    assert answer.status_code == status
    alert = answer.text.split('role="alert"', 1)[1].split("</ul>", 1)[0]
    assert field in alert and message in alert
    assert 'aria-invalid="true"' in answer.text
    assert unit_count(tree) == before and audit(tree, "unit.") == []


def test_adding_needs_the_manage_permission_at_the_parent(tree: Sanmin) -> None:
    worker = tree.client_as("grid_worker", VILLAGE)  # may read units, not manage them
    data = {"code": "330802001001002", "name": "第二网格"}
    assert worker.post(f"/admin/units/{VILLAGE}/children", data=data).status_code == 403
    below_grid = tree.client_as("township_admin", HOME).post(
        f"/admin/units/{GRID}/children", data={"code": "330802001001002", "name": "x"}
    )
    assert below_grid.status_code == 422 and "网格下不能再设下级单位" in below_grid.text
    other = tree.client_as("township_admin", NEXT)
    assert other.post(f"/admin/units/{VILLAGE}/children", data=data).status_code == 404
    assert unit_count(tree) == 9 + 1  # the tree and the province of the harness


def test_a_rename_is_audited_and_kept_by_the_level_above(tree: Sanmin) -> None:
    county = tree.client_as("county_admin", COUNTY, "kecheng-admin")
    answer = county.post(
        f"/admin/units/{HOME}/rename", data={"name": "府山街道（新）"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=renamed")
    with tree.session() as session:
        assert session.get(Unit, HOME).name == "府山街道（新）"  # type: ignore[union-attr]
    entries = audit(tree, "unit.")
    assert [(e.actor, e.action, e.target_id, e.before, e.after) for e in entries] == [
        ("account:kecheng-admin", "unit.rename", HOME, {"name": "府山街道"},
         {"name": "府山街道（新）"}),
    ]  # fmt: skip
    # the toggle snapshot (township names) follows at once
    assert tree.kernel.scope(HOME).township.name == "府山街道（新）"
    same = county.post(f"/admin/units/{HOME}/rename", data={"name": "府山街道（新）"})
    assert same.status_code == 200 and "名称未改变" in same.text and len(audit(tree, "unit.")) == 1

    township = tree.client_as("township_admin", HOME)
    assert township.post(f"/admin/units/{HOME}/rename", data={"name": "x"}).status_code == 403
    assert 'id="rename"' not in township.get(f"/admin/units/{HOME}", headers=HTML).text
    renamed = township.post(f"/admin/units/{VILLAGE}/rename", data={"name": "府山新社区"})
    assert renamed.status_code == 200 and "单位名称已修改" in renamed.text

    bad = township.post(f"/admin/units/{VILLAGE}/rename", data={"name": " "}, headers=HTML)
    assert bad.status_code == 422 and "名称（name）" in bad.text
    outside = tree.client_as("county_admin", OTHER_COUNTY)
    assert outside.post(f"/admin/units/{HOME}/rename", data={"name": "x"}).status_code == 404
    with tree.session() as session:
        assert session.get(Unit, VILLAGE).name == "府山新社区"  # type: ignore[union-attr]
    assert len(audit(tree, "unit.")) == 2


def test_the_menu_offers_the_console_to_admins_only(tree: Sanmin) -> None:
    admin = tree.client_as("township_admin", HOME).get("/", headers=HTML).text
    assert 'href="/admin/units"' in admin and 'href="/admin/settings"' in admin
    worker = tree.client_as("grid_worker", GRID).get("/", headers=HTML).text
    assert 'href="/admin/units"' not in worker and 'href="/admin/settings"' not in worker


# -- the plugin matrix ---------------------------------------------------------------------


def cell(html: str, plugin: str, unit: str) -> str:
    """The matrix cell of ``plugin`` at ``unit``, from its opening tag to its end."""
    start = html.index(f'data-plugin="{plugin}" data-unit="{unit}"')
    return html[html.rindex("<td", 0, start) : html.index("</td>", start)]


def test_the_matrix_shows_inherited_and_explicit_settings_and_changes_in_place(
    tree: Sanmin,
) -> None:
    tree.disable("knock_door", COUNTY)  # on by default; off county-wide
    tree.enable("knock_door", HOME)  # and on again in one township
    admin = tree.client_as("county_admin", COUNTY)
    page = admin.get("/admin/plugins", headers=HTML).text
    rows = re.findall(r'<tr id="u(\d+)">', page)
    assert rows == [COUNTY, HOME, NEXT]  # the county's townships, after the county itself
    inherited = cell(page, "knock_door", NEXT)
    assert 'class="off"' in inherited and 'data-origin="inherited"' in inherited
    assert "✘ 停用" in inherited and "继承自柯城区" in inherited
    explicit = cell(page, "knock_door", HOME)
    assert 'class="on"' in explicit and 'data-origin="unit"' in explicit
    assert "✔ 启用" in explicit and "<strong" in explicit and "本级设置" in explicit
    # resetting HOME would give the county's setting: the choice says so
    assert "恢复继承将为停用（来自柯城区）" in explicit and "继承：停用</option>" in explicit
    default = cell(page, "mobile_office", NEXT)
    assert 'data-origin="default"' in default and "插件默认" in default
    assert "本级设置" in cell(page, "knock_door", COUNTY)

    # a cell's own form: back to inheriting at HOME, which takes effect at once
    changed = admin.post(
        f"/admin/plugins/knock_door/settings/{HOME}",
        data={"value": "inherit"},
        headers=HTML,
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert "knock_door" not in tree.kernel.scope(HOME).enabled
    page = admin.get(changed.headers["location"], headers=HTML).text
    assert "已保存：府山街道 · 敲门嫂" in page
    after = cell(page, "knock_door", HOME)
    assert 'data-origin="inherited"' in after and "继承自柯城区" in after
    assert [e.action for e in audit(tree, "plugin.")][-1] == "plugin.inherit"


def test_a_township_admin_sees_and_changes_only_its_township(tree: Sanmin) -> None:
    tree.disable("knock_door", COUNTY)
    admin = tree.client_as("township_admin", HOME)
    page = admin.get("/admin/plugins", headers=HTML).text
    assert re.findall(r'<tr id="u(\d+)">', page) == [HOME]
    assert "继承自柯城区" in cell(page, "knock_door", HOME)
    on = admin.post(f"/admin/plugins/knock_door/settings/{HOME}", data={"value": "on"})
    assert on.status_code == 200 and "knock_door" in tree.kernel.scope(HOME).enabled
    assert "knock_door" not in tree.kernel.scope(NEXT).enabled
    refused = admin.post(f"/admin/plugins/knock_door/settings/{NEXT}", data={"value": "on"})
    assert refused.status_code == 404


# -- settings ------------------------------------------------------------------------------


def test_the_settings_page_shows_the_deployment_but_no_credentials(tree: Sanmin) -> None:
    admin = tree.client_as("county_admin", COUNTY)
    page = admin.get("/admin/settings", headers=HTML)
    assert page.status_code == 200
    table = page.text.split('id="deployment"', 1)[1].split("</table>", 1)[0]
    kind = "SQLite" if tree.kernel.settings.database_url.startswith("sqlite") else "PostgreSQL"
    for shown in (kind, "Asia/Shanghai", "attachments", "10 MiB", "1 秒", "knock_door"):
        assert shown in table, shown
    assert "府山街道 330802001000" in table  # the Open311 jurisdiction, with its name
    url = tree.kernel.settings.database_url
    assert url not in page.text and url.split("?")[0] not in page.text
    assert "postgres@" not in page.text and "sanmin.db" not in page.text
    # thresholds of the admin's own county only, editable
    assert f'id="county-{COUNTY}"' in page.text and f'id="county-{OTHER_COUNTY}"' not in page.text
    assert f'action="/admin/settings/care/{COUNTY}"' in page.text


def test_the_settings_page_is_for_admins_and_thresholds_follow_the_api(tree: Sanmin) -> None:
    for role, unit in (("grid_worker", GRID), ("village_cadre", VILLAGE), ("resident", GRID)):
        answer = tree.client_as(role, unit).get("/admin/settings", headers=HTML)
        assert answer.status_code == 403, role
    township = tree.client_as("township_admin", HOME)
    page = township.get("/admin/settings", headers=HTML)
    assert page.status_code == 200 and 'id="no-counties"' in page.text
    assert township.get(f"{CARE}/{COUNTY}").status_code == 404  # as the API answers it
    refused = township.post(f"/admin/settings/care/{COUNTY}", data={"red_alone_age": "75"})
    assert refused.status_code == 404
    city = tree.client_as("city_admin", CITY).get("/admin/settings", headers=HTML).text
    assert re.findall(r'<section class="county" id="county-(\d+)"', city) == [
        COUNTY,
        OTHER_COUNTY,
    ]


THRESHOLDS = {
    "elderly_age": 62,
    "yellow_alone_age": 72,
    "red_alone_age": 78,
    "red_visit_days": 5,
    "yellow_visit_days": 20,
    "green_visit_days": 60,
}


def test_a_threshold_change_through_the_page_equals_one_through_the_api(tree: Sanmin) -> None:
    page_admin = tree.client_as("city_admin", CITY, "page-admin")
    api_admin = tree.client_as("city_admin", CITY, "api-admin")
    form = {k: str(v) for k, v in THRESHOLDS.items()} | {"version": ""}
    saved = page_admin.post(
        f"/admin/settings/care/{COUNTY}", data=form, headers=HTML, follow_redirects=False
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/admin/settings?done=thresholds#county-{COUNTY}"
    assert api_admin.put(f"{CARE}/{OTHER_COUNTY}", json=THRESHOLDS).status_code == 200

    by_page = api_admin.get(f"{CARE}/{COUNTY}").json()
    by_api = api_admin.get(f"{CARE}/{OTHER_COUNTY}").json()
    assert by_page.pop("county_code") == COUNTY and by_api.pop("county_code") == OTHER_COUNTY
    assert by_page == by_api == THRESHOLDS | {"version": 1}
    entries = {e.target_id: e for e in audit(tree, "archive.care.thresholds")}
    page_entry, api_entry = entries[COUNTY], entries[OTHER_COUNTY]
    assert (page_entry.actor, api_entry.actor) == ("account:page-admin", "account:api-admin")
    assert (page_entry.target_type, page_entry.unit_code, page_entry.after) == (
        api_entry.target_type,
        COUNTY,
        api_entry.after,
    )
    shown = page_admin.get(saved.headers["location"], headers=HTML).text
    assert "关爱等级阈值已保存" in shown
    section = shown.split(f'id="county-{COUNTY}"', 1)[1].split("</section>", 1)[0]
    assert 'name="red_alone_age" value="78"' in section and 'name="version" value="1"' in section


@pytest.mark.parametrize(
    ("values", "status", "field"),
    [
        ({"red_alone_age": "八十"}, 422, "red_alone_age"),
        ({"red_alone_age": "200"}, 422, "red_alone_age"),
        ({"green_visit_days": ""}, 422, "green_visit_days"),
        ({"yellow_alone_age": "85"}, 422, "yellow_alone_age"),  # above red_alone_age (80)
        ({"version": "0"}, 422, "version"),
    ],
)
def test_a_bad_threshold_form_names_the_field_and_writes_nothing(
    tree: Sanmin, values: dict[str, str], status: int, field: str
) -> None:
    admin = tree.client_as("county_admin", COUNTY)
    form = {k: str(v) for k, v in THRESHOLDS.items()} | {"red_alone_age": "80", "version": ""}
    answer = admin.post(f"/admin/settings/care/{COUNTY}", data=form | values, headers=HTML)
    assert answer.status_code == status
    alert = answer.text.split('role="alert"', 1)[1].split("</ul>", 1)[0]
    assert f"（{field}）" in alert
    assert f'id="county-{COUNTY}-{field}-error"' in alert
    assert admin.get(f"{CARE}/{COUNTY}").json()["version"] is None  # nothing saved
    assert audit(tree, "archive.care.thresholds") == []


def test_a_form_read_before_another_save_is_refused(tree: Sanmin) -> None:
    first, second = (tree.client_as("county_admin", COUNTY) for _ in range(2))
    assert first.put(f"{CARE}/{COUNTY}", json={}).status_code == 200  # version 1
    form = {k: str(v) for k, v in THRESHOLDS.items()} | {"version": "1"}
    assert first.post(f"/admin/settings/care/{COUNTY}", data=form).status_code == 200
    late = second.post(
        f"/admin/settings/care/{COUNTY}", data=form | {"red_visit_days": "3"}, headers=HTML
    )
    assert late.status_code == 409
    alert = late.text.split('role="alert"', 1)[1].split("</ul>", 1)[0]
    assert "version" in alert and "已被他人修改" in alert
    assert first.get(f"{CARE}/{COUNTY}").json()["red_visit_days"] == THRESHOLDS["red_visit_days"]


# -- scope, route by route -----------------------------------------------------------------


def test_the_scope_cases_cover_every_route_of_the_console(sanmin: Sanmin) -> None:
    ours = {
        path
        for path, _ in all_routes(sanmin.app)
        if path.startswith(("/admin/units", "/admin/settings"))
    }
    assert ours == SCOPED_PATHS


SCOPE_CASES = [
    ("GET", f"/admin/units/{HOME}", "township_admin", HOME, NEXT, {}),
    ("POST", f"/admin/units/{HOME}/children", "township_admin", HOME, NEXT,
     {"data": {"code": "330802001009", "name": "新村"}}),
    ("POST", f"/admin/units/{VILLAGE}/rename", "township_admin", HOME, NEXT,
     {"data": {"name": "改名社区"}}),
    ("POST", f"/admin/settings/care/{COUNTY}", "county_admin", COUNTY, OTHER_COUNTY,
     {"data": {k: str(v) for k, v in THRESHOLDS.items()}}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "role", "inside", "outside", "extra"), SCOPE_CASES)
def test_every_route_answers_404_outside_the_scope(
    tree: Sanmin, method: str, url: str, role: str, inside: str, outside: str, extra: dict
) -> None:
    tree.assert_scoped(method, url, role=role, inside=inside, outside=outside, **extra)
