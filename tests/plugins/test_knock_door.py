"""敲门嫂 (knock_door): where it is on, its visit plans and their frequencies, scope, the demo
and its tables. Visits, tickets, overdue plans and metrics: ``test_knock_door_visits.py``.

Every test runs on SQLite and PostgreSQL. Jobs run when a test calls
``sanmin.worker(clock=…).run_once()`` at a chosen (Beijing) time: no sleeping.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from core import JobContext
from core.testing import Sanmin
from plugins.knock_door import demo
from plugins.knock_door.jobs import JOBS
from plugins.knock_door.models import Member, Need, Plan, Team, Visit

PLUGIN = "knock_door"
API = f"/api/v1/p/{PLUGIN}"
PAGES = f"/p/{PLUGIN}"
ARCHIVES = "/api/v1/archives"
COUNTY = "330802000000"
TOWN, OTHER_TOWN = "330802001000", "330802002000"
VILLAGE = "330802001001"
GRID, GRID2 = "330802001001001", "330802001001002"  # two grids of one village
OTHER_GRID = "330802002001001"  # a grid of another township
ZONE = ZoneInfo("Asia/Shanghai")
# A care profile giving each level to a person of 65 living alone (domain.md §5.2).
PROFILES = {
    "red": {"children": "none"},  # 孤寡
    "yellow": {"children": "away"},  # 子女异地，自理
    "green": {"children": "same_city"},  # 子女同城，自理
}
GOOD_RECORD = {
    "visited_on": "2026-03-05",
    "method": "上门",
    "health": "正常",
    "mood": "正常",
    "safety": "正常",
    "hygiene": "正常",
    "environment": "正常",
    "minutes": 30,
}
# Every route of the plugin; each answers 404 outside the caller's scope
# (test_every_route_answers_404_outside_the_scope).
SCOPED_PATHS = {
    f"{API}/plans",
    f"{API}/plans/{{plan_id}}",
    f"{API}/plans/{{plan_id}}/records",
    f"{API}/plans/{{plan_id}}/review",
    f"{API}/records",
    f"{API}/records/{{visit_id}}",
    f"{API}/teams",
    f"{API}/teams/{{team_id}}",
    f"{API}/teams/{{team_id}}/members",
    f"{API}/teams/{{team_id}}/members/{{username}}",
    f"{PAGES}/",
    f"{PAGES}/week",
    f"{PAGES}/plans/{{plan_id}}/record",
    f"{PAGES}/visits/{{visit_id}}",
    f"{PAGES}/teams",
    f"{PAGES}/teams/{{team_id}}/join",
}


@pytest.fixture
def sanmin_plugins() -> list[str]:
    """Load only this plugin (and Sanmin's core plugins)."""
    return [PLUGIN]


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """A moment in Beijing time."""
    return datetime(year, month, day, hour, tzinfo=ZONE)


def run_jobs(sanmin: Sanmin, when: datetime) -> None:
    """One worker pass at ``when``; the pages and API see the same clock."""
    sanmin.kernel.workflows.clock = lambda: when
    sanmin.worker(clock=lambda: when).run_once()


def plan_now(sanmin: Sanmin, when: datetime, township: str = TOWN) -> None:
    """The plugin's own jobs for one township as if run at ``when``, without the core's
    (faster than a worker pass where a test is not about the schedule)."""
    context = JobContext(
        sanmin.kernel, "knock_door.test", sanmin.kernel.scope(township).township, when, when
    )
    for job in JOBS:
        job.run(context)


def create(client: Any, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"{ARCHIVES}/{kind}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def person(
    sanmin: Sanmin, grid: str, number: str, level: str | None = None, tags: tuple[str, ...] = ()
) -> int:
    """A person of 65 living alone in ``grid`` with the care ``level`` and special-group
    ``tags`` given; the person's id."""
    sanmin.unit(grid)
    home = create(
        sanmin.client, "households", {"number": number, "address": f"{number}号", "unit_code": grid}
    )
    body = {
        "name": f"老人{number}",
        "household_id": home["id"],
        "relation": "head",
        "gender": "female",
        "birth_date": date(date.today().year - 65, 1, 1).isoformat(),
    }
    pid = create(sanmin.client, "persons", body)["id"]
    if level is not None:
        profile = {"adl": "self", "risk": False, "econ": "general"} | PROFILES[level]
        care = sanmin.client.put(f"{ARCHIVES}/care/persons/{pid}/profile", json=profile)
        assert care.json()["care"]["level"] == level, care.text
    for tag in tags:
        tagged = sanmin.client.post(
            f"{ARCHIVES}/care/persons/{pid}/tags", json={"tag": tag, "reason": "测试"}
        )
        assert tagged.status_code in (200, 201), tagged.text
    return pid


def plans(sanmin: Sanmin) -> list[Plan]:
    """Every plan, in id order."""
    with sanmin.session() as session:
        return list(session.exec(select(Plan).order_by(col(Plan.id))))


def team(sanmin: Sanmin, unit: str, *members: Any) -> int:
    """A team at ``unit`` (formed by the administrator) joined by each client given."""
    formed = sanmin.client.post(
        f"{API}/teams", params={"unit": unit}, json={"unit_code": unit, "name": "敲门嫂队"}
    )
    assert formed.status_code == 201, formed.text
    for client in members:
        joined = client.post(f"{API}/teams/{formed.json()['id']}/members")
        assert joined.status_code == 201, joined.text
    return formed.json()["id"]


def volunteer(sanmin: Sanmin, unit: str = GRID) -> Any:
    """A client signed in as a 敲门嫂 of ``unit``."""
    return sanmin.client_as("knock_door_volunteer", unit)


def nav(html: str) -> str:
    """The shared layout's menu."""
    match = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert match, "the page has no <nav> menu"
    return match.group(1)


# -- where the plugin is on ----------------------------------------------------------------


def test_disabled_in_a_township_it_is_absent_there_and_works_where_enabled(
    sanmin: Sanmin,
) -> None:
    sanmin.unit(OTHER_GRID)
    sanmin.disable(PLUGIN, OTHER_TOWN)  # on by default; off in the other township
    here = person(sanmin, GRID, "A1", "red")
    person(sanmin, OTHER_GRID, "B1", "red")
    run_jobs(sanmin, at(2026, 3, 4))
    assert [p.person_id for p in plans(sanmin)] == [here]  # no plan where it is off

    for path in (f"{API}/plans", f"{API}/records", f"{API}/teams"):
        off = sanmin.client.get(path, params={"unit": OTHER_TOWN})
        assert off.status_code == 404, path
        assert (off.json()["plugin"], off.json()["unit"]) == (PLUGIN, OTHER_TOWN)
        assert sanmin.client.get(path, params={"unit": TOWN}).status_code == 200, path
    for path in (f"{PAGES}/", f"{PAGES}/week", f"{PAGES}/teams"):
        off = sanmin.client.get(path, params={"unit": OTHER_TOWN}, headers={"accept": "text/html"})
        assert off.status_code == 404 and PLUGIN in off.text, path
        assert sanmin.client.get(path, params={"unit": TOWN}).status_code == 200, path
    metric = f"/api/v1/metrics/{PLUGIN}/due"
    assert sanmin.client.get(metric, params={"unit": OTHER_TOWN}).status_code == 404
    assert sanmin.client.get(metric, params={"unit": TOWN}).json()["value"] is not None

    for grid, shown in ((GRID, True), (OTHER_GRID, False)):
        menu = nav(volunteer(sanmin, grid).get("/", params={"unit": grid}).text)
        assert (f"{PAGES}/week?unit={grid}" in menu) is shown
        assert ("本周走访" in menu) is shown
    plan_id = plans(sanmin)[0].id
    outsider = volunteer(sanmin, OTHER_GRID)
    refused = outsider.post(f"{API}/plans/{plan_id}/records", json={"data": GOOD_RECORD})
    assert refused.status_code == 404


def test_menu_entries_follow_the_role(sanmin: Sanmin) -> None:
    sanmin.unit(GRID)
    links = {
        "home": f"{PAGES}/?unit=",
        "week": f"{PAGES}/week?unit=",
        "teams": f"{PAGES}/teams?unit=",
    }

    def shown(client: Any, unit: str) -> set[str]:
        menu = nav(client.get("/", params={"unit": unit}).text)
        return {name for name, href in links.items() if href + unit in menu}

    assert shown(volunteer(sanmin), GRID) == {"home", "week"}
    assert shown(sanmin.client_as("grid_worker", GRID), GRID) == {"home", "week", "teams"}
    assert shown(sanmin.client_as("village_cadre", VILLAGE), VILLAGE) == {"home", "teams"}
    assert shown(sanmin.client_as("resident", GRID), GRID) == {"home"}


# -- plans ---------------------------------------------------------------------------------


def test_plans_follow_care_levels_and_special_groups(sanmin: Sanmin) -> None:
    red = person(sanmin, GRID, "F1", "red")
    yellow = person(sanmin, GRID, "F2", "yellow")
    green = person(sanmin, GRID, "F3", "green")
    green_gugua = person(sanmin, GRID, "F4", "green", tags=("gugua",))  # the group's 7 days win
    dibao = person(sanmin, GRID, "F5", tags=("dibao",))  # a tag alone: quarterly
    person(sanmin, GRID, "F6")  # neither: no plan

    def periods() -> dict[int, list[tuple[str, str, str]]]:
        found: dict[int, list[tuple[str, str, str]]] = {}
        for p in plans(sanmin):
            item = (p.frequency, p.period_start.isoformat(), p.due_on.isoformat())
            found.setdefault(p.person_id, []).append(item)
        return found

    run_jobs(sanmin, at(2026, 3, 4))  # a Wednesday
    week1 = ("week", "2026-03-02", "2026-03-08")
    march = ("month", "2026-03-01", "2026-03-31")
    q1 = ("quarter", "2026-01-01", "2026-03-31")
    assert periods() == {
        red: [week1],
        yellow: [march],
        green: [q1],
        green_gugua: [week1],
        dibao: [q1],
    }
    run_jobs(sanmin, at(2026, 3, 4, 15))  # the same period again: nothing new
    assert len(plans(sanmin)) == 5

    run_jobs(sanmin, at(2026, 3, 9))  # the next Monday: a new week, the same month
    week2 = ("week", "2026-03-09", "2026-03-15")
    assert periods()[red] == [week1, week2] and periods()[yellow] == [march]

    run_jobs(sanmin, at(2026, 4, 1))  # a new month and quarter
    assert periods() == {
        red: [week1, week2, ("week", "2026-03-30", "2026-04-05")],
        yellow: [march, ("month", "2026-04-01", "2026-04-30")],
        green: [q1, ("quarter", "2026-04-01", "2026-06-30")],
        green_gugua: [week1, week2, ("week", "2026-03-30", "2026-04-05")],
        dibao: [q1, ("quarter", "2026-04-01", "2026-06-30")],
    }


def test_a_county_s_thresholds_set_the_frequency(sanmin: Sanmin) -> None:
    yellow = person(sanmin, GRID, "T1", "yellow")
    body = {"yellow_visit_days": 7}  # this county visits 黄 elders weekly
    assert sanmin.client.put(f"{ARCHIVES}/care/thresholds/{COUNTY}", json=body).status_code == 200
    plan_now(sanmin, at(2026, 3, 4))
    assert [(p.person_id, p.frequency) for p in plans(sanmin)] == [(yellow, "week")]


def test_plans_are_shared_in_the_team_and_a_volunteer_sees_only_hers(sanmin: Sanmin) -> None:
    first, second = volunteer(sanmin, VILLAGE), volunteer(sanmin, VILLAGE)
    team(sanmin, VILLAGE, first, second)
    elders = [person(sanmin, GRID, f"S{n}", "red") for n in range(4)]
    plan_now(sanmin, at(2026, 3, 4))

    mine = {c: {p["person_id"] for p in c.get(f"{API}/plans").json()} for c in (first, second)}
    assert mine[first] | mine[second] == set(elders)
    assert len(mine[first]) == len(mine[second]) == 2  # shared evenly, each elder once
    again = plans(sanmin)[0]  # the same pairing every period (结对)
    plan_now(sanmin, at(2026, 3, 10))
    later = next(p for p in plans(sanmin) if p.person_id == again.person_id and p.id != again.id)
    assert later.volunteer == again.volunteer

    worker = sanmin.client_as("grid_worker", GRID)
    assert {p["person_id"] for p in worker.get(f"{API}/plans").json()} == set(elders)
    week = first.get(f"{PAGES}/week").text
    shown = {int(n) for n in re.findall(r'data-plan="(\d+)"', week)}
    assert shown == {p.id for p in plans(sanmin) if p.volunteer == first_name(sanmin, first)}


def first_name(sanmin: Sanmin, client: Any) -> str:
    """The username of the account ``client`` is signed in as."""
    return client.get("/api/v1/auth/me").json()["name"]


def test_plans_made_before_the_team_are_given_out_when_a_volunteer_joins(sanmin: Sanmin) -> None:
    elder = person(sanmin, GRID, "J1", "red")
    plan_now(sanmin, at(2026, 3, 4))
    assert [p.volunteer for p in plans(sanmin)] == [None]
    joining = volunteer(sanmin)
    team(sanmin, GRID, joining)
    assert [p.volunteer for p in plans(sanmin)] == [first_name(sanmin, joining)]
    assert [p["person_id"] for p in joining.get(f"{API}/plans").json()] == [elder]


def test_teams_are_formed_joined_and_left(sanmin: Sanmin) -> None:
    sanmin.unit(GRID)
    cadre = sanmin.client_as("village_cadre", VILLAGE)
    form = {"unit_code": TOWN, "name": "街道队"}  # a team belongs to a village or grid
    wrong = sanmin.client.post(f"{API}/teams", params={"unit": TOWN}, json=form)
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "unit_code"]
    blank = cadre.post(f"{API}/teams", json={"unit_code": VILLAGE, "name": " "})
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "name"]
    formed = cadre.post(f"{API}/teams", json={"unit_code": VILLAGE, "name": "一队"})
    assert formed.status_code == 201, formed.text
    again = cadre.post(f"{API}/teams", json={"unit_code": VILLAGE, "name": "一队"})
    assert again.status_code == 409
    someone = volunteer(sanmin, VILLAGE)
    refused = someone.post(f"{API}/teams", json={"unit_code": VILLAGE, "name": "二队"})
    assert refused.status_code == 403

    team_id = formed.json()["id"]
    leader = sanmin.client_as("knock_door_leader", VILLAGE)
    for client in (leader, someone):
        assert client.post(f"{API}/teams/{team_id}/members").status_code == 201
    members = cadre.get(f"{API}/teams/{team_id}").json()["members"]
    assert sorted(m["role_label"] for m in members) == ["队员", "队长"]

    elders = [person(sanmin, GRID, f"L{n}", "red") for n in range(2)]
    plan_now(sanmin, at(2026, 3, 4))
    name = first_name(sanmin, someone)
    assert sum(p.volunteer == name for p in plans(sanmin)) == 1
    assert someone.delete(f"{API}/teams/{team_id}/members/{name}").status_code == 204
    assert {p.volunteer for p in plans(sanmin)} == {first_name(sanmin, leader)}  # all hers now
    assert {p.person_id for p in plans(sanmin)} == set(elders)
    assert someone.get(f"{API}/plans").json() == []


