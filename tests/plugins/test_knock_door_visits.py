"""敲门嫂 visits: the 入户问需记录 through the API and the page, its validation, the tickets
its needs and abnormal safety observations become, missed visits, review and the metrics.
Helpers and the plugin's other tests: ``test_knock_door.py``.

These tests live in the real present (this week, last week, the week before): events and
the core's ticket clocks run on real time, so the worker passes that deliver events see the
same dates as the plans.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from core import ArchivePerson, Event, hookimpl, metric_value, utcnow
from core.testing import Sanmin
from plugins.knock_door import workbench
from plugins.knock_door.models import Need, Plan, Visit
from tests.helpers import manifest
from tests.plugins.test_knock_door import (
    API,
    COUNTY,
    GOOD_RECORD,
    GRID,
    GRID2,
    PAGES,
    PLUGIN,
    TOWN,
    VILLAGE,
    ZONE,
    person,
    plan_now,
    plans,
    team,
    volunteer,
)

TODAY = utcnow().astimezone(ZONE).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday())
LAST_WEEK, WEEK_BEFORE = MONDAY - timedelta(days=5), MONDAY - timedelta(days=12)  # Wednesdays
NOW_RECORD = GOOD_RECORD | {"visited_on": TODAY.isoformat()}
SAFETY_ALARM = NOW_RECORD | {"safety": "异常", "safety_note": "燃气软管开裂，闻到燃气味"}


def noon(day: date) -> datetime:
    """Noon of ``day`` in Beijing time."""
    return datetime.combine(day, time(12), tzinfo=ZONE)


class Listener:
    """A plugin on everywhere that keeps the events delivered to it."""

    def __init__(self) -> None:
        self.PLUGIN = manifest("kd_listener", default_enabled=True)
        self.events: list[Event] = []

    @hookimpl
    def on_event(self, event: Event, kernel: object) -> None:
        self.events.append(event)


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


@pytest.fixture
def listener() -> Listener:
    return Listener()


@pytest.fixture
def sanmin_extra_plugins(listener: Listener) -> list[tuple[str, Any]]:
    return [("kd_listener", listener)]


@pytest.fixture
def visiting(sanmin: Sanmin) -> tuple[Any, int, int]:
    """A 敲门嫂 of GRID in its team, a red elder there and this week's plan: the client,
    the plan's id and the elder's id."""
    client = volunteer(sanmin)
    team(sanmin, GRID, client)
    elder = person(sanmin, GRID, "E1", "red")
    plan_now(sanmin, utcnow())
    return client, plans(sanmin)[0].id or 0, elder


def deliver(sanmin: Sanmin) -> None:
    """A worker pass now: the events committed so far reach their plugins, and the jobs of
    this hour run."""
    sanmin.worker().run_once()


def record(client: Any, plan_id: int, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(f"{API}/plans/{plan_id}/records", json={"data": data}, **kwargs)


def tickets_of(client: Any) -> dict[int, dict[str, Any]]:
    answer = client.get("/api/v1/tickets")
    assert answer.status_code == 200, answer.text
    return {t["id"]: t for t in answer.json()}


def take(client: Any, ticket_id: int, *steps: tuple[str, dict[str, Any]]) -> None:
    """Take each ticket transition in turn, with the version just seen."""
    for name, inputs in steps:
        version = client.get(f"/api/v1/tickets/{ticket_id}").json()["version"]
        moved = client.post(
            f"/api/v1/tickets/{ticket_id}/transitions/{name}",
            json={"version": version, "inputs": inputs},
        )
        assert moved.status_code == 200, moved.text


RESOLVE = (("accept", {}), ("sign", {}), ("resolve", {"result": "已上门处置"}))


# -- recording -----------------------------------------------------------------------------


def test_a_visit_is_recorded_once_through_the_api(sanmin: Sanmin, visiting: Any) -> None:
    client, plan_id, elder = visiting
    key = {"Idempotency-Key": "visit-e1-0305"}
    answer = record(client, plan_id, NOW_RECORD, headers=key)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["plan"]["status"], body["plan"]["status_label"]) == ("visited", "已走访")
    assert (body["visit"]["minutes"], body["visit"]["abnormal"], body["tickets"]) == (30, False, [])
    form_record = client.get(f"{API}/forms/visit/records/{body['record_id']}")
    assert form_record.status_code == 200, form_record.text
    assert form_record.json()["subject_id"] == str(elder)
    assert form_record.json()["data"]["health"] == "正常"

    again = record(client, plan_id, NOW_RECORD, headers=key)  # a retry: the same visit
    assert (again.status_code, again.json()["visit"]["id"]) == (200, body["visit"]["id"])
    twice = record(client, plan_id, NOW_RECORD)  # another visit of a visited plan
    assert twice.status_code == 409
    assert [v.id for v in visits(sanmin)] == [body["visit"]["id"]]


def visits(sanmin: Sanmin) -> list[Visit]:
    with sanmin.session() as session:
        return list(session.exec(select(Visit).order_by(col(Visit.id))))


def test_the_visit_shows_in_the_household_file(sanmin: Sanmin, visiting: Any) -> None:
    client, plan_id, _ = visiting
    visit_id = record(client, plan_id, NOW_RECORD).json()["visit"]["id"]
    household = plans(sanmin)[0].household_id
    worker = sanmin.client_as("grid_worker", GRID)
    shown = worker.get(f"/api/v1/archives/households/{household}").json()
    (section,) = [s for s in shown["sections"] if s["plugin"] == PLUGIN]
    (entry,) = section["entries"]
    assert section["title"] == "敲门嫂走访"
    assert entry["href"] == f"{PAGES}/visits/{visit_id}" and "时长 30 分钟" in entry["text"]


def test_the_week_list_and_the_record_form_pages(sanmin: Sanmin, visiting: Any) -> None:
    client, plan_id, _ = visiting
    week = client.get(f"{PAGES}/week")
    assert week.status_code == 200
    assert f'data-plan="{plan_id}"' in week.text and "老人E1" in week.text
    assert f"{PAGES}/plans/{plan_id}/record" in week.text
    form = client.get(f"{PAGES}/plans/{plan_id}/record")
    assert form.status_code == 200
    for label in ("健康状况", "精神状态", "居家安全", "卫生状况", "居住环境与邻里", "发现的需求"):
        assert label in form.text

    posted = client.post(
        f"{PAGES}/plans/{plan_id}/record",
        data={**NOW_RECORD, "needs": ["代购代办"], "need_note": "代购降压药", "transfer": "true"},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    shown = client.get(posted.headers["location"])
    assert "敲门问需：代购代办" in shown.text and "已转办" in shown.text
    assert "已走访" in client.get(f"{PAGES}/week").text


def test_the_workbench_shows_this_week_s_visits_where_the_practice_is_on(
    sanmin: Sanmin, visiting: Any
) -> None:
    client, plan_id, _ = visiting
    page = client.get("/admin")
    assert page.status_code == 200
    assert "本周走访" in page.text and "1 户待走访" in page.text
    assert f'href="{PAGES}/plans/{plan_id}/record?unit={GRID}"' in page.text
    assert "老人E1" in page.text and f'href="{PAGES}/week?unit=' in page.text
    assert record(client, plan_id, NOW_RECORD).status_code == 201
    assert "本周走访已全部完成。" in client.get("/admin").text
    sanmin.disable(PLUGIN, TOWN)
    assert "本周走访" not in client.get("/admin").text


def test_the_workbench_counts_the_week_s_open_plans_overdue_first_within_the_cut(
    sanmin: Sanmin, visiting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """本周走访 counts the open plans of this week's list and shows them overdue first, then
    by due day; a plan visited this week stays on the list but not on the panel, another
    grid's never; past :data:`workbench.READ` plans of the list it counts those it read
    and says 以上."""
    client, plan_id, _ = visiting
    person(sanmin, GRID, "E2", "red")
    person(sanmin, GRID, "E3", "red")
    person(sanmin, GRID2, "F1", "red")
    plan_now(sanmin, utcnow())
    by_name = {}
    with sanmin.session() as session:
        for plan in session.exec(select(Plan)):
            name = session.get(ArchivePerson, plan.person_id).name  # type: ignore[union-attr]
            by_name[name] = plan
            if name == "老人E3":
                plan.status = "overdue"
                session.add(plan)
    assert record(client, plan_id, NOW_RECORD).status_code == 201  # 老人E1 visited

    def panel() -> str:
        found = re.search(r"<h2[^>]*>本周走访(.*?)</section>", client.get("/admin").text, re.S)
        assert found is not None
        return found.group(1)

    shown = panel()
    assert "2 户待走访" in shown and "老人E1" not in shown and "老人F1" not in shown
    assert shown.index("老人E3") < shown.index("老人E2")
    assert shown.count("已逾期 · ") == 1 and shown.count('class="urgent"') == 1
    assert f"/plans/{by_name['老人E3'].id}/record?unit={GRID}" in shown
    # the list cut at two plans: 老人E3 (overdue), then 老人E1 (visited, the lower id)
    monkeypatch.setattr(workbench, "READ", 2)
    cut = panel()
    assert "1 户以上待走访" in cut and "老人E3" in cut and "老人E2" not in cut


def test_the_workbench_shows_a_volunteer_only_her_plans_with_one_statement_reused(
    sanmin: Sanmin, visiting: Any
) -> None:
    """A 敲门嫂 (``knock_door.visit`` only) sees on 本周走访 the plans assigned to her, not
    another volunteer's in her grid; a grid worker (``knock_door.read`` there too) sees both.
    Each shape of the panel's statement is built once: further requests reuse it."""
    client, _, _ = visiting
    person(sanmin, GRID, "E2", "red")
    plan_now(sanmin, utcnow())
    with sanmin.session() as session:
        for plan in session.exec(select(Plan)):
            if session.get(ArchivePerson, plan.person_id).name == "老人E2":  # type: ignore[union-attr]
                plan.volunteer = "someone.else"
                session.add(plan)

    def panel(page: Any) -> str:
        found = re.search(r"<h2[^>]*>本周走访(.*?)</section>", page.get("/admin").text, re.S)
        assert found is not None
        return found.group(1)

    mine = panel(client)
    assert "1 户待走访" in mine and "老人E1" in mine and "老人E2" not in mine
    worker = sanmin.client_as("grid_worker", GRID)
    both = panel(worker)
    assert "2 户待走访" in both and "老人E1" in both and "老人E2" in both
    built = workbench.week_statement.cache_info().currsize
    assert panel(client) == mine and panel(worker) == both
    assert workbench.week_statement.cache_info().currsize == built


