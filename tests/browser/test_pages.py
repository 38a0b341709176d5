"""The pages people see, in a real browser: Debian's chromium driven by Playwright.

One ``sanmin demo`` server (the demo county on a fresh SQLite file) serves the module.
In the demo, 府山街道 has 敲门嫂 and 民情茶馆 (on by default) and 红色代办 (on in 柯城区),
but not 民情直通车, which is on only in 衢江区 (e.g. 莲花镇).

Every page but ``/login`` needs a login: each test logs in through the login page as a demo
account (``core/demo/load.py``), and sees only the units its roles reach: 府山街道's
township_admin only 府山街道, 柯城区's county_admin only 柯城区, 衢州市's city_admin all of
the demo city, the grid worker of 府山社区第一网格 its grid (and 府山街道 as context).
Assertions use Playwright's auto-waiting ``expect``; nothing is timed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.servers import SanminServer

from .conftest import Watched, fill_login_form, keep_screenshot, log_in, login_url

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None  # type: ignore[assignment]

FUSHAN, FUSHAN_NAME = "330802001000", "府山街道"
HEHUA, HEHUA_NAME = "330802002000", "荷花街道"
KECHENG_TOWNSHIPS = (FUSHAN_NAME, HEHUA_NAME, "双港街道")
LIANHUA, LIANHUA_NAME = "330803104000", "莲花镇"
GRID = "330802001001001"  # 府山社区第一网格: the demo grid worker's grid
OTHER_GRID = "330802001001002"  # 府山社区第二网格, next door
ON_IN_FUSHAN = ("敲门嫂", "民情茶馆")
MOBILE_OFFICE = "民情直通车"
BUILTINS = {
    "knock_door": "敲门嫂",
    "tea_house": "民情茶馆",
    "red_proxy": "红色代办",
    "mobile_office": "民情直通车",
}
# the demo accounts (core/demo/load.py, DEMO_ACCOUNTS), all with the demo password
TOWNSHIP_ADMIN = "township_admin"  # 府山街道
COUNTY_ADMIN = "county_admin"  # 柯城区
CITY_ADMIN = "city_admin"  # 衢州市: every demo county, 衢江区's 莲花镇 included
GRID_WORKER = "grid_worker"  # 府山社区第一网格
OUT_OF_SCOPE = "不存在或不在您的范围内"
SESSION_COOKIE = "sanmin_session"


def enabled_section(watched: Watched, township_name: str):  # type: ignore[no-untyped-def]
    """The home page's "<township> 已启用的功能" section."""
    page = watched.page
    heading = page.get_by_role("heading", name=f"{township_name} 已启用的功能")
    return page.locator("section").filter(has=heading)


def township_links(watched: Watched):  # type: ignore[no-untyped-def]
    """The links of the home page's township list (行政区划)."""
    return watched.page.locator("ul.units").get_by_role("link")


def township_link(watched: Watched, name: str):  # type: ignore[no-untyped-def]
    """The township list's link to ``name``."""
    return watched.page.locator("ul.units").get_by_role("link", name=name, exact=True)


def cookie_names(watched: Watched) -> set[str]:
    return {cookie["name"] for cookie in watched.page.context.cookies()}


def expect_not_found(watched: Watched, *texts: str) -> None:
    """The 404 page, its message naming each of ``texts``."""
    expect(watched.page.get_by_role("heading", level=1)).to_contain_text("404")
    message = watched.page.locator(".error .message")
    for text in texts:
        expect(message).to_contain_text(text)


# -- logged in: what each account sees ------------------------------------------------------


