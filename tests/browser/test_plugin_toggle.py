"""A practice switched off in one township through the plugin matrix, in a real browser.

柯城区's county admin opens 插件管理 (/admin/plugins) and, in the matrix cell of 府山街道 ×
红色代办 (on there because 柯城区 switches it on), chooses 本级停用 and saves (the cell's form
posts to ``/admin/plugins/red_proxy/settings/330802001000``). Then in 府山街道 the practice's
menu entry and card are gone and its pages answer the 404 page naming it and the township,
while next door in 荷花街道 its menu entry still opens its page. Choosing 继承 again brings
it back in 府山街道.

The matrix's cells are found by their controls' accessible names (the unit's and the
practice's names), not by the table's structure. The server is this module's own
``sanmin demo`` (``conftest.demo_server``), so the switch touches no other test's data; the
test ends with the setting back where the demo had it. A screenshot of the matrix with the
practice off is kept (and copied to ``test-artifacts/screenshots/``). Assertions use
Playwright's auto-waiting ``expect``; nothing is timed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.servers import SanminServer

from .conftest import Watched, keep_screenshot, log_in

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None  # type: ignore[assignment]

COUNTY_ADMIN = "county_admin"  # 柯城区: plugins.toggle at the county and its townships
FUSHAN, FUSHAN_NAME = "330802001000", "府山街道"
HEHUA, HEHUA_NAME = "330802002000", "荷花街道"
PLUGIN, TITLE = "red_proxy", "红色代办"


def set_in_matrix(watched: Watched, unit_name: str, value: str) -> None:
    """On /admin/plugins, choose ``value`` (``on``, ``off`` or ``inherit``, the form's
    values) in the cell of ``unit_name`` × the practice, and save that cell's form."""
    page = watched.page
    choice = matrix_choice(watched, unit_name)
    expect(choice).to_have_count(1)
    choice.select_option(value)
    page.locator("form").filter(has=choice).get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/admin/plugins(\?[^#]*)?(#.*)?$"))


def matrix_choice(watched: Watched, unit_name: str):  # type: ignore[no-untyped-def]
    """The control of the matrix cell ``unit_name`` × the practice."""
    return watched.page.get_by_role("combobox", name=re.compile(rf"{unit_name}.*{TITLE}"))


def expect_cell(watched: Watched, unit_name: str, enabled: bool, choice: str) -> None:
    """The cell of ``unit_name`` shows the practice on (✔) or off (✘), and its control the
    setting ``choice`` (``on``, ``off`` or ``inherit``)."""
    control = matrix_choice(watched, unit_name)
    expect(control).to_have_value(choice)
    cell = watched.page.get_by_role("cell").filter(has=control)
    expect(cell).to_contain_text("✔" if enabled else "✘")
    expect(cell).not_to_contain_text("✘" if enabled else "✔")


def menu(watched: Watched):  # type: ignore[no-untyped-def]
    """The header's menu."""
    return watched.page.locator("header.top nav")


def expect_practice_in_menu(watched: Watched, server: SanminServer, code: str, name: str) -> None:
    """At the township ``code``, the practice is in the menu and its page opens."""
    page = watched.page
    page.goto(server.url(f"/?unit={code}"))
    expect(page.locator("header.top .where")).to_have_text(name)
    menu(watched).get_by_role("link", name=TITLE, exact=True).click()
    expect(page).to_have_url(server.url(f"/p/{PLUGIN}/?unit={code}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator("main")).to_contain_text(f"本功能已在 {name} 启用")


def test_a_practice_switched_off_in_one_township_is_gone_there_only(
    demo_server: SanminServer, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    log_in(watched, demo_server, COUNTY_ADMIN, "/admin/plugins")
    expect(page.get_by_role("heading", level=1)).to_have_text("插件管理")
    expect_cell(watched, FUSHAN_NAME, True, "inherit")

    set_in_matrix(watched, FUSHAN_NAME, "off")
    expect_cell(watched, FUSHAN_NAME, False, "off")
    expect_cell(watched, HEHUA_NAME, True, "inherit")
    shot = tmp_path / "plugin-toggle.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep_screenshot(shot, "plugin-toggle.png")

    # 府山街道: no menu entry, no card, and its pages are the 404 page naming it
    page.goto(demo_server.url(f"/?unit={FUSHAN}"))
    expect(page.locator("header.top .where")).to_have_text(FUSHAN_NAME)
    expect(menu(watched).get_by_role("link", name="敲门嫂", exact=True)).to_be_visible()
    expect(menu(watched)).not_to_contain_text(TITLE)
    expect(page.locator("main")).not_to_contain_text(TITLE)
    for path in ("/", "/board", "/catalogue"):
        url = demo_server.url(f"/p/{PLUGIN}{path}?unit={FUSHAN}")
        with watched.failing(404, url):
            response = page.goto(url)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_contain_text("404")
        message = page.locator(".error .message")
        for text in (TITLE, PLUGIN, FUSHAN_NAME):
            expect(message).to_contain_text(text)

    # 荷花街道, next door: untouched
    expect_practice_in_menu(watched, demo_server, HEHUA, HEHUA_NAME)

    # back to what 柯城区 says: on again in 府山街道
    page.goto(demo_server.url("/admin/plugins"))
    set_in_matrix(watched, FUSHAN_NAME, "inherit")
    expect_cell(watched, FUSHAN_NAME, True, "inherit")
    expect_practice_in_menu(watched, demo_server, FUSHAN, FUSHAN_NAME)
    watched.assert_clean()
