"""Issue 4, "Done means": a plugin declaring one of each kernel service — a form, a workflow, a
metric, an event reaction and a job — works end to end through its API and its pages, and none
of it appears, runs or counts in a township where the plugin is disabled.

The throwaway plugin ``practice`` chains them: submitting its form emits ``form.submitted``;
its reaction records the visit in its own table, once per event; its metric counts that table;
its daily job runs per township; its workflow handles cases, one step requiring a reason.
``ON`` and ``OFF`` are two townships of one county, the plugin on in the county and off in
``OFF``. Events and jobs are driven by one worker pass with a fixed clock: nothing sleeps.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from core import (
    Deadline,
    Event,
    FormSpec,
    Job,
    JobContext,
    Kernel,
    MenuLink,
    Metric,
    Permission,
    State,
    Transition,
    TransitionInput,
    UTCDateTime,
    Workflow,
    emit,
    hookimpl,
    page_link,
)
from core.db.types import utcnow
from core.events.delivery import to_event
from core.events.models import OutboxEvent
from core.jobs.models import JobRun
from core.jobs.schedule import period_of
from core.jobs.worker import Worker
from core.testing import TEST_PASSWORD, Sanmin
from tests.helpers import manifest

PLUGIN = "practice"
COUNTY = "330802000000"
ON, OFF = "330802001000", "330802002000"
ON_VILLAGE, OFF_VILLAGE = "330802001001", "330802002001"
HTML = {"Accept": "text/html"}
FORM_API = f"/api/v1/p/{PLUGIN}/forms/visit/records"
FORM_PAGES = f"/p/{PLUGIN}/forms/visit"
CASE_API = f"/api/v1/p/{PLUGIN}/workflows/case"
CASE_PAGES = f"/p/{PLUGIN}/workflows/case"
METRIC_API = f"/api/v1/metrics/{PLUGIN}/visits"
HANDLE = f"{PLUGIN}.handle"
VISIT = {"household": "王大爷", "mood": "好", "visited_on": "2026-03-01"}

TABLES = MetaData()
VISITS = Table(
    f"{PLUGIN}_visit",
    TABLES,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("unit_code", String(15), nullable=False, index=True),
    Column("recorded_at", UTCDateTime(), nullable=False, index=True),
)


class VisitForm(BaseModel):
    household: str = Field(title="户主", max_length=20)
    mood: Literal["好", "一般", "差"] = Field(title="情绪")
    visited_on: date = Field(title="走访日期")


REASON = TransitionInput("reason", "办结说明")
CASE = Workflow(
    name="case",
    title="练习事项",
    initial="open",
    read_permission="archive.read",
    start_permission="archive.write",
    states=(
        State("open", "待接办", deadline=Deadline(working_days=2)),
        State("doing", "办理中", deadline=Deadline(hours=24)),
        State("done", "已办结", closed=True),
    ),
    transitions=(
        Transition("take", "接办", ("open",), "doing", permission=HANDLE),
        Transition("close", "办结", ("doing",), "done", permission=HANDLE, inputs=(REASON,)),
    ),
)


class Practice:
    """One of each: form, workflow, metric, reaction, job; plus a permission and menu entries.
    Records every reaction call, job run and menu call, to show where they happened."""

    def __init__(self) -> None:
        self.PLUGIN = manifest(PLUGIN, title="练习", default_enabled=False)
        self.reactions: list[tuple[str, str]] = []  # (event name, township)
        self.runs: list[tuple[str, datetime]] = []  # (township, period start)
        self.menus: list[str | None] = []

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [Permission(HANDLE, "办理练习事项", granted_to=("village_cadre",))]

    @hookimpl
    def register_forms(self) -> list[FormSpec]:
        return [FormSpec(name="visit", title="练习走访", model=VisitForm)]

    @hookimpl
    def register_workflows(self) -> list[Workflow]:
        return [CASE]

    @hookimpl
    def register_metrics(self) -> list[Metric]:
        return [
            Metric(
                name="visits",
                title="练习走访数",
                unit_label="次",
                table=VISITS,
                time_column="recorded_at",
            )
        ]

    @hookimpl
    def register_jobs(self) -> list[Job]:
        return [Job(name="tally", title="每日汇总", every=timedelta(days=1), run=self.tally)]

    def tally(self, context: JobContext) -> None:
        assert context.township is not None
        self.runs.append((context.township.code, context.period_start))

    @hookimpl
    def on_event(self, event: Event, kernel: Kernel) -> None:
        self.reactions.append((event.name, event.township_code))
        if event.name != "form.submitted" or event.payload.get("plugin") != PLUGIN:
            return
        with kernel.engine.begin() as connection:
            known = select(VISITS.c.event_id).where(VISITS.c.event_id == event.id)
            if connection.execute(known).first() is None:  # idempotent: keyed by the event
                row = {"unit_code": event.unit_code, "recorded_at": event.occurred_at}
                connection.execute(insert(VISITS).values(event_id=event.id, **row))

    @hookimpl
    def menu_links(self, township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
        self.menus.append(township.code if township else None)
        return [
            MenuLink(
                href=page_link(request, f"{FORM_PAGES}/"),
                label="练习走访",
                permission="archive.write",
            ),
            MenuLink(
                href=page_link(request, f"{CASE_PAGES}/"),
                label="练习事项",
                roles=("village_cadre",),
            ),
        ]


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return []


@pytest.fixture
def practice() -> Practice:
    return Practice()


@pytest.fixture
def sanmin_extra_plugins(practice: Practice) -> list[tuple[str, Any]]:
    return [(PLUGIN, practice)]


@pytest.fixture
def world(sanmin: Sanmin) -> Sanmin:
    """The county with ON and OFF and a village in each; the plugin on in the county but off
    in OFF; its table created."""
    TABLES.create_all(sanmin.engine)
    sanmin.unit(ON_VILLAGE)
    sanmin.unit(OFF_VILLAGE)
    sanmin.enable(PLUGIN, COUNTY)
    sanmin.disable(PLUGIN, OFF)
    return sanmin


def submit(client: TestClient, unit: str) -> dict[str, Any]:
    answer = client.post(FORM_API, params={"unit": unit}, json={"data": VISIT})
    assert answer.status_code == 201, answer.text
    return answer.json()


def start_case(client: TestClient, unit: str, subject: str) -> dict[str, Any]:
    answer = client.post(f"{CASE_API}/instances", json={"unit_code": unit, "subject": subject})
    assert answer.status_code == 201, answer.text
    return answer.json()


def hidden(page: Any, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page.text)
    assert found, f"no hidden {name} in the page"
    return found[1]


def browser_as(sanmin: Sanmin, role: str, unit: str, username: str) -> TestClient:
    """A client signed in through the login page: a cookie session that needs CSRF tokens."""
    sanmin.account(role, unit, username)
    browser = TestClient(sanmin.app, headers=HTML)
    login = browser.get("/login")
    answer = browser.post(
        "/login",
        data={
            "username": username,
            "password": TEST_PASSWORD,
            "csrf_token": hidden(login, "csrf_token"),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return browser


def visited_units(sanmin: Sanmin) -> list[str]:
    with sanmin.engine.connect() as connection:
        return sorted(connection.execute(select(VISITS.c.unit_code)).scalars())


def redelivered(sanmin: Sanmin, unit_code: str) -> Event:
    """The event behind the visit recorded at ``unit_code``, as a retry would deliver it."""
    outbox = OutboxEvent.__table__.c  # type: ignore[attr-defined]
    with sanmin.engine.connect() as connection:
        known = select(VISITS.c.event_id).where(VISITS.c.unit_code == unit_code)
        event_id = connection.execute(known).scalar_one()
        return to_event(connection.execute(select(outbox).where(outbox.id == event_id)).one())


def listed_metrics(sanmin: Sanmin, unit: str) -> dict[str, Any]:
    """The plugin's metrics in ``GET /api/v1/metrics`` at ``unit``, by key."""
    answer = sanmin.client.get("/api/v1/metrics", params={"unit": unit})
    assert answer.status_code == 200, answer.text
    return {m["key"]: m["value"] for m in answer.json()["metrics"] if m["plugin"] == PLUGIN}


