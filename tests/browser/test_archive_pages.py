"""The archive pages in a real browser (Debian's chromium driven by Playwright), over the demo
county's archive (``core/demo/archive.py``: 3,000 households over 44 grids, care levels, tags).

* The grid worker of 府山社区第一网格 lists its grid's households, filters them by care level
  and opens one household file (一户一档): ID numbers and phones masked, care level, tags and
  the timeline shown.
* The cadre of 府山社区 opens its village book (一村一册): grouped by grid, filtered 红/黄/绿,
  paged, always masked, and printable as a PDF.
* The same cadre holds ``archive.read_sensitive``: a household file shows the numbers
  unmasked and says the read is audited; 府山街道's admin finds that read in the audit log.
* 府山街道's admin uploads a CSV sheet on 档案导入 and lands on the queued run.

The demo server of this module runs without its in-process worker (otherwise as
``conftest.demo_server``): the import job runs at the start of each minute, so with the worker
on, an upload could be imported before its run page is shown; without it, the run stays
queued and the page is the same on every run. Nothing here reads events or job results.
Assertions use Playwright's auto-waiting ``expect``; nothing is timed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from core.archives.care import TAGS
from core.archives.idnumbers import birth_date_of, validate_id_number
from core.archives.template import COLUMNS
from tests.servers import SanminServer, child_env

from .conftest import Watched, log_in

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    expect = None  # type: ignore[assignment]

# the demo accounts (core/demo/load.py, DEMO_ACCOUNTS), all with the demo password
GRID_WORKER = "grid_worker"  # 府山社区第一网格: archive.read and archive.write there
VILLAGE_CADRE = "village_cadre"  # 府山社区: archive.read and archive.read_sensitive
TOWNSHIP_ADMIN = "township_admin"  # 府山街道: archive.write and audit.read
FUSHAN = "330802001000"  # 府山街道
VILLAGE, VILLAGE_NAME = "330802001001", "府山社区"
GRID = "330802001001001"  # 府山社区第一网格
LEVEL_LABELS = {"red": "红（重点）", "yellow": "黄（关注）", "green": "绿（常态）"}
BOOK_PAGE = 50  # households on a page of the village book (core/archives/village_book.py)

MASKED_ID = re.compile(r"^\d{6}\*{8}[\dX]{4}$")  # 330802********1234
MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")  # 138****5678
# an 18-character ID number standing alone (户号 are 19 digits, grid codes 15)
BARE_ID = re.compile(r"(?<![0-9A-Za-z*])\d{17}[\dXx](?![0-9A-Za-z*])")
MASKED_NOTICE = "身份证号、电话、车牌与关爱评估要素已脱敏"
AUDITED_NOTICE = "您正在查看未脱敏的身份证号、电话、车牌与关爱评估要素，本次查看已记入审计日志。"


@pytest.fixture(scope="module")
def demo_server(
    browser_available: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SanminServer]:
    """``sanmin demo`` on a free port with its own SQLite file, without the in-process worker
    (so that an uploaded import stays queued), stopped after the module."""
    workdir = tmp_path_factory.mktemp("demo-archive")
    database = workdir / "demo.db"
    env = child_env(f"sqlite:///{database}", workdir)
    env["SANMIN_RUN_WORKER_IN_PROCESS"] = "false"
    with SanminServer("demo", ["demo", "--db", str(database)], env=env, workdir=workdir) as server:
        server.wait_until_ready()
        yield server


# -- helpers -------------------------------------------------------------------------------


def open_from_menu(watched: Watched, label: str) -> None:
    """Click the header menu's link ``label``."""
    watched.page.locator("header.top nav").get_by_role("link", name=label, exact=True).click()


def loaded(watched: Watched) -> None:
    """Wait until the page's layout footer is there: the content before it is parsed."""
    expect(watched.page.locator("body > footer")).to_be_visible()


