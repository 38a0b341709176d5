"""The pages people see, in a real browser: Debian's chromium driven by Playwright.

One ``sanmin demo`` server (the demo county on a fresh SQLite file) serves the module.
In the demo, 府山街道 has 敲门嫂 and 民情茶馆 (on by default) and 红色代办 (on in 柯城区),
but not 民情直通车, which is on only in 衢江区 (e.g. 莲花镇).
Assertions use Playwright's auto-waiting ``expect``; nothing is timed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.servers import SanminServer

from .conftest import Watched, copy_for_humans

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None  # type: ignore[assignment]

FUSHAN, FUSHAN_NAME = "330802001000", "府山街道"
LIANHUA, LIANHUA_NAME = "330803104000", "莲花镇"
ON_IN_FUSHAN = ("敲门嫂", "民情茶馆")
MOBILE_OFFICE = "民情直通车"
BUILTINS = {
    "knock_door": "敲门嫂",
    "tea_house": "民情茶馆",
    "red_proxy": "红色代办",
    "mobile_office": "民情直通车",
}
HUMAN_COPY = Path("/tmp/sanmin-home.png")


def enabled_section(watched: Watched, township_name: str):  # type: ignore[no-untyped-def]
    """The home page's "<township> 已启用的功能" section."""
    page = watched.page
    heading = page.get_by_role("heading", name=f"{township_name} 已启用的功能")
    return page.locator("section").filter(has=heading)


def test_home_township_and_practice_page(
    demo_server: SanminServer, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    page.goto(demo_server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("三民")
    townships = page.locator("ul.units")
    expect(townships.get_by_role("link", name=FUSHAN_NAME, exact=True)).to_be_visible()
    expect(townships.get_by_role("link", name=LIANHUA_NAME, exact=True)).to_be_visible()

    townships.get_by_role("link", name=FUSHAN_NAME, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/\?unit={FUSHAN}$"))
    section = enabled_section(watched, FUSHAN_NAME)
    menu = page.locator("header.top nav")
    expect(page.locator("header.top .where")).to_have_text(FUSHAN_NAME)
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
    copy_for_humans(shot, HUMAN_COPY)

    menu.get_by_role("link", name="敲门嫂", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/p/knock_door/\?unit={FUSHAN}$"))
    expect(page).to_have_title(re.compile("敲门嫂"))
    practice = page.locator("article#knock_door")
    expect(practice.get_by_role("heading", level=1)).to_have_text("敲门嫂")
    expect(practice).to_contain_text(f"本功能已在 {FUSHAN_NAME} 启用")

    assert watched.errors == []
    assert watched.bad_responses == []


def test_plugin_off_in_township_is_a_404_page(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    url = demo_server.url(f"/p/mobile_office/?unit={FUSHAN}")
    response = page.goto(url)
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("404")
    message = page.locator(".error .message")
    expect(message).to_contain_text(MOBILE_OFFICE)
    expect(message).to_contain_text("mobile_office")
    expect(message).to_contain_text(FUSHAN_NAME)
    # the browser logs the 404 itself; nothing else may fail
    assert watched.bad_responses == [f"404 {url}"]


def test_mobile_office_listed_where_it_is_on(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    page.goto(demo_server.url(f"/?unit={LIANHUA}"))
    section = enabled_section(watched, LIANHUA_NAME)
    expect(section.get_by_role("link", name=MOBILE_OFFICE, exact=True)).to_be_visible()
    expect(
        page.locator("header.top nav").get_by_role("link", name=MOBILE_OFFICE, exact=True)
    ).to_be_visible()
    assert watched.errors == []
    assert watched.bad_responses == []


def test_admin_plugins_page(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    page.goto(demo_server.url("/admin/plugins"))
    expect(page.get_by_role("heading", level=1)).to_have_text("插件管理")
    plugins = page.locator("table#plugins")
    for name, title in BUILTINS.items():
        row = plugins.locator("tbody tr").filter(has=page.locator("code", has_text=name))
        expect(row).to_have_count(1)
        expect(row).to_contain_text(title)
        expect(row).to_contain_text("正常")

    row = page.locator("table#matrix tbody tr").filter(has_text=FUSHAN)
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_contain_text(FUSHAN_NAME)
    expected = {"knock_door": True, "tea_house": True, "red_proxy": True, "mobile_office": False}
    for name, on in expected.items():
        cell = row.locator(f'td[data-plugin="{name}"]')
        expect(cell).to_have_class("on" if on else "off")
        expect(cell).to_contain_text("✔" if on else "✘")
    assert watched.errors == []
    assert watched.bad_responses == []