# -- scope ---------------------------------------------------------------------------------


def test_a_volunteer_of_another_grid_gets_404(sanmin: Sanmin) -> None:
    mine = volunteer(sanmin, GRID)
    team(sanmin, GRID, mine)
    person(sanmin, GRID, "V1", "red")
    plan_now(sanmin, at(2026, 3, 4))
    plan_id = plans(sanmin)[0].id
    other = volunteer(sanmin, GRID2)
    assert mine.get(f"{API}/plans/{plan_id}").status_code == 200
    assert other.get(f"{API}/plans/{plan_id}").status_code == 404
    assert other.get(f"{PAGES}/plans/{plan_id}/record").status_code == 404
    refused = other.post(f"{API}/plans/{plan_id}/records", json={"data": GOOD_RECORD})
    assert refused.status_code == 404
    assert other.get(f"{API}/plans").json() == []
    # another volunteer of the same grid, not assigned: not hers to see either
    assert volunteer(sanmin, GRID).get(f"{API}/plans/{plan_id}").status_code == 404


def test_every_route_answers_404_outside_the_scope(sanmin: Sanmin, app_routes: set[str]) -> None:
    assert {p for p in app_routes if p.startswith((API, PAGES))} == SCOPED_PATHS
    for grid in (GRID, OTHER_GRID):
        sanmin.unit(grid)
    leader = sanmin.client_as("knock_door_leader", GRID)
    team_id = team(sanmin, GRID, leader)
    person(sanmin, GRID, "R1", "red")
    plan_now(sanmin, at(2026, 3, 4))
    plan_id = plans(sanmin)[0].id
    recorded = leader.post(f"{API}/plans/{plan_id}/records", json={"data": GOOD_RECORD})
    visit_id = recorded.json()["visit"]["id"]
    username = first_name(sanmin, leader)
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{API}/plans?unit={GRID}", {}),
        ("GET", f"{API}/plans/{plan_id}", {}),
        ("GET", f"{API}/records?unit={GRID}", {}),
        ("GET", f"{API}/records/{visit_id}", {}),
        ("GET", f"{API}/teams?unit={GRID}", {}),
        ("GET", f"{API}/teams/{team_id}", {}),
        ("GET", f"{PAGES}/?unit={GRID}", {}),
        ("GET", f"{PAGES}/week?unit={GRID}", {}),
        ("GET", f"{PAGES}/visits/{visit_id}", {}),
        ("GET", f"{PAGES}/teams?unit={GRID}", {}),
    ]
    for method, url, kwargs in cases:
        sanmin.assert_scoped(
            method, url, role="knock_door_leader", inside=GRID, outside=OTHER_GRID, **kwargs
        )
    outsider = sanmin.client_as("knock_door_leader", OTHER_GRID)
    version = {"version": 2}
    writes = [
        ("POST", f"{API}/plans/{plan_id}/records", {"json": {"data": GOOD_RECORD}}),
        ("POST", f"{API}/plans/{plan_id}/review", {"json": version}),
        ("POST", f"{API}/teams/{team_id}/members", {}),
        ("DELETE", f"{API}/teams/{team_id}/members/{username}", {}),
        ("GET", f"{PAGES}/plans/{plan_id}/record", {}),
        ("POST", f"{PAGES}/plans/{plan_id}/record", {"data": {"minutes": "30"}}),
        ("POST", f"{PAGES}/teams/{team_id}/join", {}),
    ]
    for method, url, kwargs in writes:
        answer = outsider.request(method, url, **kwargs)
        assert answer.status_code == 404, (method, url, answer.status_code, answer.text[:200])
    grid_worker = sanmin.client_as("grid_worker", GRID)
    assert grid_worker.post(f"{API}/plans/{plan_id}/review", json=version).status_code == 200
    assert leader.delete(f"{API}/teams/{team_id}/members/{username}").status_code == 204