def expect_no_bare_id_number(watched: Watched) -> None:
    """Neither the page's text nor its HTML holds an unmasked 18-character ID number."""
    page = watched.page
    assert BARE_ID.findall(page.locator("body").inner_text()) == []
    assert BARE_ID.findall(page.content()) == []


def member_cells(watched: Watched, column: int) -> list[str]:
    """The texts of column ``column`` (1-based) of the household file's member rows."""
    rows = watched.page.locator("#members tbody tr:not(.member-more)")
    return rows.locator(f"td:nth-child({column})").all_inner_texts()


def book_households(watched: Watched) -> list[dict[str, object]]:
    """The households on the village book page, in page order: their grid section, 户号, own
    level (the highest of their members') and each member's level."""
    return watched.page.evaluate(
        """() => [...document.querySelectorAll("section.book-grid")].flatMap(section => {
            const heading = section.querySelector("h2").textContent;
            const grid = heading.match(/（(\\d{15})）/)[1];
            const out = [];
            const levelIn = cell => {
                const found = cell && cell.querySelector(".level");
                const name = found && [...found.classList].find(c => c.startsWith("level-"));
                return name ? name.slice(6) : null;
            };
            for (const row of section.querySelectorAll("tbody tr")) {
                if (row.classList.contains("household")) {
                    // 户号 and address span the first six columns: the level is the 2nd cell
                    const number = row.querySelector("a").textContent;
                    const level = levelIn(row.querySelector("td:nth-child(2)"));
                    out.push({grid, number, level, members: []});
                } else if (row.querySelector("td:nth-child(7)")) {
                    out[out.length - 1].members.push(levelIn(row.querySelector("td:nth-child(7)")));
                }
            }
            return out;
        })"""
    )


def import_id_number(i: int) -> str:
    """The ``i``-th made-up ID number of the sheet: 柯城区, born 1951 or later, with its
    GB 11643 check character (checked by the archive's own validation)."""
    body = f"330802{date(1951, 3, 1) + timedelta(days=97 * i):%Y%m%d}{900 + i:03d}"
    total = sum(int(digit) * pow(2, 17 - k, 11) for k, digit in enumerate(body))
    return validate_id_number(body + "10X98765432"[total % 11])


