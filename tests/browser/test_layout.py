"""The main pages' layout and accessibility in a real browser, at 375 px and 1280 px wide.

On the demo county, each page is opened by an account that uses it (the resident, the grid
worker, the cadre, the county admin, each practice's own account) and must:

* fit the screen: the document is no wider than the viewport (no sideways scrolling; a wide
  table scrolls inside itself);
* give every visible form control an accessible name (a ``<label>``, ``aria-label`` or
  ``aria-labelledby``; a button its text);
* have exactly one ``h1`` and ``<html lang="zh-CN">``;
* show all its text, links included, with WCAG AA contrast against the background behind
  it (4.5:1, or 3:1 for large text), computed from ``getComputedStyle``.

The login form works from the keyboard alone, and the error pages are in Chinese with a way
home and no traceback: the 404 page in the browser, and the 500 page (a test-only route that
raises, in-process) over HTTP. Assertions use Playwright's auto-waiting ``expect``; nothing
is timed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from core import hookimpl
from core.demo.load import DEMO_PASSWORD
from core.testing import Sanmin
from tests.helpers import manifest
from tests.servers import SanminServer

from .conftest import Watched, fill_login_form, watch

if TYPE_CHECKING:
    from playwright.sync_api import Browser

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None  # type: ignore[assignment]

WIDTHS = (375, 1280)
FUSHAN = "330802001000"  # 府山街道
VILLAGE = "330802001001"  # 府山社区
LIANHUA = "330803104000"  # 莲花镇 (衢江区), where 民情直通车 is on
HOUSEHOLD_FILE = "household file"  # the first household of the grid worker's list

# (what, the demo account that opens it (None: anonymous), its path), with a test id
PAGES = [
    pytest.param("登录", None, "/login", id="login"),
    pytest.param("首页", "resident", "/", id="home"),
    pytest.param("首页", "county_admin", f"/?unit={FUSHAN}", id="home-county-admin"),
    pytest.param("提交诉求", "resident", "/tickets/new", id="tickets-new"),
    pytest.param("我的诉求", "resident", "/tickets/mine", id="tickets-mine"),
    pytest.param("工单待办", "grid_worker", "/tickets/inbox", id="tickets-inbox"),
    pytest.param("公示栏", "resident", "/tickets/public", id="tickets-public"),
    pytest.param("户列表", "grid_worker", "/archives/households", id="households"),
    pytest.param("一户一档", "grid_worker", HOUSEHOLD_FILE, id="household-file"),
    pytest.param(
        "一村一册", "village_cadre", f"/archives/village-book?unit={VILLAGE}", id="village-book"
    ),
    pytest.param("工作台", "grid_worker", "/admin", id="workbench"),
    pytest.param("实名核验", "resident", "/account/verify", id="account-verify"),
    pytest.param("行政区划", "county_admin", "/admin/units", id="units"),
    pytest.param("系统设置", "county_admin", "/admin/settings", id="settings"),
    pytest.param("民主议事", "deliberation_clerk", "/p/deliberation/", id="deliberation"),
    pytest.param("指标看板", "county_admin", "/admin/dashboard", id="dashboard"),
    pytest.param("插件管理", "county_admin", "/admin/plugins", id="plugins"),
    pytest.param("审计日志", "county_admin", "/admin/audit", id="audit"),
    pytest.param("敲门嫂", "knock_door_leader", "/p/knock_door/", id="knock-door"),
    pytest.param("民情茶馆", "tea_house_head", "/p/tea_house/", id="tea-house"),
    pytest.param("红色代办", "red_proxy_secretary", "/p/red_proxy/", id="red-proxy"),
    pytest.param(
        "民情直通车", "mobile_office_duty", f"/p/mobile_office/?unit={LIANHUA}", id="mobile-office"
    ),
]

# An element as a failure message shows it: tag, id, classes, name and its first words.
DESCRIBE_JS = """el => {
    const id = el.id ? `#${el.id}` : "";
    const classes = [...el.classList].map(c => `.${c}`).join("");
    const name = el.getAttribute("name") ? `[name=${el.getAttribute("name")}]` : "";
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 24);
    return `<${el.tagName.toLowerCase()}${id}${classes}${name}> ${text}`.trim();
}"""

# The document's width and, when it is wider than the viewport, the innermost elements
# whose content sticks out of a box that does not scroll.
OVERFLOW_JS = f"""() => {{
    const describe = {DESCRIBE_JS};
    const root = document.documentElement;
    const culprits = [...document.body.querySelectorAll("*")].filter(el =>
        getComputedStyle(el).overflowX === "visible" && el.clientWidth > 0
        && el.scrollWidth > el.clientWidth + 1
        && ![...el.children].some(child => child.scrollWidth > child.clientWidth + 1
                                           && child.clientWidth > 0));
    return {{width: root.scrollWidth, viewport: root.clientWidth,
             culprits: culprits.slice(0, 5).map(describe)}};
}}"""

# Visible form controls without an accessible name (as the accessible-name computation
# finds one: aria-labelledby, aria-label, a <label>, a button's text, a title).
NAMELESS_JS = f"""() => {{
    const describe = {DESCRIBE_JS};
    const text = node => (node ? node.textContent : "").trim();
    const nameOf = el => {{
        const by = el.getAttribute("aria-labelledby");
        if (by) return by.split(/\\s+/).map(id => text(document.getElementById(id))).join("");
        const aria = (el.getAttribute("aria-label") || "").trim();
        if (aria) return aria;
        const labels = [...(el.labels || [])].map(text).join("");
        if (labels) return labels;
        if (el.tagName === "BUTTON") return text(el);
        if (el.tagName === "INPUT" && ["submit", "reset", "button"].includes(el.type))
            return el.value.trim();
        if (el.tagName === "INPUT" && el.type === "image") return (el.alt || "").trim();
        return (el.getAttribute("title") || "").trim();
    }};
    return [...document.querySelectorAll("input, select, textarea, button")]
        .filter(el => el.type !== "hidden" && el.getClientRects().length > 0
                      && getComputedStyle(el).visibility !== "hidden")
        .filter(el => !nameOf(el))
        .map(describe);
}}"""

# Text (every visible element with text of its own, links and buttons included; not inside
# an SVG chart, not disabled) whose colour has less than WCAG AA contrast with the colours
# behind it, composed up the ancestors (an element over a background image is skipped).
CONTRAST_JS = f"""() => {{
    const describe = {DESCRIBE_JS};
    const rgba = css => {{
        const parts = css.match(/rgba?\\(([^)]*)\\)/)[1].split(/[\\s,/]+/).filter(Boolean);
        const [r, g, b, a] = parts.map(Number);
        return [r, g, b, parts.length > 3 ? a : 1];
    }};
    const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3]))
        .concat([1]);
    const behind = el => {{
        const layers = [];
        for (let node = el; node; node = node.parentElement) {{
            const style = getComputedStyle(node);
            if (style.backgroundImage !== "none") return null;
            const colour = rgba(style.backgroundColor);
            if (colour[3] > 0) layers.push(colour);
            if (colour[3] >= 1) break;
        }}
        return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
    }};
    const luminance = c => {{
        const [r, g, b] = c.slice(0, 3).map(v => {{
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        }});
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    }};
    const contrast = (a, b) => {{
        const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
    }};
    const rgb = c => `rgb(${{c.slice(0, 3).map(Math.round).join(",")}})`;
    const found = new Map();
    for (const el of document.body.querySelectorAll("*")) {{
        if (el.closest("svg") || el.disabled || el.getClientRects().length === 0) continue;
        const style = getComputedStyle(el);
        if (style.visibility === "hidden") continue;
        const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        if (!own) continue;
        const background = behind(el);
        if (!background) continue;
        const colour = over(rgba(style.color), background);
        const size = parseFloat(style.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
        const needed = large ? 3 : 4.5;
        const ratio = contrast(colour, background);
        const key = `${{rgb(colour)}} on ${{rgb(background)}}`;
        if (ratio < needed && !found.has(key))
            found.set(key, `${{ratio.toFixed(2)}} < ${{needed}}: ${{key}}: ${{describe(el)}}`);
    }}
    return [...found.values()];
}}"""


def layout_problems(watched: Watched) -> list[str]:
    """What is wrong with the open page's layout and accessibility (empty: nothing)."""
    page = watched.page
    problems: list[str] = []
    overflow = page.evaluate(OVERFLOW_JS)
    if overflow["width"] > overflow["viewport"]:
        problems.append(
            f"{overflow['width']} px wide in a {overflow['viewport']} px viewport; "
            f"sticking out: {overflow['culprits']}"
        )
    problems += [f"no accessible name: {control}" for control in page.evaluate(NAMELESS_JS)]
    headings = page.locator("h1").count()
    if headings != 1:
        problems.append(f"{headings} h1 headings, not one")
    lang = page.locator("html").get_attribute("lang")
    if lang != "zh-CN":
        problems.append(f'<html lang="{lang}">, not zh-CN')
    problems += [f"contrast {text}" for text in page.evaluate(CONTRAST_JS)]
    return problems


