"""The tickets' pages in a real browser (Debian's chromium driven by Playwright), on the demo
county: the closed loop of one request, without a line of JavaScript of ours.

* The demo resident of 府山社区第一网格, on a phone-sized viewport (375 px), opens 提交诉求,
  taps 公共维修 and fills in the form with a photo: one tap for the type, one form, and the
  ticket page, which shows the photo.
* The grid worker of that grid finds it in 工单待办 and, from the ticket page, accepts (受理),
  signs (签收) and resolves (办结) it.
* The resident rates it 很满意 and says it was solved; the grid's 办结率 on the dashboard
  went up when it was resolved.

Screenshots of the phone's form, the worker's ticket page and the rated ticket are saved (and
copied to ``test-artifacts/screenshots/ticket-*.png`` for people to look at). Assertions use
Playwright's auto-waiting ``expect``; nothing is timed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import SanminServer
from tests.test_ticket_attachments import png

from .conftest import Watched, keep_screenshot, log_in

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import Browser, expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None  # type: ignore[assignment]

# the demo accounts (core/demo/load.py, DEMO_ACCOUNTS), all with the demo password
RESIDENT = "resident"  # 府山社区第一网格: ticket.create
GRID_WORKER = "grid_worker"  # 府山社区第一网格: ticket.read and ticket.handle
GRID = "330802001001001"
PHONE = {"width": 375, "height": 812}
TITLE = "3 号楼前路灯不亮"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Watched]:
    """A fresh browser context the size of a phone, recording errors like ``watched``."""
    context = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    watched = Watched(page, [], [])
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: watched.errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on(
        "response",
        lambda r: watched.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    try:
        yield watched
    finally:
        context.close()


def shot(watched: Watched, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, kept with the test's files and copied for people."""
    path = tmp_path / f"{name}.png"
    watched.page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep_screenshot(path, f"ticket-{name}.png")


def fits_the_screen(watched: Watched) -> None:
    """Nothing wider than the viewport: no sideways scrolling on the phone."""
    width = watched.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def resolution_rate(watched: Watched, server: SanminServer) -> float:
    """The grid's 办结率 this month on the dashboard (``-1`` while it has none)."""
    page = watched.page
    page.goto(server.url(f"/admin/dashboard?unit={GRID}"))
    tickets = page.locator("section.dashboard-group").filter(
        has=page.get_by_role("heading", name="为民办事", exact=True)
    )
    cell = tickets.get_by_role("row", name=re.compile("^办结率")).get_by_role("cell")
    text = cell.inner_text().strip()
    return -1.0 if text == "—" else float(text.removesuffix("%"))


def test_a_resident_submits_a_worker_handles_and_the_resident_rates(
    demo_server: SanminServer, phone: Watched, watched: Watched, tmp_path: Path
) -> None:
    page = phone.page
    log_in(phone, demo_server, RESIDENT, "/tickets/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("提交诉求")
    types = page.locator("#ticket-types")
    expect(types.get_by_role("link")).to_have_count(6)  # the six core types
    fits_the_screen(phone)

    types.get_by_role("link", name=re.compile("公共维修")).click()  # one tap
    expect(page).to_have_url(demo_server.url(f"/tickets/new/public_repair?unit={GRID}"))
    form = page.locator("form#ticket-form")
    form.get_by_label("标题").fill(TITLE)
    form.get_by_label("诉求内容").fill("路灯坏了一周，晚上出行不便")
    form.get_by_label("地址（选填）").fill("幸福路 3 号")
    form.get_by_label("设施类型").select_option("路灯")
    form.get_by_label("联系电话（选填）").fill("13812345678")
    photo = tmp_path / "路灯.png"
    photo.write_bytes(png(40, 30))
    form.get_by_label(re.compile("^照片")).set_input_files(photo)
    fits_the_screen(phone)
    shot(phone, tmp_path, "phone-form")
    form.get_by_role("button", name="提交", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+\?done=new$"))
    expect(page.get_by_role("status")).to_have_text("诉求已提交，请留意办理进度。")
    expect(page.locator("#ticket [data-state]")).to_have_text("已提交")
    ticket_url = page.url.removesuffix("?done=new")
    shown = page.locator("#photos img")
    expect(shown).to_have_count(1)
    expect(shown).to_have_attribute("alt", "第 1 张照片：路灯.png")
    page.wait_for_function("() => document.querySelector('#photos img').complete")
    assert shown.evaluate("img => img.naturalWidth") == 40  # served and decoded whole
    fits_the_screen(phone)

    worker = watched.page
    log_in(watched, demo_server, GRID_WORKER, "/tickets/inbox")
    before = resolution_rate(watched, demo_server)
    worker.goto(demo_server.url("/tickets/inbox"))
    row = worker.locator("#inbox tbody tr").filter(has_text=TITLE)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=TITLE).click()
    expect(worker).to_have_url(ticket_url)
    for label in ("受理", "签收"):
        worker.get_by_role("button", name=label, exact=True).click()
        expect(worker.get_by_role("status")).to_have_text(f"已{label}。")
    expect(worker.locator("#ticket [data-state]")).to_have_text("办理中")
    resolve = worker.locator("form#step-resolve")
    resolve.get_by_label("办结说明").fill("已更换灯泡，恢复照明")
    resolve.get_by_role("button", name="办结", exact=True).click()
    expect(worker.get_by_role("status")).to_have_text("已办结。")
    expect(worker.locator("#timeline")).to_contain_text("已更换灯泡，恢复照明")
    shot(watched, tmp_path, "worker-resolved")
    # one more of this month's requests resolved: the grid's 办结率 on the dashboard goes up
    after = resolution_rate(watched, demo_server)
    assert after > before, (before, after)
    worker.goto(ticket_url)

    page.goto(ticket_url)
    expect(page.locator("#ticket [data-state]")).to_have_text("已办结")
    rate = page.locator("form#rate")
    rate.get_by_label("很满意").check()
    rate.get_by_label("已解决").check()
    rate.get_by_label("评价内容（选填）").fill("修得很快")
    fits_the_screen(phone)
    rate.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("status")).to_have_text("感谢您的评价。")
    expect(page.locator("#ticket [data-state]")).to_have_text("已评价")
    expect(page.locator("#ticket")).to_contain_text("很满意 · 问题已解决 · 修得很快")
    shot(phone, tmp_path, "phone-rated")

    page.goto(demo_server.url("/tickets/mine"))
    expect(page.locator("#my-tickets li").filter(has_text=TITLE)).to_contain_text("已评价")
    phone.assert_clean()
    watched.assert_clean()