def import_sheet(rows: int) -> bytes:
    """A CSV sheet with the template's columns (UTF-8 with BOM): ``rows`` persons, two a
    household, in 府山社区第一网格."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i in range(rows):
        number = import_id_number(i)
        writer.writerow(
            {
                "姓名": f"导入测试{i}",
                "身份证号": number,
                "性别": "男" if int(number[16]) % 2 else "女",
                "出生日期": f"{birth_date_of(number):%Y-%m-%d}",
                "联系电话": f"139{i:08d}",
                "户号": f"{GRID}9{i // 2:03d}",  # grid + 4 digits, past the demo's (< 0100)
                "与户主关系": "户主" if i % 2 == 0 else "配偶",
                "现住址": f"柯城区府山街道测试巷{i // 2}号",
                "所属网格": GRID,
            }
        )
    return ("\ufeff" + out.getvalue()).encode()


# -- the scenarios -------------------------------------------------------------------------


def test_grid_worker_lists_filters_and_opens_a_masked_household_file(
    demo_server: SanminServer, watched: Watched
) -> None:
    page = watched.page
    log_in(watched, demo_server, GRID_WORKER)
    open_from_menu(watched, "民情档案")
    expect(page).to_have_url(demo_server.url("/archives/households"))
    loaded(watched)
    expect(page.get_by_role("heading", level=1)).to_have_text("民情档案 · 户列表")

    # only the worker's grid: every household's 所属网格 is it
    rows = page.locator("#households tbody tr")
    everything = rows.count()
    expect(rows.locator("td:nth-child(3)")).to_have_text([GRID] * everything)

    # 关爱等级 = 红, every other field left empty, submitted as the form sends it
    form = page.locator("form.filters")
    form.get_by_label("关爱等级").select_option("red")
    form.get_by_role("button", name="查询", exact=True).click()
    expect(page).to_have_url(
        demo_server.url(
            "/archives/households?unit=&name=&address=&tag=&level=red&age_min=&age_max="
        )
    )
    loaded(watched)
    expect(page.get_by_role("heading", level=1)).to_have_text("民情档案 · 户列表")
    expect(form.get_by_label("关爱等级")).to_have_value("red")
    red = rows.count()
    assert 0 < red < everything
    expect(rows.locator("td:nth-child(3)")).to_have_text([GRID] * red)

    first = rows.first.get_by_role("link")
    number = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(r"/archives/households/\d+$"))
    loaded(watched)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"一户一档 · 户号 {number}")
    expect(page.locator("main")).to_contain_text(MASKED_NOTICE)
    expect(page.locator("main")).not_to_contain_text("本次查看已记入审计日志")

    ids, phones = member_cells(watched, 5), member_cells(watched, 6)
    assert ids and all(MASKED_ID.match(n) for n in ids), ids
    assert any(phones) and all(MASKED_PHONE.match(p) for p in phones if p), phones
    # the household was found by a red member: that member's level, visits and tags
    members = page.locator("#members tbody tr:not(.member-more)")
    elder = members.filter(has=page.locator("td:nth-child(7) .level-red"))
    expect(elder.first.locator("td:nth-child(7)")).to_contain_text(LEVEL_LABELS["red"])
    expect(elder.first.locator("td:nth-child(7)")).to_contain_text("天至少走访一次")
    tags = elder.first.locator("td:nth-child(8) .tag")
    expect(tags.first).to_be_visible()
    assert set(tags.all_inner_texts()) <= {tag.label for tag in TAGS.values()}
    expect(page.locator(".member-more").first).to_contain_text("关爱评估要素已脱敏")

    timeline = page.locator("#timeline li")
    expect(page.get_by_role("heading", level=2, name="时间线")).to_be_visible()
    expect(timeline.filter(has_text="关爱等级评定").first).to_contain_text(LEVEL_LABELS["red"])
    expect_no_bare_id_number(watched)

    page.get_by_role("link", name="返回户列表", exact=True).click()
    expect(page).to_have_url(demo_server.url(f"/archives/households?unit={GRID}"))
    expect(rows).to_have_count(everything)
    watched.assert_clean()


def test_village_book_filters_pages_and_prints(demo_server: SanminServer, watched: Watched) -> None:
    page = watched.page
    log_in(watched, demo_server, VILLAGE_CADRE)
    open_from_menu(watched, "一村一册")
    expect(page).to_have_url(demo_server.url("/archives/village-book"))
    loaded(watched)
    # the chooser: the cadre's village and its grids, nothing else
    codes = page.locator("#units tbody tr td:nth-child(3)")
    expect(codes.first).to_have_text(VILLAGE)
    assert all(c.startswith(VILLAGE) for c in codes.all_inner_texts())
    assert len(codes.all_inner_texts()) > 1
    page.locator("#units").get_by_role("link", name=VILLAGE_NAME, exact=True).click()
    expect(page).to_have_url(demo_server.url(f"/archives/village-book?unit={VILLAGE}"))
    loaded(watched)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"一村一册 · {VILLAGE_NAME}")

    levels = page.get_by_role("navigation", name="关爱等级筛选")
    expect(levels.get_by_role("link", name="全部", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("tr.household")).to_have_count(BOOK_PAGE)
    first_page = book_households(watched)
    # grouped by grid: each section holds its grid's households (户号 = grid code + 4 digits)
    assert all(str(h["number"]).startswith(str(h["grid"])) for h in first_page)
    numbers = [str(h["number"]) for h in first_page]
    assert numbers == sorted(numbers)
    ids = page.locator("section.book-grid tbody tr:not(.household) td:nth-child(5)")
    assert all(MASKED_ID.match(n) for n in ids.all_inner_texts() if n)
    expect_no_bare_id_number(watched)  # masked even for a holder of archive.read_sensitive

    # paging: the next page goes on in the same order, and comes back
    pager = page.locator("p.pager")
    pager.get_by_role("link", name="下一页", exact=True).click()
    expect(page).to_have_url(
        demo_server.url(f"/archives/village-book?{urlencode({'unit': VILLAGE, 'offset': 50})}")
    )
    loaded(watched)
    second_page = book_households(watched)
    assert second_page and str(second_page[0]["number"]) > numbers[-1]
    assert all(str(h["number"]).startswith(str(h["grid"])) for h in second_page)
    grids = [h["grid"] for h in second_page]
    assert grids == sorted(grids)
    headings = page.locator("section.book-grid h2").all_inner_texts()
    assert len(headings) == len(set(headings)) == len(set(grids))
    pager.get_by_role("link", name="上一页", exact=True).click()
    expect(page).to_have_url(demo_server.url(f"/archives/village-book?unit={VILLAGE}"))
    loaded(watched)
    assert [h["number"] for h in book_households(watched)] == numbers

    # 红/黄/绿: only households with a member at that level
    for level, label in LEVEL_LABELS.items():
        levels.get_by_role("link", name=label, exact=True).click()
        query = urlencode({"unit": VILLAGE, "level": level})
        expect(page).to_have_url(demo_server.url(f"/archives/village-book?{query}"))
        loaded(watched)
        link = levels.get_by_role("link", name=label, exact=True)
        expect(link).to_have_attribute("aria-current", "page")
        expect(page.locator("main p.hint").first).to_contain_text(f"有{label}成员的户")
        expect(page.locator("tr.household").first).to_be_visible()
        shown = book_households(watched)
        assert all(level in h["members"] for h in shown), (level, shown)
        if level == "red":
            assert all(h["level"] == "red" for h in shown)

    levels.get_by_role("link", name="全部", exact=True).click()
    expect(page).to_have_url(demo_server.url(f"/archives/village-book?unit={VILLAGE}"))
    loaded(watched)
    expect(page.locator("tr.household")).to_have_count(BOOK_PAGE)

    # the whole book as a PDF, fetched with the page's own session
    pdf = page.get_by_role("link", name="整册 PDF", exact=True)
    expect(pdf).to_have_attribute("href", f"/archives/village-book.pdf?unit={VILLAGE}")
    answer = page.request.get(demo_server.url(pdf.get_attribute("href") or ""))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith(
        f'inline; filename="village-book-{VILLAGE}.pdf"'
    )
    assert answer.body()[:5] == b"%PDF-"
    watched.assert_clean()


def test_sensitive_read_is_unmasked_and_audited(
    demo_server: SanminServer, watched: Watched
) -> None:
    page = watched.page
    log_in(watched, demo_server, VILLAGE_CADRE)
    open_from_menu(watched, "民情档案")
    rows = page.locator("#households tbody tr")
    first = rows.first.get_by_role("link")
    number = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(r"/archives/households/\d+$"))
    loaded(watched)
    household = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"一户一档 · 户号 {number}")
    expect(page.locator("main")).to_contain_text(AUDITED_NOTICE)
    expect(page.locator("main")).not_to_contain_text(MASKED_NOTICE)
    ids = member_cells(watched, 5)
    assert ids and all(validate_id_number(n) == n for n in ids), ids
    # the check the masked pages pass would have caught these numbers
    assert set(BARE_ID.findall(page.locator("body").inner_text())) == set(ids)
    phones = [p for p in member_cells(watched, 6) if p]
    assert phones and all(re.fullmatch(r"1\d{10}", p) for p in phones), phones
    grid = page.locator("dl.facts").first.locator("dd").nth(1).inner_text()

    page.locator("header.top").get_by_role("button", name="退出", exact=True).click()
    expect(page).to_have_url(demo_server.url("/login"))

    # 府山街道's admin finds the read in the audit log, on the page and through the API
    log_in(watched, demo_server, TOWNSHIP_ADMIN, "/admin/audit")
    form = page.locator("form.audit-filters")
    form.get_by_label("操作人").fill(f"account:{VILLAGE_CADRE}")
    form.get_by_label("操作", exact=True).fill("read.")
    form.get_by_label("对象类型").fill("household")
    form.get_by_label("对象", exact=True).fill(household)
    form.get_by_role("button", name="查询", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?actor=account%3Avillage_cadre&"))
    entries = page.locator("#audit tbody tr")
    expect(entries).to_have_count(1)
    cells = entries.locator("td")
    expect(cells.nth(1)).to_have_text(f"account:{VILLAGE_CADRE}")
    expect(cells.nth(2)).to_have_text("read.archive.read_sensitive")
    expect(cells.nth(3)).to_have_text(f"household {household}")
    expect(cells.nth(4)).to_contain_text(grid)
    expect(cells.nth(6)).to_contain_text('"id_number"')

    query = urlencode(
        {"actor": f"account:{VILLAGE_CADRE}", "target_type": "household", "target_id": household}
    )
    answer = page.request.get(demo_server.url(f"/api/v1/audit?{query}"))
    assert answer.status == 200
    (entry,) = json.loads(answer.body())
    assert entry["action"] == "read.archive.read_sensitive"
    assert entry["unit_code"] == grid
    assert {"id_number", "phone"} <= set(entry["after"]["fields"])
    watched.assert_clean()


def test_import_upload_is_queued_with_its_progress(
    demo_server: SanminServer, watched: Watched
) -> None:
    page = watched.page
    log_in(watched, demo_server, TOWNSHIP_ADMIN)
    open_from_menu(watched, "档案导入")
    expect(page).to_have_url(demo_server.url("/archives/imports"))
    expect(page.get_by_role("heading", level=1)).to_have_text("档案导入")
    form = page.locator("form.filters")
    expect(form.locator('input[type="hidden"][name="csrf_token"]')).to_have_value(
        re.compile(r"\S{20,}")
    )
    expect(form.get_by_label("导入单位代码")).to_have_value(FUSHAN)

    rows = 6
    form.get_by_label("数据来源").fill("公安户籍")
    form.get_by_label("文件", exact=True).set_input_files(
        {"name": "府山户籍.csv", "mimeType": "text/csv", "buffer": import_sheet(rows)}
    )
    form.get_by_role("button", name="上传并导入", exact=True).click()
    expect(page).to_have_url(re.compile(r"/archives/imports/\d+$"))
    run = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text("档案导入 · 府山户籍.csv")
    expect(page.locator("#status")).to_have_text("排队中")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(FUSHAN)
    expect(facts).to_contain_text("公安户籍")
    expect(facts).to_contain_text(f"account:{TOWNSHIP_ADMIN}")
    progress = facts.locator("progress")
    expect(progress).to_have_attribute("max", str(rows))
    expect(progress).to_have_attribute("value", "0")
    expect(facts).to_contain_text(f"已处理 0 行，共约 {rows} 行")
    expect(page.locator("main")).to_contain_text("本页每 3 秒刷新一次")
    expect(page.locator("#summary")).to_have_count(0)

    page.get_by_role("link", name="← 档案导入", exact=True).click()
    expect(page).to_have_url(demo_server.url("/archives/imports"))
    listed = page.locator("#imports tbody tr").filter(
        has=page.get_by_role("link", name=run, exact=True)
    )
    expect(listed.locator("td")).to_have_text(
        [
            run,
            "府山户籍.csv",
            FUSHAN,
            "公安户籍",
            "排队中",
            f"0 / 约 {rows}",
            "",
            f"account:{TOWNSHIP_ADMIN}",
            re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"),
        ]
    )
    watched.assert_clean()