def test_a_bad_record_is_422_naming_the_field_and_writes_nothing(
    sanmin: Sanmin, visiting: Any
) -> None:
    client, plan_id, _ = visiting
    before = (MONDAY - timedelta(days=1)).isoformat()
    cases = {
        "minutes": NOW_RECORD | {"minutes": 0},
        "safety_note": NOW_RECORD | {"safety": "异常"},  # 异常 must be explained
        "transfer": NOW_RECORD | {"transfer": True},  # nothing to transfer
        "method": NOW_RECORD | {"method": "飞鸽传书"},
        "visited_on": NOW_RECORD | {"visited_on": before},  # before the plan's week
        "health": {k: v for k, v in NOW_RECORD.items() if k != "health"},
        "mood_score": NOW_RECORD | {"mood_score": 3},
    }
    for field, data in cases.items():
        answer = record(client, plan_id, data)
        assert answer.status_code == 422, (field, answer.text)
        locs = [e["loc"] for e in answer.json()["detail"]]
        assert ["body", "data", field] in locs, (field, locs)
    page = client.post(f"{PAGES}/plans/{plan_id}/record", data={**NOW_RECORD, "minutes": "-5"})
    assert page.status_code == 422
    assert 'id="f-minutes-error"' in page.text and "数值过小" in page.text
    assert visits(sanmin) == [] and plans(sanmin)[0].status == "planned"


