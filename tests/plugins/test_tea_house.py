"""民情茶馆 (``tea_house``): sessions announced at least three days ahead, issues answered on
the spot or transferred to tickets, results reported back at the next session, the metrics,
scope, and the township switch.

The service's clock (``kernel.workflows.clock``) is fixed in March 2030, after the real
time: the tickets' clocks then never run out while a test runs, and the worker (which
delivers the ticket events that the practice follows) sees nothing overdue.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core import PluginDisabled, Unit, get_ticket, metric_value, transition_ticket
from core.audit.models import AuditEntry
from core.testing import Sanmin

PLUGIN = "tea_house"
API = f"/api/v1/p/{PLUGIN}"
PAGES = f"/p/{PLUGIN}"
ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2030, 3, 2)
FIRST = date(2030, 3, 10)  # the fixed day (10th of the month)
SECOND = date(2030, 4, 10)
THIRD = date(2030, 5, 10)
RESOLVE = (("accept", {}), ("sign", {}), ("resolve", {"result": "已修复"}))
ISSUE = {
    "category": "道路",
    "summary": "村口路灯不亮",
    "description": "村口到小学的路灯坏了三盏，晚上接孩子很黑",
    "reporter_name": "王建国",
    "reporter_phone": "13805701234",
}


@pytest.fixture
def sanmin_plugins() -> list[str]:
    """Only this plugin (and the core's)."""
    return [PLUGIN]


def at(day: date, hour: int = 9) -> datetime:
    """A moment of a local day."""
    return datetime.combine(day, time(hour), ZONE)


def set_clock(sanmin: Sanmin, moment: datetime) -> None:
    """The services' "now"."""
    sanmin.kernel.workflows.clock = lambda: moment


def village_in(sanmin: Sanmin, name: str | None = None) -> Unit:
    """The first village of a new township (where the practice is on by default)."""
    township = sanmin.township(name)
    return sanmin.unit(township.code[:9] + "001")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def announce(client: TestClient, village: Unit, held_on: date, **extra: Any) -> dict:
    body = {"held_on": held_on.isoformat(), "start_time": "09:00", "venue": "文化礼堂", **extra}
    return ok(client.post(f"{API}/sessions", params={"unit": village.code}, json=body), 201)


def step(client: TestClient, session: dict, name: str, **body: Any) -> dict:
    url = f"{API}/sessions/{session['id']}/{name}"
    answer = client.post(url, params={"unit": session["unit_code"]}, json=body)
    return ok(answer)


def held(client: TestClient, sanmin: Sanmin, village: Unit, day: date = FIRST) -> dict:
    """A session announced well ahead, then opened on its day (the clock moves there)."""
    set_clock(sanmin, at(day - timedelta(days=8)))
    session = announce(client, village, day)
    set_clock(sanmin, at(day))
    return step(client, session, "open", version=session["version"])


def close(client: TestClient, session: dict, **body: Any) -> dict:
    version = ok(client.get(f"{API}/sessions/{session['id']}"))["version"]
    return step(client, session, "close", version=version, **{"attendance": 30, **body})


def record(client: TestClient, session: dict, **fields: Any) -> dict:
    url = f"{API}/sessions/{session['id']}/issues"
    answer = client.post(url, params={"unit": session["unit_code"]}, json={**ISSUE, **fields})
    return ok(answer, 201)


def transfer(client: TestClient, issue: dict, promised_by: date, **extra: Any) -> dict:
    body = {"version": issue["version"], "promised_by": promised_by.isoformat()}
    body |= {"responsible": "村委会主任", **extra}
    return ok(client.post(f"{API}/issues/{issue['id']}/transfer", json=body))


def resolve(sanmin: Sanmin, village: Unit, ticket_id: int) -> None:
    """The village's cadre takes the ticket through the core's service to 已办结."""
    actor = sanmin.actor("village_cadre", village)
    with sanmin.session() as db:
        ticket = get_ticket(db, sanmin.kernel, actor, ticket_id)
        for name, inputs in RESOLVE:
            ticket = transition_ticket(
                db, sanmin.kernel, actor, ticket, name, ticket.version, inputs
            )


def report_back(client: TestClient, unit: Unit | str, session: dict) -> list[dict]:
    code = unit if isinstance(unit, str) else unit.code
    params = {"unit": code, "session": session["id"]}
    return ok(client.get(f"{API}/report-back", params=params))["report_back"]


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


# -- the township switch -------------------------------------------------------------------


def test_disabled_in_one_township_absent_there_and_working_in_another(sanmin: Sanmin) -> None:
    on, off = village_in(sanmin, "开启街道"), village_in(sanmin, "关闭街道")
    sanmin.disable(PLUGIN, off.code[:9] + "000")
    set_clock(sanmin, at(TODAY))

    answer = sanmin.client.post(
        f"{API}/sessions",
        params={"unit": off.code},
        json={"held_on": FIRST.isoformat(), "start_time": "09:00", "venue": "礼堂"},
    )
    assert answer.status_code == 404
    assert (answer.json()["plugin"], answer.json()["unit"]) == (PLUGIN, off.code[:9] + "000")
    html = {"accept": "text/html"}
    page = sanmin.client.get(f"{PAGES}/", params={"unit": off.code}, headers=html)
    assert page.status_code == 404 and "民情茶馆" in page.text and "关闭街道" in page.text
    for path in (f"{API}/sessions", f"{API}/report-back", "/api/v1/metrics/tea_house/sessions"):
        assert sanmin.client.get(path, params={"unit": off.code}).status_code == 404, path
    home = sanmin.client.get("/", params={"unit": off.code}).text
    assert f"{PAGES}/" not in home and "结果通报" not in home
    types = ok(sanmin.client.get("/api/v1/tickets/types", params={"unit": off.code}))
    assert "tea_house_matter" not in {t["code"] for t in types}

    cadre = sanmin.client_as("village_cadre", on)
    session = announce(cadre, on, FIRST)
    assert session["status"] == "announced" and session["unit_code"] == on.code
    assert cadre.get(f"{PAGES}/", params={"unit": on.code}).status_code == 200
    menu = cadre.get("/", params={"unit": on.code}).text
    assert f"{PAGES}/?unit={on.code}" in menu and f"{PAGES}/sessions/new?unit={on.code}" in menu
    types = ok(sanmin.client.get("/api/v1/tickets/types", params={"unit": on.code}))
    assert "tea_house_matter" in {t["code"] for t in types}


# -- the 3-day notice rule ------------------------------------------------------------------


def test_a_session_must_be_announced_at_least_three_days_ahead(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    set_clock(sanmin, at(TODAY, 23))  # late in the day: still TODAY locally
    for too_soon in (TODAY, TODAY + timedelta(days=2)):
        body = {"held_on": too_soon.isoformat(), "start_time": "09:00", "venue": "礼堂"}
        answer = cadre.post(f"{API}/sessions", params={"unit": village.code}, json=body)
        assert locs(answer) == [["body", "held_on"]]
        assert "至少提前 3 天公告" in answer.json()["detail"][0]["msg"]
        assert str(TODAY + timedelta(days=3)) in answer.json()["detail"][0]["msg"]
    assert ok(cadre.get(f"{API}/sessions", params={"unit": village.code}))["items"] == []

    session = announce(cadre, village, TODAY + timedelta(days=3))
    assert session["held_on"] == "2030-03-05"
    again = cadre.post(
        f"{API}/sessions",
        params={"unit": village.code},
        json={"held_on": "2030-03-05", "start_time": "10:00", "venue": "礼堂"},
    )
    assert again.status_code == 409 and "已有固定沟通日" in again.json()["detail"]
    refused = cadre.post(f"{API}/sessions/{session['id']}/open", json={"version": 1})
    assert refused.status_code == 409 and "未到沟通日" in refused.json()["detail"]


# -- the loop: record, transfer, resolve, report back ---------------------------------------


def test_a_transferred_issue_resolved_shows_resolved_in_the_next_report_back(
    sanmin: Sanmin,
) -> None:
    village = village_in(sanmin)
    grid = sanmin.unit(village.code + "001")
    cadre = sanmin.client_as("village_cadre", village)
    first = held(cadre, sanmin, village)
    issue = record(cadre, first)
    assert (issue["outcome"], issue["reporter_phone"]) == ("pending", "138****1234")
    moved = transfer(cadre, issue, FIRST + timedelta(days=10))
    assert (moved["outcome"], moved["ticket_state"]) == ("transferred", "submitted")
    ticket = ok(sanmin.client.get(f"/api/v1/tickets/{moved['ticket_id']}"))
    assert (ticket["type"], ticket["channel"], ticket["title"]) == (
        "tea_house_matter",
        "tea_house",
        "村口路灯不亮",
    )
    assert ticket["extra"] == {"category": "道路", "promised_by": "2030-03-20"}
    assert "承诺 2030-03-20 前办结" in ticket["description"]
    closed = close(cadre, first)
    assert closed["status"] == "closed" and closed["report_back"] == []

    second = announce(cadre, village, SECOND)
    [item] = report_back(cadre, village, second)
    assert (item["issue_id"], item["state"], item["result"]) == (issue["id"], "submitted", "已提交")
    assert "王建国" not in str(item) and "1380570" not in str(item)

    set_clock(sanmin, at(FIRST + timedelta(days=3)))
    resolve(sanmin, village, moved["ticket_id"])
    assert sanmin.worker().run_once().events >= 3  # the ticket's events reach the practice
    [item] = report_back(cadre, village, second)
    assert (item["state"], item["result"], item["reported"]) == ("resolved", "已办结", False)
    resident = sanmin.client_as("resident", grid)
    public = ok(resident.get(f"{API}/report-back", params={"unit": grid.code}))
    assert public["session"]["id"] == second["id"]  # the next session, by default
    assert [(i["summary"], i["result"]) for i in public["report_back"]] == [
        ("村口路灯不亮", "已办结")
    ]
    page = resident.get(f"{PAGES}/report-back", params={"unit": grid.code})
    assert "村口路灯不亮" in page.text and "已办结" in page.text and "王建国" not in page.text

    set_clock(sanmin, at(SECOND))
    step(cadre, second, "open", version=second["version"])
    settled = close(cadre, second, attendance=20)
    assert [(i["issue_id"], i["reported"]) for i in settled["report_back"]] == [(issue["id"], True)]
    third = announce(cadre, village, THIRD)
    assert report_back(cadre, village, third) == []  # reported back once, at the next session
    assert [i["result"] for i in report_back(cadre, village, second)] == ["已办结"]


def test_an_unresolved_transfer_stays_on_each_report_back_until_its_result(
    sanmin: Sanmin,
) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    first = held(cadre, sanmin, village)
    moved = transfer(cadre, record(cadre, first), FIRST + timedelta(days=5))
    answered = record(cadre, first, answer="已联系电工，明天更换")
    assert (answered["outcome"], answered["solved"]) == ("answered", True)
    close(cadre, first)
    second = held(cadre, sanmin, village, SECOND)
    [item] = report_back(cadre, village, second)
    assert (item["result"], item["overdue"]) == ("已提交", True)  # promised for 15 March
    close(cadre, second)
    third = announce(cadre, village, THIRD)
    assert [i["issue_id"] for i in report_back(cadre, village, third)] == [moved["id"]]


def test_a_session_with_an_open_issue_cannot_close_and_a_decided_one_cannot_change(
    sanmin: Sanmin,
) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    session = held(cadre, sanmin, village)
    issue = record(cadre, session)
    refused = cadre.post(
        f"{API}/sessions/{session['id']}/close", json={"version": 2, "attendance": 10}
    )
    assert refused.status_code == 409 and "尚有 1 个问题" in refused.json()["detail"]
    url = f"{API}/issues/{issue['id']}/answer"
    ok(cadre.post(url, json={"version": 1, "answer": "当场说明了维修计划"}))
    stale = cadre.post(url, json={"version": 1, "answer": "再答一次"})
    assert stale.status_code == 409
    again = cadre.post(url, json={"version": 2, "answer": "再答一次"})
    assert again.status_code == 409 and "当场答复" in again.json()["detail"]
    assert close(cadre, session)["status"] == "closed"
    late = cadre.post(f"{API}/sessions/{session['id']}/issues", json=ISSUE)
    assert late.status_code == 409 and "已结束" in late.json()["detail"]


def test_a_retried_issue_is_recorded_once(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    session = held(cadre, sanmin, village)
    url = f"{API}/sessions/{session['id']}/issues"
    key = {"Idempotency-Key": "form-1"}
    first = cadre.post(url, json=ISSUE, headers=key)
    again = cadre.post(url, json=ISSUE, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    detail = ok(cadre.get(f"{API}/sessions/{session['id']}"))
    assert len(detail["issues"]) == 1


def test_the_duty_roster_is_signed_by_the_practice_roles_only(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    set_clock(sanmin, at(TODAY))
    session = announce(cadre, village, FIRST)
    keeper = sanmin.client_as("tea_house_keeper", village, "keeper-li")
    url = f"{API}/sessions/{session['id']}/duty"
    assert keeper.post(url).status_code == 201
    assert keeper.post(url).status_code == 200  # signing twice keeps one entry
    refused = cadre.post(url)
    assert refused.status_code == 403 and "馆长、馆员" in refused.json()["detail"]
    roster = ok(cadre.get(f"{API}/sessions/{session['id']}"))["roster"]
    assert [(d["name"], d["role_label"]) for d in roster] == [("keeper-li", "民情馆员")]
    # a keeper records issues, but answering and transferring are for cadres and the head
    set_clock(sanmin, at(FIRST))
    step(cadre, session, "open", version=session["version"])
    issue = record(keeper, session)
    answer = keeper.post(f"{API}/issues/{issue['id']}/answer", json={"version": 1, "answer": "好"})
    assert answer.status_code == 403 and "tea_house.respond" in answer.json()["detail"]
    keeper_answers = keeper.post(
        f"{API}/sessions/{session['id']}/issues", json={**ISSUE, "answer": "当场答复"}
    )
    assert keeper_answers.status_code == 403


def test_a_transfer_may_name_another_ticket_type_with_its_fields(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    session = held(cadre, sanmin, village)
    issue = record(cadre, session)
    moved = transfer(
        cadre,
        issue,
        FIRST + timedelta(days=3),
        ticket_type="public_repair",
        extra={"facility": "路灯"},
        priority="urgent",
    )
    ticket = ok(sanmin.client.get(f"/api/v1/tickets/{moved['ticket_id']}"))
    assert (ticket["type"], ticket["priority"], ticket["extra"]["facility"]) == (
        "public_repair",
        "urgent",
        "路灯",
    )


# -- validation: 422 naming the field -------------------------------------------------------


def test_bad_input_is_a_422_naming_the_field(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    unit = {"unit": village.code}
    set_clock(sanmin, at(TODAY))
    good = {"held_on": FIRST.isoformat(), "start_time": "09:00", "venue": "礼堂"}
    for body, loc in (
        ({**good, "venue": "   "}, ["body", "venue"]),
        ({**good, "start_time": "25:00"}, ["body", "start_time"]),
        ({**good, "held_on": "2030-02-30"}, ["body", "held_on"]),
        ({**good, "kind": "party"}, ["body", "kind"]),
        ({**good, "topics": "x" * 501}, ["body", "topics"]),
        ({**good, "venue": "礼\x00堂"}, ["body", "venue"]),
        ({**good, "colour": "red"}, ["body", "colour"]),
    ):
        assert loc in locs(cadre.post(f"{API}/sessions", params=unit, json=body)), body
    township = village.code[:9] + "000"
    assert locs(sanmin.client.post(f"{API}/sessions", params={"unit": township}, json=good)) == [
        ["query", "unit"]
    ]
    assert locs(cadre.get(f"{API}/report-back", params={"unit": village.code, "session": 0})) == [
        ["query", "session"]
    ]
    bad_schedule = {"day_of_month": 31, "start_time": "09:00", "venue": "礼堂"}
    assert locs(cadre.put(f"{API}/schedule", params=unit, json=bad_schedule)) == [
        ["body", "day_of_month"]
    ]

    session = held(cadre, sanmin, village)
    issues = f"{API}/sessions/{session['id']}/issues"
    for fields, loc in (
        ({"category": "其他"}, ["body", "category"]),
        ({"summary": ""}, ["body", "summary"]),
        ({"reporter_phone": "138-0570"}, ["body", "reporter_phone"]),
    ):
        assert locs(cadre.post(issues, json={**ISSUE, **fields})) == [loc], fields
    issue = record(cadre, session)
    url = f"{API}/issues/{issue['id']}/transfer"
    base = {"version": 1, "promised_by": "2030-03-20", "responsible": "主任"}
    for body, loc in (
        ({**base, "promised_by": "2030-03-09"}, ["body", "promised_by"]),
        ({**base, "promised_by": "2030-12-31"}, ["body", "promised_by"]),
        ({**base, "responsible": ""}, ["body", "responsible"]),
        ({**base, "ticket_type": "no_such_type"}, ["body", "ticket_type"]),
        ({**base, "ticket_type": "public_repair"}, ["body", "extra", "facility"]),
        ({**base, "priority": "now"}, ["body", "priority"]),
    ):
        assert locs(cadre.post(url, json=body)) == [loc], body
    after = ok(cadre.get(f"{API}/sessions/{session['id']}"))["issues"][0]
    assert (after["outcome"], after["version"], after["ticket_id"]) == ("pending", 1, None)


# -- scope ----------------------------------------------------------------------------------

ROUTES = {
    f"{API}/schedules",
    f"{API}/schedule",
    f"{API}/sessions",
    f"{API}/sessions/{{session_id}}",
    f"{API}/sessions/{{session_id}}/open",
    f"{API}/sessions/{{session_id}}/close",
    f"{API}/sessions/{{session_id}}/cancel",
    f"{API}/sessions/{{session_id}}/duty",
    f"{API}/sessions/{{session_id}}/issues",
    f"{API}/issues/{{issue_id}}/answer",
    f"{API}/issues/{{issue_id}}/transfer",
    f"{API}/notices",
    f"{API}/report-back",
    f"{PAGES}/",
    f"{PAGES}/sessions/new",
    f"{PAGES}/sessions/{{session_id}}",
    f"{PAGES}/sessions/{{session_id}}/open",
    f"{PAGES}/sessions/{{session_id}}/close",
    f"{PAGES}/sessions/{{session_id}}/cancel",
    f"{PAGES}/sessions/{{session_id}}/duty",
    f"{PAGES}/sessions/{{session_id}}/issues",
    f"{PAGES}/issues/{{issue_id}}/answer",
    f"{PAGES}/issues/{{issue_id}}/transfer",
    f"{PAGES}/report-back",
    f"{PAGES}/schedule",
}
# Every route of the practice with its scope case (tests/test_scope_everywhere.py COVERED).
SCOPED_PATHS = ROUTES
HTML = {"accept": "text/html"}
# (method, url, role, the session's state before, request arguments); {s} the session's id,
# {i} a pending issue's id, {v} the inside village. Without a unit, the actor's home unit.
SCOPE_CASES = [
    ("GET", f"{API}/schedules?unit={{v}}", "village_cadre", "announced", {}),
    (
        "PUT",
        f"{API}/schedule?unit={{v}}",
        "village_cadre",
        "announced",
        {"json": {"day_of_month": 10, "start_time": "09:00", "venue": "礼堂"}},
    ),
    ("GET", f"{API}/sessions?unit={{v}}", "village_cadre", "announced", {}),
    (
        "POST",
        f"{API}/sessions?unit={{v}}",
        "village_cadre",
        "announced",
        {"json": {"held_on": "2030-03-20", "start_time": "09:00", "venue": "礼堂"}},
    ),
    ("GET", f"{API}/sessions/{{s}}", "village_cadre", "announced", {}),
    ("POST", f"{API}/sessions/{{s}}/open", "village_cadre", "announced", {"json": {"version": 1}}),
    (
        "POST",
        f"{API}/sessions/{{s}}/close",
        "village_cadre",
        "answered",
        {"json": {"version": 2, "attendance": 3}},
    ),
    (
        "POST",
        f"{API}/sessions/{{s}}/cancel",
        "village_cadre",
        "announced",
        {"json": {"version": 1, "reason": "台风"}},
    ),
    ("POST", f"{API}/sessions/{{s}}/duty", "tea_house_keeper", "announced", {}),
    ("POST", f"{API}/sessions/{{s}}/issues", "village_cadre", "held", {"json": ISSUE}),
    (
        "POST",
        f"{API}/issues/{{i}}/answer",
        "village_cadre",
        "pending",
        {"json": {"version": 1, "answer": "已答复"}},
    ),
    (
        "POST",
        f"{API}/issues/{{i}}/transfer",
        "village_cadre",
        "pending",
        {"json": {"version": 1, "promised_by": "2030-03-20", "responsible": "主任"}},
    ),
    ("GET", f"{API}/notices?unit={{v}}", "resident", "announced", {}),
    ("GET", f"{API}/report-back?unit={{v}}", "resident", "announced", {}),
    ("GET", f"{PAGES}/?unit={{v}}", "resident", "announced", {"headers": HTML}),
    ("GET", f"{PAGES}/sessions/new?unit={{v}}", "village_cadre", "announced", {"headers": HTML}),
    (
        "POST",
        f"{PAGES}/sessions/new?unit={{v}}",
        "village_cadre",
        "announced",
        {"headers": HTML, "data": {"held_on": "2030-03-20", "start_time": "09:00", "venue": "堂"}},
    ),
    ("GET", f"{PAGES}/sessions/{{s}}", "village_cadre", "announced", {"headers": HTML}),
    (
        "POST",
        f"{PAGES}/sessions/{{s}}/open",
        "village_cadre",
        "announced",
        {"headers": HTML, "data": {"version": "1"}},
    ),
    (
        "POST",
        f"{PAGES}/sessions/{{s}}/close",
        "village_cadre",
        "answered",
        {"headers": HTML, "data": {"version": "2", "attendance": "3"}},
    ),
    (
        "POST",
        f"{PAGES}/sessions/{{s}}/cancel",
        "village_cadre",
        "announced",
        {"headers": HTML, "data": {"version": "1", "reason": "台风"}},
    ),
    ("POST", f"{PAGES}/sessions/{{s}}/duty", "tea_house_keeper", "announced", {"headers": HTML}),
    (
        "POST",
        f"{PAGES}/sessions/{{s}}/issues",
        "village_cadre",
        "held",
        {"headers": HTML, "data": ISSUE},
    ),
    (
        "POST",
        f"{PAGES}/issues/{{i}}/answer",
        "village_cadre",
        "pending",
        {"headers": HTML, "data": {"version": "1", "answer": "已答复"}},
    ),
    (
        "POST",
        f"{PAGES}/issues/{{i}}/transfer",
        "village_cadre",
        "pending",
        {
            "headers": HTML,
            "data": {"version": "1", "promised_by": "2030-03-20", "responsible": "主任"},
        },
    ),
    ("GET", f"{PAGES}/report-back?unit={{v}}", "resident", "announced", {"headers": HTML}),
    ("GET", f"{PAGES}/schedule?unit={{v}}", "village_cadre", "announced", {"headers": HTML}),
    (
        "POST",
        f"{PAGES}/schedule?unit={{v}}",
        "village_cadre",
        "announced",
        {"headers": HTML, "data": {"day_of_month": "10", "start_time": "09:00", "venue": "堂"}},
    ),
]


def test_every_route_has_a_scope_case(sanmin: Sanmin) -> None:
    from core.testing import all_routes

    ours = {
        path
        for path, _ in all_routes(sanmin.app)
        if path.startswith((f"{API}/", f"{PAGES}/")) and "{rest" not in path
    }
    assert ours == ROUTES
    assert {urlpath(case[1]) for case in SCOPE_CASES} == ROUTES


def urlpath(url: str) -> str:
    """A case's URL as the route's path."""
    path = url.split("?")[0]
    return path.replace("{s}", "{session_id}").replace("{i}", "{issue_id}")


def test_every_route_answers_404_outside_the_scope(sanmin: Sanmin) -> None:
    """Each case on fresh villages of two townships: the inside actor gets 2xx, the one of
    the other township 404 (``sanmin.assert_scoped`` names the case that fails)."""
    for method, url, role, state, kwargs in SCOPE_CASES:
        inside, outside = village_in(sanmin), village_in(sanmin)
        cadre = sanmin.client_as("village_cadre", inside)
        set_clock(sanmin, at(TODAY))
        session = announce(cadre, inside, FIRST)
        issue_id = 0
        set_clock(sanmin, at(FIRST))
        if state != "announced":
            session = step(cadre, session, "open", version=1)
        if state in ("pending", "answered"):
            issue = record(cadre, session, answer="当场答复" if state == "answered" else None)
            issue_id = issue["id"]
        target = url.format(s=session["id"], i=issue_id, v=inside.code)
        sanmin.assert_scoped(
            method, target, role=role, inside=inside.code, outside=outside.code, **kwargs
        )


def test_staff_of_a_village_see_only_its_sessions_and_residents_only_its_notices(
    sanmin: Sanmin,
) -> None:
    one, two = village_in(sanmin), village_in(sanmin)
    neighbour = sanmin.unit(one.code[:9] + "002")  # another village of the same township
    set_clock(sanmin, at(TODAY))
    mine = announce(sanmin.client_as("village_cadre", one), one, FIRST)
    theirs = announce(sanmin.client_as("village_cadre", neighbour), neighbour, FIRST)
    announce(sanmin.client_as("village_cadre", two), two, FIRST)

    cadre = sanmin.client_as("village_cadre", one)
    listed = ok(cadre.get(f"{API}/sessions"))["items"]
    assert [s["id"] for s in listed] == [mine["id"]]
    assert cadre.get(f"{API}/sessions/{theirs['id']}").status_code == 404
    township = sanmin.client_as("township_admin", one.code[:9] + "000")
    listed = ok(township.get(f"{API}/sessions"))["items"]
    assert {s["id"] for s in listed} == {mine["id"], theirs["id"]}
    resident = sanmin.client_as("resident", one.code + "001")
    assert resident.get(f"{API}/sessions/{mine['id']}").status_code == 404  # staff only
    assert ok(resident.get(f"{API}/sessions"))["items"] == []
    notices = ok(resident.get(f"{API}/notices"))
    assert [s["id"] for s in notices["sessions"]] == [mine["id"]]
    assert "announced_by" not in notices["sessions"][0]
    other = resident.get(f"{API}/notices", params={"unit": neighbour.code})
    assert other.status_code == 404


def test_a_county_list_leaves_out_townships_where_the_practice_is_off(sanmin: Sanmin) -> None:
    on, off = village_in(sanmin), village_in(sanmin)
    set_clock(sanmin, at(TODAY))
    kept = announce(sanmin.client_as("village_cadre", on), on, FIRST)
    hidden = announce(sanmin.client_as("village_cadre", off), off, FIRST)
    sanmin.disable(PLUGIN, off.code[:9] + "000")
    county = sanmin.client_as("county_admin", "330802000000")
    assert [s["id"] for s in ok(county.get(f"{API}/sessions"))["items"]] == [kept["id"]]
    assert county.get(f"{API}/sessions/{hidden['id']}").status_code == 404


# -- metrics --------------------------------------------------------------------------------

METRICS = (
    "sessions",
    "attendance",
    "leaders",
    "issues_raised",
    "issues_answered",
    "issues_transferred",
    "issues_solved",
    "issues_reported",
    "solve_rate",
    "reported_share",
)
PERIOD = (date(2026, 1, 1), date(2030, 12, 31))  # solved_at is stamped by the event's delivery


def values(sanmin: Sanmin, unit: str) -> dict[str, Any]:
    return {
        name: metric_value(sanmin.engine, sanmin.kernel, PLUGIN, name, unit, *PERIOD)
        for name in METRICS
    }


def test_metrics_count_exactly_and_roll_up_to_the_county(sanmin: Sanmin) -> None:
    village, other = village_in(sanmin), village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    first = held(cadre, sanmin, village)
    record(cadre, first, answer="当场答复")
    later = record(cadre, first)
    ok(cadre.post(f"{API}/issues/{later['id']}/answer", json={"version": 1, "answer": "已答复"}))
    solved = transfer(cadre, record(cadre, first), FIRST + timedelta(days=5))
    transfer(cadre, record(cadre, first), FIRST + timedelta(days=5))
    close(cadre, first, attendance=30, leaders=2)
    resolve(sanmin, village, solved["ticket_id"])
    sanmin.worker().run_once()
    second = held(cadre, sanmin, village, SECOND)
    close(cadre, second, attendance=20)
    set_clock(sanmin, at(FIRST))
    announce(cadre, village, THIRD)  # announced, not held: not counted
    elsewhere = sanmin.client_as("village_cadre", other)
    away = held(elsewhere, sanmin, other)
    record(elsewhere, away, answer="当场答复")
    close(elsewhere, away, attendance=50)

    expected = {
        "sessions": 2,
        "attendance": 50,
        "leaders": 2,
        "issues_raised": 4,
        "issues_answered": 2,
        "issues_transferred": 2,
        "issues_solved": 3,
        "issues_reported": 1,
        "solve_rate": 75.0,
        "reported_share": 50.0,
    }
    township, county = village.code[:9] + "000", "330802000000"
    assert values(sanmin, village.code) == expected
    assert values(sanmin, township) == expected
    both = values(sanmin, county)
    assert (both["sessions"], both["attendance"], both["issues_raised"]) == (3, 100, 5)

    sanmin.disable(PLUGIN, other.code[:9] + "000")
    assert values(sanmin, county) == expected  # the township where it is off is left out
    with pytest.raises(PluginDisabled):
        metric_value(sanmin.engine, sanmin.kernel, PLUGIN, "sessions", other.code, *PERIOD)
    shown = ok(
        sanmin.client.get(
            "/api/v1/metrics/tea_house/issues_raised",
            params={"unit": county, "start": "2030-03-01", "end": "2030-04-30"},
        )
    )
    assert (shown["title"], shown["value"]) == ("反映问题数", 4)


# -- the announcing job ---------------------------------------------------------------------


def test_the_job_announces_each_fixed_day_in_time_and_once(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    unit = {"unit": village.code}
    body = {"day_of_month": 10, "start_time": "08:30", "venue": "沟通中心户", "lead_days": 5}
    saved = ok(cadre.put(f"{API}/schedule", params=unit, json=body))
    assert (saved["day_of_month"], saved["lead_days"]) == (10, 5)
    set_clock(sanmin, at(TODAY))  # the service's clock; the job's day is its period's

    def run(day: date) -> list[dict]:
        sanmin.worker(clock=lambda: at(day, 12)).run_once()
        return ok(cadre.get(f"{API}/sessions", params=unit))["items"]

    assert run(date(2030, 3, 4)) == []  # six days ahead: beyond the lead
    [announced] = run(date(2030, 3, 5))
    assert (announced["held_on"], announced["kind"], announced["start_time"]) == (
        "2030-03-10",
        "fixed",
        "08:30",
    )
    assert announced["venue"] == "沟通中心户"
    assert [s["id"] for s in run(date(2030, 3, 6))] == [announced["id"]]  # once
    ok(cadre.post(f"{API}/sessions/{announced['id']}/cancel", json={"version": 1, "reason": "雨"}))
    assert [s["status"] for s in run(date(2030, 3, 7))] == ["cancelled"]  # not again
    assert [s["held_on"] for s in run(date(2030, 4, 4))] == ["2030-03-10"]  # April's is 6 days off
    assert [s["held_on"] for s in run(date(2030, 4, 7))] == ["2030-04-10", "2030-03-10"]
    assert [s["held_on"] for s in run(date(2030, 4, 8))] == ["2030-04-10", "2030-03-10"]  # 2 days
    paused = ok(cadre.put(f"{API}/schedule", params=unit, json={**body, "active": False}))
    assert paused["active"] is False
    assert len(run(date(2030, 5, 6))) == 2


def test_every_change_is_audited_by_whom_and_where(sanmin: Sanmin) -> None:
    village = village_in(sanmin)
    cadre = sanmin.client_as("village_cadre", village)
    first = held(cadre, sanmin, village)  # announced, then opened on its day
    answered = record(cadre, first, answer="已当场答复")
    issue = record(cadre, first)
    transfer(cadre, issue, FIRST + timedelta(days=10))
    close(cadre, first)
    with sanmin.session() as session:
        entries = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action.startswith("tea_house."))  # type: ignore[attr-defined]
            .order_by(AuditEntry.id)
        ).all()
    assert [(e.action, e.target_type) for e in entries] == [
        ("tea_house.session.announce", "tea_house_session"),
        ("tea_house.session.open", "tea_house_session"),
        ("tea_house.issue.record", "tea_house_issue"),
        ("tea_house.issue.record", "tea_house_issue"),
        ("tea_house.issue.transfer", "tea_house_issue"),
        ("tea_house.session.close", "tea_house_session"),
    ]
    assert entries[2].target_id == str(answered["id"]) and entries[2].after == {
        "outcome": "answered"
    }
    assert entries[4].after["ticket_id"] is not None
    assert {e.unit_code for e in entries} == {village.code}
    assert len({e.actor for e in entries}) == 1  # the cadre's label, on each