def in_off_while_on(sanmin: Sanmin) -> dict[str, Any]:
    """Records made in OFF while the plugin was still on there: a form record, its visit row
    (reaction delivered), a case; then the plugin is switched off in OFF."""
    sanmin.enable(PLUGIN, OFF)
    record = submit(sanmin.client, OFF_VILLAGE)
    case = start_case(sanmin.client, OFF_VILLAGE, "off:1")
    Worker(sanmin.kernel).run_once()
    sanmin.disable(PLUGIN, OFF)
    assert visited_units(sanmin) == [OFF_VILLAGE]
    return {"record": record, "case": case}


# -- the enabled township: through the API and the pages ------------------------------------


def test_the_form_works_through_the_api_and_the_page(world: Sanmin) -> None:
    sanmin = world
    record = submit(sanmin.client_as("grid_worker", ON_VILLAGE), ON_VILLAGE)
    assert (record["unit_code"], record["data"]["household"]) == (ON_VILLAGE, "王大爷")

    browser = browser_as(sanmin, "grid_worker", ON_VILLAGE, "practice-grid")
    new = browser.get(f"{FORM_PAGES}/new", params={"unit": ON_VILLAGE})
    assert new.status_code == 200 and "户主" in new.text and "走访日期" in new.text
    fields = {
        "subject": ON_VILLAGE,
        "household": "李奶奶",
        "mood": "一般",
        "visited_on": "2026-03-02",
    }
    forged = browser.post(f"{FORM_PAGES}/new?unit={ON_VILLAGE}", data=fields)
    assert forged.status_code == 403  # a cookie session without the CSRF token
    posted = browser.post(
        f"{FORM_PAGES}/new?unit={ON_VILLAGE}",
        data={
            **fields,
            "csrf_token": hidden(new, "csrf_token"),
            "submission_key": hidden(new, "submission_key"),
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    assert "李奶奶" in browser.get(posted.headers["location"]).text

    listed = sanmin.client.get(FORM_API, params={"unit": ON}).json()["items"]
    assert [r["data"]["household"] for r in listed] == ["李奶奶", "王大爷"]
    page = browser.get(f"{FORM_PAGES}/", params={"unit": ON_VILLAGE})
    assert page.status_code == 200 and "李奶奶" in page.text and "王大爷" in page.text


def test_the_workflow_works_through_the_api_and_the_pages(world: Sanmin) -> None:
    sanmin = world
    grid = sanmin.client_as("grid_worker", ON_VILLAGE)
    cadre = sanmin.client_as("village_cadre", ON_VILLAGE)
    case = start_case(grid, ON_VILLAGE, "练习:1")
    assert (case["state"], case["state_label"]) == ("open", "待接办")
    assert case["due_at"] is not None  # two working days
    steps = f"{CASE_API}/instances/{case['id']}/transitions"
    assert grid.post(f"{steps}/take", json={"version": 1}).status_code == 403
    taken = cadre.post(f"{steps}/take", json={"version": 1})
    assert taken.status_code == 200 and taken.json()["state"] == "doing"
    missing = cadre.post(f"{steps}/close", json={"version": 2})
    assert missing.status_code == 422 and missing.json()["detail"].startswith("inputs.reason")

    browser = browser_as(sanmin, "village_cadre", ON_VILLAGE, "practice-cadre")
    url = f"{CASE_PAGES}/instances/{case['id']}"
    detail = browser.get(url)
    assert detail.status_code == 200 and 'id="transition-close"' in detail.text
    closed = browser.post(
        f"{url}/transitions/close",
        data={
            "version": "2",
            "inputs.reason": "已上门解决",
            "csrf_token": hidden(detail, "csrf_token"),
        },
        follow_redirects=False,
    )
    assert closed.status_code == 303, closed.text
    after = browser.get(closed.headers["location"])
    assert 'data-state="done"' in after.text and "已上门解决" in after.text

    final = cadre.get(f"{CASE_API}/instances/{case['id']}").json()
    assert (final["state"], final["closed"], final["version"]) == ("done", True, 3)
    assert final["history"][-1]["inputs"] == {"reason": "已上门解决"}
    overview = browser.get(f"{CASE_PAGES}/", params={"unit": ON_VILLAGE})
    assert overview.status_code == 200 and "练习:1" in overview.text


def test_reaction_metric_and_job_count_only_where_enabled(
    world: Sanmin, practice: Practice
) -> None:
    sanmin = world
    in_off_while_on(sanmin)
    practice.reactions.clear()
    practice.runs.clear()
    submit(sanmin.client, ON_VILLAGE)
    submit(sanmin.client, ON)
    with sanmin.session() as session:  # an event in OFF, now that the plugin is off there
        emit(session, f"{PLUGIN}.pinged", OFF_VILLAGE)
    assert visited_units(sanmin) == [OFF_VILLAGE]  # reactions run after commit, not before

    now = utcnow()
    worker = Worker(sanmin.kernel, clock=lambda: now)
    assert worker.run_once().events == 3
    assert practice.reactions == [("form.submitted", ON), ("form.submitted", ON)]
    assert visited_units(sanmin) == [ON, ON_VILLAGE, OFF_VILLAGE]
    assert worker.run_once().events == 0
    practice.on_event(event=redelivered(sanmin, ON), kernel=sanmin.kernel)  # a retry
    assert visited_units(sanmin) == [ON, ON_VILLAGE, OFF_VILLAGE]  # still counted once

    # The metric, as JSON at each level and at /metrics: OFF's visit is absent, not counted.
    def value(unit: str, **params: str) -> Any:
        answer = sanmin.client.get(METRIC_API, params={"unit": unit, **params})
        return answer.json() if answer.status_code == 200 else answer.status_code

    assert (value(ON_VILLAGE)["value"], value(ON)["value"], value(COUNTY)["value"]) == (1, 2, 2)
    assert value(OFF) == 404
    by_child = value(COUNTY, by="child")["children"]
    assert {child["code"]: child["value"] for child in by_child} == {ON: 2}
    assert listed_metrics(sanmin, COUNTY) == {f"{PLUGIN}.visits": 2}
    assert listed_metrics(sanmin, OFF) == {}
    exposition = sanmin.client.get("/metrics").text
    gauge = rf'^sanmin_{PLUGIN}_visits{{[^}}]*unit="(\d+)"[^}}]*}} (\S+)$'
    assert dict(re.findall(gauge, exposition, re.M)) == {COUNTY: "2.0", ON: "2.0"}

    # The job: once per period, for ON only.
    tomorrow = now + timedelta(days=1)
    later = Worker(sanmin.kernel, clock=lambda: tomorrow)
    later.run_once()
    later.run_once()
    Worker(sanmin.kernel, clock=lambda: tomorrow).run_once()  # another worker: nothing again
    assert practice.runs == [(ON, period_of(tomorrow, timedelta(days=1))[0])]
    with sanmin.session() as session:
        runs = session.exec(
            select(JobRun.township_code, JobRun.status, JobRun.period_start).where(
                JobRun.job == f"{PLUGIN}.tally", JobRun.period_start > now
            )
        ).all()
    assert [(code, status) for code, status, _ in runs] == [(ON, "done")]


# -- the disabled township: absent, not run, not counted --------------------------------------


def test_nothing_appears_runs_or_counts_in_the_disabled_township(
    world: Sanmin, practice: Practice
) -> None:
    sanmin = world
    made = in_off_while_on(sanmin)
    record, case = made["record"], made["case"]
    on_record = submit(sanmin.client, ON_VILLAGE)
    on_case = start_case(sanmin.client, ON_VILLAGE, "on:1")
    for client in (sanmin.client, sanmin.client_as("village_cadre", OFF_VILLAGE)):
        for path in (
            f"/api/v1/p/{PLUGIN}/forms",
            FORM_API,
            f"{FORM_API}/{record['id']}",
            f"{FORM_PAGES}/",
            f"{FORM_PAGES}/new",
            f"{FORM_PAGES}/{record['id']}",
            CASE_API,
            f"{CASE_API}/instances",
            f"{CASE_API}/instances/{case['id']}",
            f"{CASE_PAGES}/",
            f"{CASE_PAGES}/instances/{case['id']}",
            METRIC_API,
        ):
            answer = client.get(path, params={"unit": OFF_VILLAGE})
            assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
        refused = client.post(FORM_API, params={"unit": OFF_VILLAGE}, json={"data": VISIT})
        assert refused.status_code == 404
        started = client.post(f"{CASE_API}/instances", json={"unit_code": OFF_VILLAGE})
        assert started.status_code == 404
        take = f"{CASE_API}/instances/{case['id']}/transitions/take"
        assert client.post(take, json={"version": 1}).status_code == 404

    # County-wide lists leave OFF out.
    county_records = sanmin.client.get(FORM_API, params={"unit": COUNTY}).json()["items"]
    assert [r["id"] for r in county_records] == [on_record["id"]]
    county_cases = sanmin.client.get(f"{CASE_API}/instances", params={"unit": COUNTY}).json()
    assert [c["id"] for c in county_cases] == [on_case["id"]]

    # Menus: the plugin is not even asked in OFF.
    practice.menus.clear()
    off_home = sanmin.client_as("village_cadre", OFF_VILLAGE).get("/", params={"unit": OFF})
    assert off_home.status_code == 200 and f"/p/{PLUGIN}/" not in off_home.text
    assert practice.menus == []
    on_home = sanmin.client_as("village_cadre", ON_VILLAGE).get("/", params={"unit": ON_VILLAGE})
    assert f"{FORM_PAGES}/?unit={ON_VILLAGE}" in on_home.text
    assert f"{CASE_PAGES}/?unit={ON_VILLAGE}" in on_home.text
    assert practice.menus == [ON]

    # Reactions and jobs: none in OFF.
    practice.reactions.clear()
    practice.runs.clear()
    with sanmin.session() as session:
        emit(session, f"{PLUGIN}.pinged", OFF_VILLAGE)
        emit(session, f"{PLUGIN}.pinged", ON_VILLAGE)
    tomorrow = utcnow() + timedelta(days=1)
    assert Worker(sanmin.kernel, clock=lambda: tomorrow).run_once().events == 4
    assert practice.reactions == [
        ("form.submitted", ON),
        ("workflow.started", ON),
        (f"{PLUGIN}.pinged", ON),
    ]
    assert [township for township, _ in practice.runs] == [ON]