def test_records_are_not_taken_through_the_generic_form_route(
    sanmin: Sanmin, visiting: Any
) -> None:
    client, _, elder = visiting
    body = {"subject": str(elder), "data": NOW_RECORD}
    assert client.post(f"{API}/forms/visit/records", json=body).status_code == 403
    assert visits(sanmin) == []


# -- tickets -------------------------------------------------------------------------------


def test_an_abnormal_safety_observation_opens_an_urgent_ticket_in_the_grid_workers_inbox(
    sanmin: Sanmin, visiting: Any
) -> None:
    client, plan_id, _ = visiting
    answer = record(client, plan_id, SAFETY_ALARM)
    assert answer.status_code == 201, answer.text
    (ticket_id,) = answer.json()["tickets"]

    inbox = tickets_of(sanmin.client_as("grid_worker", GRID))
    assert ticket_id in inbox
    ticket = inbox[ticket_id]
    assert (ticket["priority"], ticket["channel"], ticket["type"]) == (
        "urgent",
        "door_knock",
        "knock_door_need",
    )
    assert (ticket["unit_code"], ticket["state"]) == (GRID, "submitted")
    assert ticket_id not in tickets_of(sanmin.client_as("grid_worker", GRID2))
    detail = sanmin.client.get(f"/api/v1/tickets/{ticket_id}").json()
    assert "燃气软管开裂" in detail["description"]
    assert detail["extra"]["need_kind"] == "安全隐患"
    (need,) = answer.json()["visit"]["needs"]
    assert (need["urgent"], need["state"], need["ticket_id"]) == (True, "transferred", ticket_id)