@pytest.fixture(scope="module")
def tabs(
    browser: Browser, demo_server: SanminServer
) -> Iterator[Callable[[str | None, int], Watched]]:
    """``tabs(account, width)``: a page ``width`` px wide, logged in as the demo account
    (``None``: anonymous), opened once for the module and reused."""
    opened: dict[tuple[str | None, int], Watched] = {}

    def tab(account: str | None, width: int) -> Watched:
        if (account, width) not in opened:
            context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 800})
            context.set_default_timeout(10_000)
            watched = watch(context.new_page())
            if account is not None:
                watched.page.goto(demo_server.url("/login"))
                fill_login_form(watched.page, account)
                expect(watched.page).to_have_url(demo_server.url("/"))
            opened[account, width] = watched
        watched = opened[account, width]
        watched.errors.clear()
        watched.bad_responses.clear()
        return watched

    yield tab
    for watched in opened.values():
        watched.page.context.close()


def first_household(watched: Watched, server: SanminServer) -> str:
    """The path of the first household file in the account's household list."""
    watched.page.goto(server.url("/archives/households"))
    link = watched.page.locator("#households tbody").get_by_role("link").first
    return link.get_attribute("href") or ""


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("what", "account", "path"), PAGES)
def test_page_fits_and_is_accessible(
    tabs: Callable[[str | None, int], Watched],
    demo_server: SanminServer,
    what: str,
    account: str | None,
    path: str,
    width: int,
) -> None:
    watched = tabs(account, width)
    if path == HOUSEHOLD_FILE:
        path = first_household(watched, demo_server)
        assert path.startswith("/archives/households/"), path
    response = watched.page.goto(demo_server.url(path))
    assert response is not None and response.status == 200, (what, path)
    expect(watched.page.locator("body > footer")).to_be_visible()  # the layout, all parsed
    problems = layout_problems(watched)
    assert not problems, f"{what} ({path}, {account}) at {width} px:\n" + "\n".join(problems)
    watched.assert_clean()