@pytest.fixture
def app_routes(sanmin: Sanmin) -> set[str]:
    """Every route path of the app."""
    from core.testing import all_routes

    return {path for path, _ in all_routes(sanmin.app)}


# -- the demo ------------------------------------------------------------------------------


def test_load_demo_is_idempotent(sanmin: Sanmin) -> None:
    accounts = {(a.username, a.role, a.unit_code) for a in demo.ACCOUNTS}
    assert ("knock_door_volunteer", "knock_door_volunteer", "330802001001") in accounts
    sanmin.unit("330802001001", "府山社区")
    for n in range(12):
        person(sanmin, GRID, f"D{n}", ("red", "yellow", "green")[n % 3])

    def counts() -> dict[str, int]:
        with sanmin.session() as session:
            return {
                m.__name__: session.exec(select(func.count()).select_from(m)).one()
                for m in (Team, Member, Plan, Visit, Need)
            }

    first = demo.load(sanmin.kernel)
    made = counts()
    assert made["Team"] >= 1 and made["Member"] == 2 and made["Plan"] >= 12
    assert made["Visit"] >= 1
    assert first.startswith("敲门嫂：") and f"探访计划 {made['Plan']} 条" in first
    assert demo.load(sanmin.kernel) == first
    assert counts() == made


# -- tables --------------------------------------------------------------------------------


def plugin_tables_only(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """Compare only this plugin's tables (Alembic ``include_object``)."""
    if type_ != "table":
        return True
    name = name or ""
    return name.startswith(f"{PLUGIN}_") and not name.endswith("_alembic_version")


def test_migration_matches_the_models(sanmin: Sanmin) -> None:
    """Models and migrations agree (else: add a revision in migrations/versions/)."""
    with sanmin.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": plugin_tables_only}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