def test_needs_become_tickets_and_come_back_solved(sanmin: Sanmin, visiting: Any) -> None:
    client, plan_id, _ = visiting
    data = NOW_RECORD | {"needs": ["维修", "就医陪同"], "need_note": "水龙头漏水；周五复查"}
    kept = record(client, plan_id, data | {"transfer": False})  # found, not transferred
    assert kept.status_code == 201 and kept.json()["tickets"] == []
    assert [n["state"] for n in kept.json()["visit"]["needs"]] == ["found", "found"]

    second = person(sanmin, GRID, "E2", "red")
    plan_now(sanmin, utcnow())
    other = next(p for p in plans(sanmin) if p.person_id == second)
    answer = record(client, other.id or 0, data | {"transfer": True})
    repair, escort = answer.json()["tickets"]
    worker = sanmin.client_as("grid_worker", GRID)
    assert {repair, escort} <= set(tickets_of(worker))
    assert tickets_of(worker)[repair]["priority"] == "normal"

    take(worker, repair, *RESOLVE)
    deliver(sanmin)  # the ticket's events reach the plugin
    visit_id = answer.json()["visit"]["id"]
    needs = client.get(f"{API}/records/{visit_id}").json()["needs"]
    assert [(n["kind"], n["state"], n["ticket_state"]) for n in needs] == [
        ("维修", "solved", "resolved"),
        ("就医陪同", "transferred", "submitted"),
    ]


def test_tickets_are_filed_again_when_the_first_attempt_failed(
    sanmin: Sanmin, visiting: Any
) -> None:
    client, plan_id, _ = visiting
    data = SAFETY_ALARM
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("plugins.knock_door.needs.create_ticket", failing)
        answer = record(client, plan_id, data)
    assert answer.status_code == 201 and answer.json()["tickets"] == []  # the visit is kept
    deliver(sanmin)  # knock_door.visit_recorded: the reaction files it
    deliver(sanmin)  # delivered once: nothing more
    with sanmin.session() as session:
        (need,) = session.exec(select(Need)).all()
    assert need.ticket_id is not None
    assert list(tickets_of(sanmin.client_as("grid_worker", GRID))) == [need.ticket_id]