@pytest.mark.browser
def test_the_login_form_works_from_the_keyboard(
    demo_server: SanminServer, watched: Watched
) -> None:
    page = watched.page
    page.goto(demo_server.url("/login"))
    form = page.locator("section.login form")
    username = form.get_by_label("用户名", exact=True)
    password = form.get_by_label("密码", exact=True)
    submit = form.get_by_role("button", name="登录", exact=True)

    links_before = page.locator("header.top a").count()  # the brand and the public menu
    for _ in range(links_before + 1):
        page.keyboard.press("Tab")
        if username.evaluate("el => el === document.activeElement"):
            break
    expect(username).to_be_focused()
    page.keyboard.type("township_admin")
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Tab")
    expect(submit).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(password).to_be_focused()
    page.keyboard.press("Enter")  # submits the form from the password field
    expect(page).to_have_url(demo_server.url("/"))
    expect(page.locator("header.top .who")).to_have_attribute("title", "township_admin")
    watched.assert_clean()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_an_unknown_page_is_the_chinese_404_page_with_a_way_home(
    tabs: Callable[[str | None, int], Watched], demo_server: SanminServer, width: int
) -> None:
    watched = tabs("resident", width)
    page = watched.page
    url = demo_server.url("/no-such-page")
    with watched.failing(404, url):
        response = page.goto(url)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("404 · 未找到")
    expect(page.locator(".error .message")).to_have_text("页面不存在 / not found")
    expect(page.locator("body")).not_to_contain_text("Traceback")
    assert layout_problems(watched) == []
    page.get_by_role("link", name="返回首页", exact=True).click()
    expect(page).to_have_url(demo_server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("三民")
    watched.assert_clean()


# -- the 500 page, in-process ---------------------------------------------------------------

SECRET = "secret internals of the failure"
crashing = APIRouter()


@crashing.get("/crash")
def crash() -> None:
    """A page route that fails as an unexpected bug would."""
    raise RuntimeError(SECRET)


class Crashing:
    """A test-only plugin whose one page raises."""

    PLUGIN = manifest("crashing", default_enabled=True)

    @hookimpl
    def register_page_routes(self) -> APIRouter:
        return crashing


@pytest.fixture
def sanmin_plugins() -> Sequence[str]:
    """No entry-point plugin: the core and the crashing page are all this test needs."""
    return ()


@pytest.fixture
def sanmin_extra_plugins() -> Sequence[tuple[str, Any]]:
    """The crashing page."""
    return [("crashing", Crashing())]


def test_an_internal_error_is_the_chinese_500_page_without_a_traceback(
    sanmin: Sanmin, caplog: pytest.LogCaptureFixture
) -> None:
    township = sanmin.township()
    token = sanmin.token_for("township_admin", township)
    browser_like = TestClient(
        sanmin.app,
        raise_server_exceptions=False,
        headers={"Accept": "text/html,application/xhtml+xml", "Authorization": f"Bearer {token}"},
    )
    with caplog.at_level(logging.ERROR, logger="sanmin.web"):
        answer = browser_like.get("/p/crashing/crash", params={"unit": township.code})
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="zh-CN">' in page
    assert "<h1>500 · 服务器错误</h1>" in page
    assert "服务器内部错误，已记录" in page
    assert f'<a href="/?unit={township.code}">返回首页</a>' in page
    for leak in (SECRET, "Traceback", "RuntimeError", 'File "'):
        assert leak not in page, leak
    # logged with the traceback, for the operators
    (entry,) = [r for r in caplog.records if r.getMessage().startswith("Unhandled error")]
    assert entry.exc_info is not None and SECRET in str(entry.exc_info[1])
