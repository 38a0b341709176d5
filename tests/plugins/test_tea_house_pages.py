"""民情茶馆's pages: announcing, a session from opening to closing through its forms (no
JavaScript), refused input shown next to its field, the village chooser, the schedule, and
the menu entries by role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.testing import Sanmin
from plugins.tea_house import workbench
from tests.plugins.test_tea_house import (
    API,
    FIRST,
    ISSUE,
    PAGES,
    PLUGIN,
    SECOND,
    TODAY,
    announce,
    at,
    close,
    held,
    ok,
    record,
    set_clock,
    village_in,
)

HTML = {"accept": "text/html"}


@pytest.fixture
def sanmin_plugins() -> list[str]:
    """Only this plugin (and the core's)."""
    return [PLUGIN]


def nav(html: str) -> str:
    """The shared layout's menu."""
    found = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert found, "the page has no menu"
    return found.group(1)


def hidden(html: str, name: str) -> str:
    """The value of the first hidden input ``name`` of a page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name}"
    return found.group(1)


def test_a_session_runs_from_announcement_to_close_through_its_forms(sanmin: Sanmin) -> None:
    village = village_in(sanmin, "茶馆街道")
    cadre = sanmin.client_as("village_cadre", village)
    unit = {"unit": village.code}
    set_clock(sanmin, at(TODAY))
    form = cadre.get(f"{PAGES}/sessions/new", params=unit, headers=HTML)
    assert form.status_code == 200 and 'min="2030-03-05"' in form.text

    soon = {"held_on": "2030-03-04", "start_time": "09:00", "venue": "文化礼堂"}
    refused = cadre.post(f"{PAGES}/sessions/new", params=unit, data=soon, headers=HTML)
    assert refused.status_code == 422
    assert (
        'id="f-held-on"' in refused.text and 'aria-describedby="form-held_on-error"' in refused.text
    )
    assert "至少提前 3 天公告" in refused.text and 'value="文化礼堂"' in refused.text

    good = {**soon, "held_on": FIRST.isoformat(), "topics": "路灯和排水"}
    page = cadre.post(f"{PAGES}/sessions/new", params=unit, data=good, headers=HTML)
    assert page.status_code == 200 and "已公告。" in page.text and "开场" in page.text
    session_id = int(re.search(r'data-session="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    base = f"{PAGES}/sessions/{session_id}"
    notices = cadre.get(f"{PAGES}/", params=unit, headers=HTML).text
    assert "2030-03-10" in notices and "路灯和排水" in notices

    set_clock(sanmin, at(FIRST))
    opened = cadre.post(f"{base}/open", params=unit, data={"version": "1"}, headers=HTML)
    assert "已开场" in opened.text and 'id="issue-form"' in opened.text
    key = hidden(opened.text, "submission_key")

    blank = {**ISSUE, "summary": "", "submission_key": key}
    refused = cadre.post(f"{base}/issues", params=unit, data=blank, headers=HTML)
    assert refused.status_code == 422
    assert 'id="issue-summary-error"' in refused.text and "必填" in refused.text
    assert ISSUE["description"] in refused.text  # what was typed is kept

    filled = {**ISSUE, "submission_key": key}
    for _ in range(2):  # a double submit records it once
        recorded = cadre.post(f"{base}/issues", params=unit, data=filled, headers=HTML)
        assert recorded.status_code == 200 and "问题已登记。" in recorded.text
    issues = ok(cadre.get(f"{API}/sessions/{session_id}"))["issues"]
    assert [i["summary"] for i in issues] == [ISSUE["summary"]]
    assert "138****1234" in recorded.text and "13805701234" not in recorded.text
    issue_id = issues[0]["id"]

    late = {"version": "1", "promised_by": "2030-03-01", "responsible": "主任"}
    refused = cadre.post(f"{PAGES}/issues/{issue_id}/transfer", data=late, headers=HTML)
    assert refused.status_code == 422 and "承诺办理期限不能早于今天" in refused.text
    assert f'id="transfer-{issue_id}-promised_by-error"' in refused.text
    promise = {**late, "promised_by": "2030-03-20"}
    moved = cadre.post(f"{PAGES}/issues/{issue_id}/transfer", data=promise, headers=HTML)
    assert "已转办为工单。" in moved.text and "承诺 2030-03-20 前办结" in moved.text
    stale = cadre.post(f"{PAGES}/issues/{issue_id}/answer", data={"version": "1", "answer": "好"})
    assert stale.status_code == 409 and "已转办" in stale.text

    closing = {"version": "2", "attendance": "abc"}
    refused = cadre.post(f"{base}/close", params=unit, data=closing, headers=HTML)
    assert refused.status_code == 422 and "应为整数" in refused.text
    closed = cadre.post(f"{base}/close", params=unit, data={**closing, "attendance": "35"})
    assert "已结束" in closed.text and "参加群众" in closed.text and "35 人" in closed.text


def test_a_resident_sees_the_notice_board_and_report_back_but_not_the_session_page(
    sanmin: Sanmin,
) -> None:
    village = village_in(sanmin)
    set_clock(sanmin, at(TODAY))
    cadre = sanmin.client_as("village_cadre", village)
    session = ok(
        cadre.post(
            f"{API}/sessions",
            params={"unit": village.code},
            json={"held_on": "2030-03-10", "start_time": "09:00", "venue": "沟通中心户"},
        ),
        201,
    )
    resident = sanmin.client_as("resident", village.code + "001")
    board = resident.get(f"{PAGES}/", headers=HTML)
    assert board.status_code == 200 and "沟通中心户" in board.text and "已公告" in board.text
    assert 'id="sessions"' not in board.text  # the staff list
    report = resident.get(f"{PAGES}/report-back", headers=HTML)
    assert report.status_code == 200 and "没有需要通报的转办事项" in report.text
    page = resident.get(f"{PAGES}/sessions/{session['id']}", headers=HTML)
    assert page.status_code == 404


def test_menu_entries_follow_the_role(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    grid = sanmin.unit(village.code + "001")
    links = {"index": f"{PAGES}/", "report": f"{PAGES}/report-back", "new": f"{PAGES}/sessions/new"}

    def shown(role: str, unit: str) -> set[str]:
        menu = nav(sanmin.client_as(role, unit).get("/", params={"unit": unit}).text)
        return {name for name, href in links.items() if f'href="{href}?unit={unit}"' in menu}

    assert shown("village_cadre", village.code) == {"index", "report", "new"}
    assert shown("tea_house_head", village.code) == {"index", "report", "new"}
    assert shown("tea_house_keeper", village.code) == {"index", "report"}
    assert shown("resident", grid.code) == {"index", "report"}


def test_pages_about_one_village_ask_which_one_above_it(sanmin: Sanmin) -> None:
    village = village_in(sanmin, "选择街道")
    township = village.code[:9] + "000"
    admin = sanmin.client_as("township_admin", township)
    for path in ("/sessions/new", "/report-back", "/schedule"):
        page = admin.get(f"{PAGES}{path}", params={"unit": township}, headers=HTML)
        assert page.status_code == 200, path
        assert f'href="{PAGES}{path}?unit={village.code}"' in page.text, path
    chosen = admin.get(f"{PAGES}/sessions/new", params={"unit": village.code}, headers=HTML)
    assert chosen.status_code == 200 and 'id="announce"' in chosen.text
    keeper = sanmin.client_as("tea_house_keeper", village)
    refused = keeper.get(f"{PAGES}/sessions/new", headers=HTML)
    assert refused.status_code == 403 and "tea_house.manage" in refused.text


def test_the_schedule_page_saves_the_fixed_day(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    head = sanmin.client_as("tea_house_head", village)
    form = head.get(f"{PAGES}/schedule", headers=HTML)
    assert (
        form.status_code == 200 and 'name="day_of_month"' in form.text and 'value="10"' in form.text
    )
    bad = {"day_of_month": "30", "start_time": "9点", "venue": "文化礼堂", "active": "true"}
    refused = head.post(f"{PAGES}/schedule", data=bad, headers=HTML)
    assert refused.status_code == 422
    assert "不能大于 28" in refused.text and "格式不正确" in refused.text
    good = {**bad, "day_of_month": "10", "start_time": "08:30", "lead_days": "5"}
    saved = head.post(f"{PAGES}/schedule", data=good, headers=HTML)
    assert saved.status_code == 200 and "已保存。" in saved.text and 'value="08:30"' in saved.text
    [schedule] = ok(head.get(f"{API}/schedules"))
    assert (schedule["day_of_month"], schedule["lead_days"], schedule["active"]) == (10, 5, True)
    board = head.get(f"{PAGES}/", headers=HTML).text
    assert "每月 10 日 08:30 在 文化礼堂" in board


def panel(page: str, title: str) -> str | None:
    """The HTML of the workbench panel titled ``title``, or ``None`` when there is none."""
    found = re.search(
        rf'<section class="panel"[^>]*>\s*<h2[^>]*>{title}(.*?)</section>', page, re.S
    )
    return found.group(1) if found else None


def test_the_workbench_shows_the_next_session_and_the_issues_awaiting_an_answer(
    sanmin: Sanmin,
) -> None:
    village = village_in(sanmin, "工作台街道")
    cadre = sanmin.client_as("village_cadre", village)
    keeper = sanmin.client_as("tea_house_keeper", village)
    session = held(cadre, sanmin, village)  # 2030-03-10, being held; the clock is that day
    announce(cadre, village, SECOND, venue="沟通中心户")
    lights = record(keeper, session)
    drains = record(keeper, session, summary="排水沟堵塞", category="环境")
    record(cadre, session, summary="医保怎么续", category="政策咨询", answer="村委代办")
    link = f"{PAGES}/sessions/{session['id']}?unit={village.code}"

    shown = panel(keeper.get("/admin").text, "民情茶馆")
    assert shown is not None and "2 个问题待答复或转办" in shown
    assert "本场沟通日 2030-03-10 09:00 · 文化礼堂</a>" in shown and "进行中 · 固定沟通日" in shown
    assert shown.index("村口路灯不亮（道路）") < shown.index("排水沟堵塞（环境）")
    assert shown.count("待答复或转办 · 2030-03-10 登记") == 2 and "医保怎么续" not in shown
    assert shown.count(f'href="{link}"') == 3 and f'href="{PAGES}/?unit={village.code}"' in shown
    built = workbench.statements.cache_info().currsize  # built once, reused
    assert panel(keeper.get("/admin").text, "民情茶馆") == shown
    assert workbench.statements.cache_info().currsize == built

    set_clock(sanmin, at(FIRST + timedelta(days=1)))  # the day after: both are late
    late = panel(keeper.get("/admin").text, "民情茶馆")
    assert late is not None and late.count("已逾期：会后仍未答复或转办") == 2
    for issue, answer in ((lights, "已报修"), (drains, "已清理")):
        body = {"version": issue["version"], "answer": answer}
        ok(cadre.post(f"{API}/issues/{issue['id']}/answer", json=body))
    close(cadre, session)
    after = panel(keeper.get("/admin").text, "民情茶馆")
    assert after is not None and "0 个问题待答复或转办" in after
    assert "下次沟通日 2030-04-10 09:00 · 沟通中心户" in after and "已公告" in after

    county = sanmin.client_as("county_admin", village.code[:6] + "000000")  # reads, records not
    assert panel(county.get("/admin").text, "民情茶馆") is None
    sanmin.disable(PLUGIN, village.code[:9] + "000")
    assert panel(keeper.get("/admin").text, "民情茶馆") is None


def test_the_workbench_counts_every_pending_issue_and_shows_the_first_six(
    sanmin: Sanmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven issues awaiting an answer: all seven counted, the six longest waiting shown
    after the session; another township's issues never; past ``COUNT_LIMIT`` it says 以上."""
    village = village_in(sanmin, "计数街道")
    cadre = sanmin.client_as("village_cadre", village)
    keeper = sanmin.client_as("tea_house_keeper", village)
    session = held(cadre, sanmin, village)
    for n in range(7):
        record(keeper, session, summary=f"问题{n}")
    elsewhere = village_in(sanmin, "别处街道")
    other = held(sanmin.client_as("village_cadre", elsewhere), sanmin, elsewhere)
    record(sanmin.client_as("tea_house_keeper", elsewhere), other, summary="别处的问题")

    shown = panel(keeper.get("/admin").text, "民情茶馆")
    assert shown is not None and "7 个问题待答复或转办" in shown
    assert re.findall(r"问题(\d)（", shown) == [str(n) for n in range(6)]
    assert "本场沟通日" in shown and "别处的问题" not in shown
    monkeypatch.setattr(workbench, "COUNT_LIMIT", 3)
    cut = panel(keeper.get("/admin").text, "民情茶馆")
    assert cut is not None and "3 个以上问题待答复或转办" in cut
    assert re.findall(r"问题(\d)（", cut) == ["0", "1", "2"]