def test_home_township_and_practice_page(
    demo_server: SanminServer, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    log_in(watched, demo_server, TOWNSHIP_ADMIN)
    expect(page.get_by_role("heading", level=1)).to_contain_text("三民")
    header = page.locator("header.top")
    expect(header.get_by_role("button", name="退出", exact=True)).to_be_visible()
    # the home page opens at the admin's own township, and lists no other one
    expect(header.locator(".where")).to_have_text(FUSHAN_NAME)
    expect(enabled_section(watched, FUSHAN_NAME)).to_be_visible()
    expect(township_links(watched)).to_have_text([FUSHAN_NAME])
    expect(page.locator("ul.units")).not_to_contain_text(HEHUA_NAME)
    expect(page.locator("ul.units")).not_to_contain_text(LIANHUA_NAME)

    township_link(watched, FUSHAN_NAME).click()
    expect(page).to_have_url(re.compile(rf"/\?unit={FUSHAN}$"))
    section = enabled_section(watched, FUSHAN_NAME)
    menu = page.locator("header.top nav")
    expect(header.locator(".where")).to_have_text(FUSHAN_NAME)
    for title in ON_IN_FUSHAN:
        expect(section.get_by_role("link", name=title, exact=True)).to_be_visible()
        expect(menu.get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(section).not_to_contain_text(MOBILE_OFFICE)
    expect(menu).not_to_contain_text(MOBILE_OFFICE)
    expect(page.locator("body")).not_to_contain_text(MOBILE_OFFICE)

    shot = tmp_path / "fushan-home.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep_screenshot(shot, "home.png")

    menu.get_by_role("link", name="敲门嫂", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/p/knock_door/\?unit={FUSHAN}$"))
    expect(page).to_have_title(re.compile("敲门嫂"))
    practice = page.locator("article#knock_door")
    expect(practice.get_by_role("heading", level=1)).to_have_text("敲门嫂")
    expect(practice).to_contain_text(f"本功能已在 {FUSHAN_NAME} 启用")

    watched.assert_clean()


def test_township_admin_gets_a_404_for_another_township(
    demo_server: SanminServer, watched: Watched
) -> None:
    page = watched.page
    log_in(watched, demo_server, TOWNSHIP_ADMIN)
    url = demo_server.url(f"/?unit={HEHUA}")
    with watched.failing(404, url):
        response = page.goto(url)
    assert response is not None
    assert response.status == 404
    expect_not_found(watched, HEHUA, OUT_OF_SCOPE)
    expect(page.locator("body")).not_to_contain_text(HEHUA_NAME)
    watched.assert_clean()


def test_plugin_off_in_township_is_a_404_page(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    log_in(watched, demo_server, TOWNSHIP_ADMIN)
    url = demo_server.url(f"/p/mobile_office/?unit={FUSHAN}")
    with watched.failing(404, url):
        response = page.goto(url)
    assert response is not None
    assert response.status == 404
    expect_not_found(watched, MOBILE_OFFICE, "mobile_office", FUSHAN_NAME)
    # the browser logs the 404 itself; nothing else may fail
    watched.assert_clean()


def test_mobile_office_listed_where_it_is_on(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    # 莲花镇 is in 衢江区: the city admin's 衢州市 covers it
    log_in(watched, demo_server, CITY_ADMIN, f"/?unit={LIANHUA}")
    expect(page.locator("header.top .where")).to_have_text(LIANHUA_NAME)
    section = enabled_section(watched, LIANHUA_NAME)
    expect(section.get_by_role("link", name=MOBILE_OFFICE, exact=True)).to_be_visible()
    expect(
        page.locator("header.top nav").get_by_role("link", name=MOBILE_OFFICE, exact=True)
    ).to_be_visible()
    for name in (*KECHENG_TOWNSHIPS, LIANHUA_NAME):
        expect(township_link(watched, name)).to_be_visible()
    watched.assert_clean()


def test_county_admin_sees_its_county_only(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    log_in(watched, demo_server, COUNTY_ADMIN)
    expect(township_links(watched)).to_have_text(list(KECHENG_TOWNSHIPS))
    expect(page.locator("main h3")).to_have_text(["柯城区"])

    township_link(watched, HEHUA_NAME).click()
    expect(page).to_have_url(demo_server.url(f"/?unit={HEHUA}"))
    expect(enabled_section(watched, HEHUA_NAME)).to_be_visible()

    url = demo_server.url(f"/?unit={LIANHUA}")
    with watched.failing(404, url):
        page.goto(url)
    expect_not_found(watched, LIANHUA, OUT_OF_SCOPE)

    page.goto(demo_server.url("/admin/plugins"))
    rows = page.locator("table#matrix tbody tr td:first-child")
    expect(rows).to_have_text(
        [re.compile("柯城区.*330802000000"), *(re.compile(n) for n in KECHENG_TOWNSHIPS)]
    )
    watched.assert_clean()


def test_grid_worker_sees_own_township_and_grid_only(
    demo_server: SanminServer, watched: Watched
) -> None:
    page = watched.page
    log_in(watched, demo_server, GRID_WORKER)
    expect(page.locator("header.top .where")).to_have_text(FUSHAN_NAME)
    expect(township_links(watched)).to_have_text([FUSHAN_NAME])
    expect(page.locator("main h3")).to_have_text(["柯城区"])
    menu = page.locator("header.top nav")
    expect(menu.get_by_role("link", name="敲门嫂", exact=True)).to_be_visible()
    expect(menu).not_to_contain_text("插件管理")

    # the practice cards of the home page open at the worker's own grid
    enabled_section(watched, FUSHAN_NAME).get_by_role("link", name="敲门嫂", exact=True).click()
    expect(page).to_have_url(demo_server.url(f"/p/knock_door/?unit={GRID}"))
    expect(page.locator("article#knock_door")).to_contain_text(f"本功能已在 {FUSHAN_NAME} 启用")

    url = demo_server.url(f"/p/knock_door/?unit={OTHER_GRID}")
    with watched.failing(404, url):
        response = page.goto(url)
    assert response is not None
    assert response.status == 404
    expect_not_found(watched, OTHER_GRID, OUT_OF_SCOPE)
    expect(page.locator("article#knock_door")).to_have_count(0)

    url = demo_server.url("/admin/plugins")
    with watched.failing(403, url):
        response = page.goto(url)
    assert response is not None
    assert response.status == 403
    expect(page.locator(".error .message")).to_contain_text("plugins.read")
    watched.assert_clean()


def test_admin_plugins_page(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    # anonymous: sent to the login page, which brings the user back afterwards
    page.goto(demo_server.url("/admin/plugins"))
    expect(page).to_have_url(login_url(demo_server, "/admin/plugins"))
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin%2Fplugins$"))
    expect(page.locator('input[type="hidden"][name="next"]')).to_have_value("/admin/plugins")
    fill_login_form(page, TOWNSHIP_ADMIN)
    expect(page).to_have_url(demo_server.url("/admin/plugins"))

    expect(page.get_by_role("heading", level=1)).to_have_text("插件管理")
    plugins = page.locator("table#plugins")
    for name, title in BUILTINS.items():
        row = plugins.locator("tbody tr").filter(has=page.locator("code", has_text=name))
        expect(row).to_have_count(1)
        expect(row).to_contain_text(title)
        expect(row).to_contain_text("正常")

    # only the admin's own township in the matrix
    expect(page.locator("table#matrix tbody tr")).to_have_count(1)
    expect(page.locator("table#matrix")).not_to_contain_text(HEHUA)
    row = page.locator("table#matrix tbody tr").filter(has_text=FUSHAN)
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_contain_text(FUSHAN_NAME)
    expected = {"knock_door": True, "tea_house": True, "red_proxy": True, "mobile_office": False}
    for name, on in expected.items():
        cell = row.locator(f'td[data-plugin="{name}"]')
        expect(cell).to_have_class("on" if on else "off")
        expect(cell).to_contain_text("✔" if on else "✘")
    watched.assert_clean()


# -- logging in and out ---------------------------------------------------------------------


def test_login_form_has_csrf_token(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    page.goto(demo_server.url("/login"))
    token = page.locator('section.login form input[type="hidden"][name="csrf_token"]')
    expect(token).to_have_count(1)
    expect(token).to_have_value(re.compile(r"\S{20,}"))
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert token.input_value() == cookies["sanmin_csrf"]
    expect(page.locator('section.login form input[type="hidden"][name="next"]')).to_have_value("/")

    # without it, even the right password is refused and no session is made
    token.evaluate("input => input.remove()")
    with watched.failing(403, demo_server.url("/login")):
        fill_login_form(page, TOWNSHIP_ADMIN)
    expect(page.get_by_role("heading", level=1)).to_contain_text("403")
    expect(page.locator(".error .message")).to_contain_text("csrf_token")
    assert SESSION_COOKIE not in cookie_names(watched)
    watched.assert_clean()


def test_wrong_password_is_refused(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    page.goto(demo_server.url("/"))
    expect(page).to_have_url(login_url(demo_server, "/"))
    with watched.failing(401, demo_server.url("/login")), page.expect_navigation() as answer:
        fill_login_form(page, TOWNSHIP_ADMIN, "not-the-demo-password")
    assert answer.value.status == 401
    expect(page).to_have_url(demo_server.url("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    assert SESSION_COOKIE not in cookie_names(watched)
    expect(page.locator("header.top .who")).to_have_count(0)

    page.goto(demo_server.url("/"))
    expect(page).to_have_url(login_url(demo_server, "/"))
    # the right password still works afterwards
    fill_login_form(page, TOWNSHIP_ADMIN)
    expect(page).to_have_url(demo_server.url("/"))
    expect(page.locator("header.top .who")).to_have_attribute("title", TOWNSHIP_ADMIN)
    watched.assert_clean()


def test_logout_button(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    log_in(watched, demo_server, TOWNSHIP_ADMIN)
    (session,) = (c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)

    page.locator("header.top").get_by_role("button", name="退出", exact=True).click()
    expect(page).to_have_url(demo_server.url("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.locator("header.top form.logout")).to_have_count(0)
    assert SESSION_COOKIE not in cookie_names(watched)

    page.goto(demo_server.url("/"))
    expect(page).to_have_url(login_url(demo_server, "/"))
    # the old session cookie is no use either: its token was revoked
    page.context.add_cookies([session])
    page.goto(demo_server.url("/"))
    expect(page).to_have_url(login_url(demo_server, "/"))
    watched.assert_clean()