def failing(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the ticket service is unavailable")


# -- missed visits and review --------------------------------------------------------------


def test_a_missed_visit_becomes_overdue_with_an_event_and_a_mark(
    sanmin: Sanmin, listener: Listener
) -> None:
    client = volunteer(sanmin)
    team(sanmin, GRID, client)
    person(sanmin, GRID, "O1", "red")
    plan_now(sanmin, noon(LAST_WEEK))
    (missed,) = plans(sanmin)
    sunday = datetime.combine(MONDAY - timedelta(days=1), time(23), tzinfo=ZONE)
    plan_now(sanmin, sunday)  # its last day: not late yet
    assert plans(sanmin)[0].status == "planned"

    deliver(sanmin)  # this week's jobs: last week's visit was missed
    late = next(p for p in plans(sanmin) if p.id == missed.id)
    assert (late.status, late.overdue_at is not None) == ("overdue", True)
    deliver(sanmin)  # the alert reaches the plugins enabled there
    alerts = [e for e in listener.events if e.name == "knock_door.visit_overdue"]
    assert [(e.payload["plan_id"], e.unit_code) for e in alerts] == [(missed.id, GRID)]

    shown = client.get(f"{API}/plans/{missed.id}").json()
    assert (shown["overdue"], shown["status_label"]) == (True, "逾期未访")
    week = client.get(f"{PAGES}/week").text
    assert f'class="overdue" data-plan="{missed.id}"' in week
    overview = sanmin.client_as("village_cadre", VILLAGE).get(f"{PAGES}/teams").text
    assert f'data-plan="{missed.id}"' in overview and "逾期未访（1）" in overview

    visited = record(client, missed.id or 0, NOW_RECORD)
    assert visited.status_code == 201  # visited late: still a miss, counted as 逾期
    assert (visited.json()["plan"]["status"], visited.json()["plan"]["was_overdue"]) == (
        "visited",
        True,
    )
    deliver(sanmin)
    assert [e.payload["plan_id"] for e in listener.events if e.name.endswith("overdue")] == [
        missed.id
    ]


def test_a_review_with_a_stale_version_is_409(sanmin: Sanmin, visiting: Any) -> None:
    client, plan_id, _ = visiting
    worker = sanmin.client_as("grid_worker", GRID)
    early = worker.post(f"{API}/plans/{plan_id}/review", json={"version": 1})
    assert early.status_code == 409  # not visited yet
    version = record(client, plan_id, NOW_RECORD).json()["plan"]["version"]
    assert (
        client.post(f"{API}/plans/{plan_id}/review", json={"version": version}).status_code == 403
    )
    reviewed = worker.post(f"{API}/plans/{plan_id}/review", json={"version": version})
    assert (reviewed.status_code, reviewed.json()["status"]) == (200, "reviewed")
    assert (
        worker.post(f"{API}/plans/{plan_id}/review", json={"version": version}).status_code == 409
    )


# -- metrics -------------------------------------------------------------------------------


def test_metrics_are_exact_and_roll_up_from_grid_to_county(sanmin: Sanmin) -> None:
    a = person(sanmin, GRID, "M1", "red")  # visited in the first week
    d = person(sanmin, GRID, "M2", "red")  # visited in the second week only
    person(sanmin, GRID2, "M3", "red")  # never visited
    recorder = sanmin.client_as("grid_worker", VILLAGE)
    plan_now(sanmin, noon(WEEK_BEFORE))
    first_week = {p.person_id: p.id for p in plans(sanmin)}
    needs = {"needs": ["生活照料"], "need_note": "需要助浴", "transfer": True}
    first = record(
        recorder,
        first_week[a] or 0,
        SAFETY_ALARM | needs | {"minutes": 45, "visited_on": WEEK_BEFORE.isoformat()},
    )
    assert first.status_code == 201, first.text
    assert len(first.json()["tickets"]) == 2
    plan_now(sanmin, noon(LAST_WEEK))  # the second week; M2's and M3's first visits missed
    second_week = {p.person_id: p.id for p in plans(sanmin) if p.id not in first_week.values()}
    on_time = NOW_RECORD | {"visited_on": LAST_WEEK.isoformat()}
    assert record(recorder, second_week[d] or 0, on_time).status_code == 201
    take(recorder, first.json()["tickets"][0], *RESOLVE)
    deliver(sanmin)  # now: the second week's misses are flagged, the ticket's events arrive

    def value(metric: str, unit: str, start: date, end: date) -> Any:
        return metric_value(sanmin.engine, sanmin.kernel, PLUGIN, metric, unit, start, end)

    two_weeks = (MONDAY - timedelta(days=14), MONDAY - timedelta(days=1))
    expected = {  # plans due in the two weeks: M1 and M2 twice in GRID, M3 twice in GRID2
        GRID: {"due": 4, "visited": 2, "overdue": 2, "visit_rate": 50.0},
        GRID2: {"due": 2, "visited": 0, "overdue": 2, "visit_rate": 0.0},
    }
    for unit in (VILLAGE, TOWN, COUNTY):
        expected[unit] = {"due": 6, "visited": 2, "overdue": 4, "visit_rate": 33.333333}
    for unit, figures in expected.items():
        found = {metric: value(metric, unit, *two_weeks) for metric in figures}
        assert found == figures, unit
    assert value("due", VILLAGE, two_weeks[0], two_weeks[0] + timedelta(days=6)) == 3
    since = (two_weeks[0], TODAY)  # needs count when found and solved: today
    for unit, hours, found, solved in ((GRID, 1.25, 2, 1), (GRID2, 0, 0, 0), (COUNTY, 1.25, 2, 1)):
        assert value("volunteer_hours", unit, *since) == hours, unit
        assert value("needs_found", unit, *since) == found, unit
        assert value("needs_transferred", unit, *since) == found, unit
        assert value("needs_solved", unit, *since) == solved, unit
    api = sanmin.client.get(
        f"/api/v1/metrics/{PLUGIN}/visit_rate",
        params={"unit": COUNTY, "start": two_weeks[0], "end": two_weeks[1]},
    )
    assert (api.json()["title"], api.json()["value"]) == ("月探访率", 33.333333)
