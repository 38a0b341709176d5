"""The workflow engine: definitions checked at start-up, instances started and moved through the
API, the pages and the Python service, with scope, permissions, inputs, versions, guards,
deadlines, append-only history and per-township switches.

A test plugin ``casework`` declares a 红色代办-like workflow (点单 → 派单 → 接单 → 办结 → 评单,
with 退单, 撤单, 上报 and 重办); ``watcher`` only guards. Every test that stores runs on SQLite
and PostgreSQL. The clock is fixed through ``kernel.workflows.clock``: nothing sleeps.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from core import (
    Deadline,
    Permission,
    State,
    Transition,
    TransitionInput,
    Workflow,
    WorkflowError,
    hookimpl,
    transition_workflow,
)
from core.audit.models import AuditEntry
from core.events.models import OutboxEvent
from core.identity.access import AccessCatalog, build_catalog
from core.identity.models import Account
from core.identity.service import create_api_key
from core.plugins.registry import PluginRegistry
from core.testing import TEST_PASSWORD, all_routes
from core.workflows.catalog import WorkflowCatalog
from core.workflows.deadlines import add_working_days
from core.workflows.diagram import render_svg
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow
from tests.helpers import manifest

COUNTY = "330802000000"
TOWN_A, TOWN_B, TOWN_C = "330802001000", "330802002000", "330802003000"
VILLAGE_A, GRID_A = "330802001001", "330802001001001"
GRID_B, GRID_C = "330802002001001", "330802003001001"
API = "/api/v1/p/casework/workflows/case"
PAGES = "/p/casework/workflows/case"
HTML = {"Accept": "text/html"}
NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Beijing, before 国庆

REASON = TransitionInput("reason", "理由")
RATING = TransitionInput(
    "rating", "评价", kind="choice", choices=("很满意", "满意", "较满意", "基本满意", "不满意")
)
COMMENT = TransitionInput("comment", "留言", required=False, max_length=200)
MEMBERS = ("party_member",)

CASE = Workflow(
    name="case",
    title="代办单",
    description="群众点单、支部派单、党员接单办单、群众评单",
    initial="ordered",
    read_permission="casework.read",
    start_permission="casework.open",
    states=(
        State("ordered", "已点单", deadline=Deadline(working_days=1)),
        State("dispatched", "已派单", deadline=Deadline(hours=24)),
        State("taken", "已接单"),
        State("done", "已办结", deadline=Deadline(working_days=7)),
        State("rated", "已评单", closed=True),
        State("cancelled", "已撤单", closed=True),
    ),
    transitions=(
        Transition("dispatch", "派单", ("ordered",), "dispatched", permission="casework.dispatch"),
        Transition("take", "接单", ("dispatched",), "taken", roles=MEMBERS),
        Transition(
            "refuse", "退单", ("dispatched", "taken"), "ordered", roles=MEMBERS, inputs=(REASON,)
        ),
        Transition("finish", "办结", ("taken",), "done", roles=MEMBERS),
        Transition(
            "rate", "评单", ("done",), "rated", roles=("resident",), inputs=(RATING, COMMENT)
        ),
        Transition(
            "cancel",
            "撤单",
            ("ordered", "dispatched"),
            "cancelled",
            permission="casework.open",
            inputs=(REASON,),
        ),
        Transition(
            "escalate", "上报", ("ordered",), "ordered", permission="casework.open", escalate=True
        ),
        Transition(
            "reopen", "重办", ("rated",), "taken", permission="casework.dispatch", inputs=(REASON,)
        ),
    ),
)


class CasePlugin:
    """Declares the workflow and a guard that refuses when told to, and records what it saw."""

    PLUGIN = manifest("casework")

    def __init__(self) -> None:
        self.refusal: str | None = None
        self.asked: list[tuple[int, str, str, dict[str, Any]]] = []
        self.during_guard: Any = None

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        readers = (
            "grid_worker",
            "village_cadre",
            "township_admin",
            "county_admin",
            "city_admin",
            "party_member",
            "resident",
        )
        return [
            Permission("casework.read", "查看代办单", granted_to=readers),
            Permission("casework.open", "点单", granted_to=("grid_worker", "township_admin")),
            Permission("casework.dispatch", "派单", granted_to=("township_admin",)),
        ]

    @hookimpl
    def register_workflows(self) -> list[Workflow]:
        return [CASE]

    @hookimpl
    def workflow_guard(self, instance, transition, actor, inputs):  # type: ignore[no-untyped-def]
        self.asked.append((instance.id, instance.state, transition, dict(inputs)))
        if self.during_guard is not None:
            self.during_guard(instance, transition)
        if transition == "take" and self.refusal:
            return self.refusal
        return None


class Watcher:
    """A plugin with no workflow of its own that is asked about every transition."""

    PLUGIN = manifest("watcher")

    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    def workflow_guard(self, instance, transition, actor, inputs):  # type: ignore[no-untyped-def]
        self.asked.append(f"{instance.unit_code}:{transition}")


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("casework", CasePlugin()), ("watcher", Watcher())]


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    """Three townships of one county, casework on in all of them, the clock at NOW."""
    for code in (GRID_A, GRID_B, GRID_C):
        sanmin.unit(code)
    sanmin.enable("casework", COUNTY)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def plugin(sanmin, name: str = "casework") -> Any:  # type: ignore[no-untyped-def]
    return sanmin.kernel.pm.get_plugin(name)


def start(client: TestClient, unit: str = GRID_A, **extra: Any) -> dict[str, Any]:
    answer = client.post(f"{API}/instances", json={"unit_code": unit, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def move(client: TestClient, case: dict[str, Any], name: str, **inputs: Any) -> Any:
    return client.post(
        f"{API}/instances/{case['id']}/transitions/{name}",
        json={"version": case["version"], "inputs": inputs},
    )


def moved(client: TestClient, case: dict[str, Any], name: str, **inputs: Any) -> dict[str, Any]:
    answer = move(client, case, name, **inputs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def history(sanmin, instance_id: int) -> list[WorkflowHistoryRow]:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine) as session:
        query = select(WorkflowHistoryRow).where(col(WorkflowHistoryRow.instance_id) == instance_id)
        return list(session.exec(query.order_by(col(WorkflowHistoryRow.version))))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- definitions ----------------------------------------------------------------------------


def access() -> AccessCatalog:
    catalog = AccessCatalog.core()
    catalog.permissions["casework.read"] = Permission("casework.read", "查看")
    catalog.permissions["casework.open"] = Permission("casework.open", "点单")
    catalog.permissions["casework.dispatch"] = Permission("casework.dispatch", "派单")
    return catalog


def problems_of(**changes: Any) -> str:
    fields = {
        "name": "flow",
        "title": "流程",
        "initial": "a",
        "read_permission": "casework.read",
        "start_permission": "casework.open",
        "states": (State("a", "甲"), State("b", "乙", closed=True)),
        "transitions": (Transition("go", "前进", ("a",), "b", permission="casework.open"),),
    }
    return "; ".join(Workflow(**{**fields, **changes}).problems(access()))


def test_a_good_definition_has_no_problem() -> None:
    assert problems_of() == ""
    assert CASE.problems(access()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"initial": "zzz"}, "initial state 'zzz' is not a declared state"),
        ({"initial": "b"}, "initial state 'b' is closed"),
        ({"name": "Flow!"}, "name must be snake_case"),
        (
            {"states": (State("a", "甲"), State("a", "又甲"), State("b", "乙", closed=True))},
            "duplicate state 'a'",
        ),
        (
            {
                "transitions": (
                    Transition("go", "前进", ("a",), "nowhere", permission="casework.open"),
                )
            },
            "transition 'go': unknown target state 'nowhere'",
        ),
        (
            {"transitions": (Transition("go", "前进", ("q",), "b", permission="casework.open"),)},
            "transition 'go': unknown source state 'q'",
        ),
        (
            {
                "transitions": (
                    Transition("go", "前进", ("a",), "b", permission="casework.open"),
                    Transition("go", "再进", ("a",), "b", permission="casework.open"),
                )
            },
            "duplicate transition 'go'",
        ),
        (
            {
                "states": (
                    State("a", "甲"),
                    State("b", "乙", closed=True),
                    State("c", "丙", closed=True),
                )
            },
            "state 'c' is unreachable from 'a'",
        ),
        (
            {
                "states": (State("a", "甲"), State("b", "乙")),
            },
            "open state 'b' has no way out",
        ),
        (
            {"transitions": (Transition("go", "前进", ("a",), "b", permission="casework.nope"),)},
            "permission 'casework.nope' is not a known permission",
        ),
        ({"read_permission": "nope.read"}, "read_permission 'nope.read' is not a known permission"),
        (
            {"transitions": (Transition("go", "前进", ("a",), "b", roles=("wizard",)),)},
            "unknown role 'wizard'",
        ),
        (
            {"transitions": (Transition("go", "前进", ("a",), "b"),)},
            "names neither a permission nor roles",
        ),
        (
            {
                "transitions": (
                    Transition(
                        "go",
                        "前进",
                        ("a",),
                        "b",
                        permission="casework.open",
                        inputs=(TransitionInput("pick", "选择", kind="choice"),),
                    ),
                )
            },
            "input 'pick': choices are required for kind 'choice'",
        ),
        (
            {
                "states": (
                    State("a", "甲"),
                    State("b", "乙", closed=True, deadline=Deadline(hours=2)),
                )
            },
            "state 'b': a closed state cannot have a deadline",
        ),
        (
            {
                "states": (
                    State("a", "甲", deadline=Deadline(hours=2, working_days=1)),
                    State("b", "乙", closed=True),
                )
            },
            "exactly one of hours or working_days",
        ),
    ],
)
def test_a_bad_definition_is_refused_by_name_and_reason(changes, expected) -> None:  # type: ignore[no-untyped-def]
    assert expected in problems_of(**changes)


class BadPlugin:
    PLUGIN = manifest("badflow")

    @hookimpl
    def register_workflows(self) -> list[Workflow]:
        broken = Transition("go", "前进", ("start",), "finish", permission="units.read")
        return [
            Workflow(
                "broken",
                "坏流程",
                (State("start", "开始"),),
                (broken,),
                "start",
                "units.read",
                "units.read",
            )
        ]


def test_a_plugin_with_a_bad_workflow_stays_off_and_says_why() -> None:
    registry = PluginRegistry().load(only=[], extra=[("badflow", BadPlugin())])
    catalog = WorkflowCatalog.build(registry, build_catalog(registry))
    failed = registry.plugins_failed["badflow"]
    assert "register_workflows" in failed.error
    assert "workflow 'broken' transition 'go': unknown target state 'finish'" in failed.error
    assert catalog.get("badflow", "broken") is None and "workflows" in registry.plugins


def test_the_diagram_is_drawn_on_the_server_deterministically() -> None:
    svg = render_svg(CASE, {"ordered": 3})
    assert svg == render_svg(CASE, {"ordered": 3})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "已点单（3）" in svg and "已撤单（0）" in svg
    assert svg.count('class="state state-closed"') == 2 and svg.count("state-open") == 4
    for label in ("派单", "接单", "退单", "撤单", "上报", "重办"):
        assert f">{label}<" in svg or f"、{label}<" in svg or f">{label}、" in svg, label


def test_working_days_skip_holidays_and_count_make_up_days() -> None:
    # 国庆 2026: 1–7 October off; Saturday 10 October is a make-up working day.
    assert add_working_days(NOW, 1) == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)
    friday = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
    assert add_working_days(friday, 1) == datetime(2026, 10, 10, 16, 0, tzinfo=UTC)
    # A year the calendar does not cover yet counts Monday to Friday.
    thursday = datetime(2027, 3, 4, 1, 0, tzinfo=UTC)
    assert add_working_days(thursday, 2).date() == date(2027, 3, 8)
    assert Deadline(hours=24).due(NOW) == NOW + timedelta(hours=24)


# -- the hooks ------------------------------------------------------------------------------


def test_hook_register_workflows(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    assert sanmin.kernel.workflows.get("casework", "case") is CASE
    admin = sanmin.client_as("township_admin", TOWN_A)
    answer = admin.get(API, params={"unit": TOWN_A})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["title"] == "代办单" and body["initial"] == "ordered"
    assert [s["label"] for s in body["states"]][:2] == ["已点单", "已派单"]
    assert body["states"][0]["deadline"] == {
        "hours": None,
        "working_days": 1,
        "label": "1 个工作日",
    }
    cancel = next(t for t in body["transitions"] if t["name"] == "cancel")
    assert (
        cancel["sources"] == ["ordered", "dispatched"] and cancel["inputs"][0]["name"] == "reason"
    )
    page = admin.get(f"{PAGES}/", params={"unit": TOWN_A}, headers=HTML)
    assert page.status_code == 200
    assert "<svg" in page.text and "代办单 状态图" in page.text
    assert "有“派单”权限者" in page.text and "党员" in page.text and "1 个工作日" in page.text
    assert (
        admin.get("/api/v1/p/casework/workflows/nope", params={"unit": TOWN_A}).status_code == 404
    )


def test_hook_workflow_guard(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    case = start(sanmin.client_as("grid_worker", GRID_A))
    case = moved(sanmin.client_as("township_admin", TOWN_A), case, "dispatch")
    guard = plugin(sanmin)
    guard.refusal = "该党员本周已有 3 件代办，请改派他人"
    member = sanmin.client_as("party_member", GRID_A)
    refused = move(member, case, "take")
    assert refused.status_code == 422 and refused.json()["detail"] == guard.refusal
    assert guard.asked[-1] == (case["id"], "dispatched", "take", {})
    after = member.get(f"{API}/instances/{case['id']}").json()
    assert after["version"] == case["version"] and after["state"] == "dispatched"
    assert len(after["history"]) == 2  # nothing written
    page = member.post(
        f"{PAGES}/instances/{case['id']}/transitions/take",
        data={"version": str(case["version"])},
        headers=HTML,
    )
    assert page.status_code == 422 and guard.refusal in page.text
    guard.refusal = None
    assert moved(member, case, "take")["state"] == "taken"


def test_the_guard_is_asked_only_of_plugins_enabled_in_the_township(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    sanmin.enable("watcher", TOWN_A)
    watcher = plugin(sanmin, "watcher")
    for grid, town_code in ((GRID_A, TOWN_A), (GRID_C, TOWN_C)):
        case = start(sanmin.client_as("grid_worker", grid), unit=grid)
        moved(sanmin.client_as("township_admin", town_code), case, "dispatch")
    assert watcher.asked == [f"{GRID_A}:dispatch"]


# -- the lifecycle --------------------------------------------------------------------------


def test_the_full_lifecycle_through_the_api(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    grid, admin = (
        sanmin.client_as("grid_worker", GRID_A),
        sanmin.client_as("township_admin", TOWN_A),
    )
    member, resident = (
        sanmin.client_as("party_member", GRID_A),
        sanmin.client_as("resident", GRID_A),
    )
    case = start(grid, subject="ticket:7")
    assert (case["state"], case["state_label"], case["version"]) == ("ordered", "已点单", 1)
    assert case["transitions"] == [
        {"name": "cancel", "label": "撤单"},
        {"name": "escalate", "label": "上报"},
    ]
    case = moved(admin, case, "dispatch")
    case = moved(member, case, "take")
    case = moved(member, case, "finish")
    case = moved(resident, case, "rate", rating="满意", comment="办得快")
    assert (case["state"], case["closed"], case["due_at"], case["version"]) == (
        "rated",
        True,
        None,
        5,
    )
    assert "history" not in case  # a transition answers with the step it wrote
    assert case["step"] == {
        "version": 5,
        "transition": "rate",
        "transition_label": "评单",
        "from_state": "done",
        "to_state": "rated",
        "unit_code": GRID_A,
        "actor": case["step"]["actor"],
        "inputs": {"rating": "满意", "comment": "办得快"},
        "at": case["updated_at"],
    }
    assert case["step"]["actor"].startswith("account:")
    shown = resident.get(f"{API}/instances/{case['id']}").json()
    assert shown["transitions"] == []
    steps = shown["history"]
    assert [s["transition_label"] for s in steps] == ["发起", "派单", "接单", "办结", "评单"]
    assert steps[-1] == case["step"]
    assert {k: v for k, v in shown.items() if k not in ("history", "transitions")} == {
        k: v for k, v in case.items() if k != "step"
    }
    reopened = moved(admin, case, "reopen", reason="群众不满意，重办")
    assert (reopened["state"], reopened["closed"]) == ("taken", False)  # a closed state reopens
    listed = admin.get(f"{API}/instances", params={"unit": TOWN_A, "state": "taken"}).json()
    assert [c["id"] for c in listed] == [case["id"]]
    with Session(sanmin.engine) as session:
        events = session.exec(
            select(OutboxEvent.name).where(
                col(OutboxEvent.subject) == f"workflow_instance:{case['id']}"
            )
        ).all()
        audited = session.exec(
            select(AuditEntry.action).where(
                col(AuditEntry.target_type) == "workflow_instance",
                col(AuditEntry.target_id) == str(case["id"]),
            )
        ).all()
    assert sorted(events) == ["workflow.started"] + ["workflow.transitioned"] * 5
    assert "workflow.start" in audited and "workflow.reopen" in audited and len(audited) == 6


def csrf_of(page) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "form without csrf_token"
    return found[1]


def browser_as(sanmin, role: str, unit: str, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    """A client signed in through the login page: a cookie session that needs CSRF tokens."""
    sanmin.account(role, unit, username)
    browser = TestClient(sanmin.app, headers=HTML)
    login = browser.get("/login")
    answer = browser.post(
        "/login",
        data={"username": username, "password": TEST_PASSWORD, "csrf_token": csrf_of(login)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return browser


def test_the_full_lifecycle_through_the_pages(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    browser = browser_as(sanmin, "township_admin", TOWN_A, "fushan-admin")
    page = browser.get(f"{PAGES}/", params={"unit": TOWN_A})
    assert page.status_code == 200 and "发起代办单" in page.text
    token = csrf_of(page)
    forged = browser.post(f"{PAGES}/instances?unit={TOWN_A}", data={"unit_code": VILLAGE_A})
    assert forged.status_code == 403
    started = browser.post(
        f"{PAGES}/instances?unit={TOWN_A}",
        data={"unit_code": VILLAGE_A, "subject": "代办:1", "csrf_token": token},
        follow_redirects=False,
    )
    assert started.status_code == 303
    url = started.headers["location"].split("?")[0]
    detail = browser.get(started.headers["location"])
    assert "已发起。" in detail.text and 'data-state="ordered"' in detail.text
    assert 'id="transition-dispatch"' in detail.text and 'id="transition-take"' not in detail.text
    for forged_token in ({}, {"csrf_token": "forged"}):
        refused = browser.post(f"{url}/transitions/dispatch", data={"version": "1", **forged_token})
        assert refused.status_code == 403 and "csrf_token" in refused.text
    dispatched = browser.post(
        f"{url}/transitions/dispatch",
        data={"version": "1", "csrf_token": token},
        follow_redirects=False,
    )
    assert dispatched.status_code == 303
    detail = browser.get(dispatched.headers["location"])
    assert "已派单。" in detail.text and 'data-state="dispatched"' in detail.text
    missing = browser.post(f"{url}/transitions/cancel", data={"version": "2", "csrf_token": token})
    assert (
        missing.status_code == 422
        and "inputs.reason" in missing.text
        and "理由为必填项" in missing.text
    )
    stale = browser.post(
        f"{url}/transitions/cancel",
        data={"version": "1", "inputs.reason": "重复", "csrf_token": token},
    )
    assert stale.status_code == 409 and "已被他人更新" in stale.text
    assert 'value="重复"' in stale.text  # the form keeps what was typed, at the current version
    assert 'name="version" value="2"' in stale.text
    cancelled = browser.post(
        f"{url}/transitions/cancel",
        data={"version": "2", "inputs.reason": "群众撤回", "csrf_token": token},
    )
    assert cancelled.status_code == 200 and 'data-state="cancelled"' in cancelled.text
    assert "理由：群众撤回" in cancelled.text and "fushan-admin" in cancelled.text
    assert 'id="transition-' not in cancelled.text
    listing = browser.get(f"{PAGES}/", params={"unit": TOWN_A})
    assert "代办:1" in listing.text and "已撤单" in listing.text


def test_a_missing_or_bad_input_is_422_naming_it(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    grid = sanmin.client_as("grid_worker", GRID_A)
    case = start(grid)
    for inputs, field in (
        ({}, "inputs.reason"),
        ({"reason": "   "}, "inputs.reason"),
        ({"reason": "x" * 501}, "inputs.reason"),
        ({"reason": "ok", "bogus": "1"}, "inputs.bogus"),
    ):
        answer = move(grid, case, "cancel", **inputs)
        assert answer.status_code == 422 and answer.json()["detail"].startswith(field), answer.text
    member, resident = (
        sanmin.client_as("party_member", GRID_A),
        sanmin.client_as("resident", GRID_A),
    )
    case = moved(sanmin.client_as("township_admin", TOWN_A), case, "dispatch")
    case = moved(member, moved(member, case, "take"), "finish")
    wrong = move(resident, case, "rate", rating="还行")
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("inputs.rating: 评价应为")
    not_a_number = grid.post(
        f"{API}/instances/{case['id']}/transitions/rate", json={"version": "x"}
    )
    assert not_a_number.status_code == 422 and "version" in not_a_number.text
    assert len(history(sanmin, case["id"])) == 4


def test_version_and_inputs_must_have_their_json_types(town) -> None:  # type: ignore[no-untyped-def]
    """``true`` is not version 1 nor the text "1", and "1" is not a version: 422 naming the
    field, and nothing moves."""
    grid = town.client_as("grid_worker", GRID_A)
    case = start(grid)
    url = f"{API}/instances/{case['id']}/transitions/cancel"
    for body, field in (
        ({"version": True, "inputs": {"reason": "x"}}, ["body", "version"]),
        ({"version": "1", "inputs": {"reason": "x"}}, ["body", "version"]),
        ({"version": 1.0, "inputs": {"reason": "x"}}, ["body", "version"]),
        ({"version": 1, "inputs": {"reason": True}}, ["body", "inputs", "reason"]),
        ({"version": 1, "inputs": {"reason": 1.5}}, ["body", "inputs", "reason"]),
    ):
        answer = grid.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in [e["loc"][: len(field)] for e in answer.json()["detail"]], answer.text
    assert len(history(town, case["id"])) == 1
    assert moved(grid, case, "cancel", reason=7)["step"]["inputs"] == {"reason": "7"}


def test_a_page_version_that_is_not_a_plain_number_is_422(town) -> None:  # type: ignore[no-untyped-def]
    grid = town.client_as("grid_worker", GRID_A)
    case = start(grid)
    for seen in ("²", "x", "", "99999999999"):
        answer = grid.post(
            f"{PAGES}/instances/{case['id']}/transitions/cancel",
            data={"version": seen, "inputs.reason": "撤回"},
            headers=HTML,
        )
        assert answer.status_code == 422 and "version: 应为正整数" in answer.text, seen
    assert len(history(town, case["id"])) == 1


def test_events_name_the_account_only_when_an_account_acted(town) -> None:  # type: ignore[no-untyped-def]
    """An API key's id is not an account's id: its events carry no ``actor_id``."""
    with town.session() as session:
        key = create_api_key(
            session,
            town.kernel.access,
            name="对接系统",
            unit_code=TOWN_A,
            by="test",
            role="township_admin",
        )
    integration = TestClient(town.app, headers={"X-API-Key": key})
    by_key = moved(integration, start(integration), "dispatch")
    by_account = start(town.client_as("grid_worker", GRID_A, "wang-events"))
    with Session(town.engine) as session:
        account = session.exec(select(Account).where(col(Account.username) == "wang-events")).one()
        actors = {(e.subject, e.name): e.actor_id for e in session.exec(select(OutboxEvent))}
    subject = f"workflow_instance:{by_key['id']}"
    assert actors[(subject, "workflow.started")] is None
    assert actors[(subject, "workflow.transitioned")] is None
    assert actors[(f"workflow_instance:{by_account['id']}", "workflow.started")] == account.id


def test_who_may_take_a_transition_and_who_sees_the_instance(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    case = start(sanmin.client_as("grid_worker", GRID_A))
    grid = sanmin.client_as("grid_worker", GRID_A)
    refused = move(grid, case, "dispatch")
    assert refused.status_code == 403 and "casework.dispatch" in refused.json()["detail"]
    assert (
        move(sanmin.client_as("party_member", GRID_A), case, "cancel", reason="x").status_code
        == 403
    )
    for outsider in (
        sanmin.client_as("township_admin", TOWN_B),  # another township
        sanmin.client_as("volunteer", GRID_A),  # no casework.read
        sanmin.client_as("grid_worker", GRID_B),
    ):
        assert outsider.get(f"{API}/instances/{case['id']}").status_code == 404
        assert move(outsider, case, "cancel", reason="x").status_code == 404
    assert (
        sanmin.client_as("volunteer", GRID_A)
        .get(f"{API}/instances", params={"unit": GRID_A})
        .status_code
        == 403
    )
    wrong_step = move(grid, case, "take")
    assert wrong_step.status_code == 403  # party members only
    admin = sanmin.client_as("township_admin", TOWN_A)
    assert move(admin, case, "finish").status_code == 403
    assert move(admin, case, "fly").status_code == 404
    out_of_state = moved(admin, case, "dispatch")
    again = move(admin, out_of_state, "dispatch")
    assert again.status_code == 409 and again.json()["detail"].startswith(
        "state: 当前状态「已派单」"
    )
    assert grid.post(f"{API}/instances", json={"unit_code": GRID_B}).status_code == 404
    assert (
        grid.post(f"{API}/instances", json={"unit_code": "12"})
        .json()["detail"]
        .startswith("unit_code")
    )
    assert sanmin.anonymous.get(f"{API}/instances/{case['id']}").status_code == 401


def test_one_instance_per_subject(town) -> None:  # type: ignore[no-untyped-def]
    """Subjects are unique per workflow; the 409 names the existing instance only to whom
    may see it."""
    sanmin = town
    grid = sanmin.client_as("grid_worker", GRID_A)
    first = start(grid, subject="ticket:9")
    again = grid.post(f"{API}/instances", json={"unit_code": GRID_A, "subject": "ticket:9"})
    assert again.status_code == 409 and f"#{first['id']}" in again.json()["detail"]
    padded = grid.post(f"{API}/instances", json={"unit_code": GRID_A, "subject": " ticket:9 "})
    assert padded.status_code == 409  # the API trims the subject as the page does
    # Another grid's worker learns that the subject is taken, not which instance took it.
    other = town.client_as("grid_worker", GRID_B)
    taken = other.post(f"{API}/instances", json={"unit_code": GRID_B, "subject": "ticket:9"})
    assert taken.status_code == 409 and "#" not in taken.json()["detail"]
    assert f"instance {first['id']}" not in taken.json()["detail"]


# -- versions and concurrency ---------------------------------------------------------------


def test_a_stale_version_is_409_and_changes_nothing(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    admin = sanmin.client_as("township_admin", TOWN_A)
    case = start(admin, unit=VILLAGE_A)
    moved(admin, case, "dispatch")
    stale = move(admin, case, "cancel", reason="重复提交")  # still at version 1
    assert stale.status_code == 409 and stale.json()["detail"].startswith("version:")
    assert "当前版本 2" in stale.json()["detail"]
    assert [h.transition for h in history(sanmin, case["id"])] == [None, "dispatch"]


def test_two_concurrent_transitions_only_one_wins(town) -> None:  # type: ignore[no-untyped-def]
    """The second transition reads version 1, then (inside its guard) the first one commits:
    its conditional UPDATE finds no row at version 1 and it fails with 409."""
    sanmin = town
    case = start(sanmin.client_as("grid_worker", GRID_A))
    kernel, admin = sanmin.kernel, sanmin.actor("township_admin", TOWN_A)
    first_won: list[str] = []

    def meanwhile(instance, transition):  # type: ignore[no-untyped-def]
        if transition == "dispatch" and not first_won:
            first_won.append("cancel")
            with Session(sanmin.engine) as other:
                transition_workflow(
                    other, kernel, admin, case["id"], "cancel", 1, {"reason": "撤回"}
                )
                other.commit()

    plugin(sanmin).during_guard = meanwhile
    with Session(sanmin.engine) as session:
        with pytest.raises(WorkflowError) as lost:
            transition_workflow(session, kernel, admin, case["id"], "dispatch", 1, {})
        session.rollback()
    assert lost.value.status_code == 409 and first_won == ["cancel"]
    steps = history(sanmin, case["id"])
    assert [(h.version, h.transition) for h in steps] == [(1, None), (2, "cancel")]
    final = sanmin.client_as("township_admin", TOWN_A).get(f"{API}/instances/{case['id']}").json()
    assert (final["state"], final["version"]) == ("cancelled", 2)


def test_the_history_is_append_only_in_the_database(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    case = start(sanmin.client_as("grid_worker", GRID_A))
    for statement in (
        "UPDATE workflow_history SET actor = 'someone'",
        "DELETE FROM workflow_history",
    ):
        with pytest.raises(DBAPIError, match="append-only"), sanmin.engine.begin() as conn:
            conn.execute(text(statement))
    assert [h.actor for h in history(sanmin, case["id"])] == [case["created_by"]]


# -- deadlines ------------------------------------------------------------------------------


def test_deadlines_follow_working_days_and_overdue_instances_are_listed(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    admin = sanmin.client_as("township_admin", TOWN_A)
    late_one, closed_one = start(admin, unit=GRID_A), start(admin, unit=GRID_A)
    assert at(late_one["due_at"]) == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)  # after 国庆
    moved(admin, closed_one, "cancel", reason="不需要了")

    def overdue() -> list[int]:
        answer = admin.get(f"{API}/instances", params={"unit": TOWN_A, "overdue": "true"})
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()]

    sanmin.kernel.workflows.clock = lambda: datetime(2026, 10, 8, 15, 59, tzinfo=UTC)
    assert overdue() == []
    later = datetime(2026, 10, 8, 16, 1, tzinfo=UTC)
    sanmin.kernel.workflows.clock = lambda: later
    assert overdue() == [late_one["id"]]
    shown = admin.get(f"{API}/instances/{late_one['id']}").json()
    assert shown["overdue"] is True
    page = admin.get(f"{PAGES}/", params={"unit": TOWN_A, "overdue": "1"}, headers=HTML)
    assert page.status_code == 200 and "已超期 1 件" in page.text
    assert page.text.count('class="overdue"') == 1 and f'/instances/{late_one["id"]}"' in page.text
    dispatched = moved(admin, late_one, "dispatch")
    assert at(dispatched["due_at"]) == later + timedelta(hours=24) and not dispatched["overdue"]
    assert overdue() == []
    sanmin.kernel.workflows.clock = lambda: later + timedelta(hours=25)
    assert overdue() == [late_one["id"]]
    taken = moved(sanmin.client_as("party_member", GRID_A), dispatched, "take")
    assert taken["due_at"] is None and overdue() == []


# -- escalation -----------------------------------------------------------------------------


def test_escalate_moves_the_instance_one_level_up(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    grid = sanmin.client_as("grid_worker", GRID_A)
    case = start(grid)
    up = moved(grid, case, "escalate")
    assert (up["unit_code"], up["state"]) == (VILLAGE_A, "ordered")  # the mover sees the result
    assert (up["step"]["transition"], up["step"]["unit_code"]) == ("escalate", VILLAGE_A)
    assert grid.get(f"{API}/instances/{case['id']}").status_code == 404  # now the village's
    seen = sanmin.client_as("village_cadre", VILLAGE_A).get(f"{API}/instances/{case['id']}").json()
    assert [(h["transition"], h["unit_code"]) for h in seen["history"]] == [
        (None, GRID_A),
        ("escalate", VILLAGE_A),
    ]
    second = start(grid)
    answer = grid.post(
        f"{PAGES}/instances/{second['id']}/transitions/escalate",
        data={"version": "1"},
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith(
        f"?moved={second['id']}"
    )


def test_escalating_from_a_township_hands_the_instance_to_the_county(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    admin = sanmin.client_as("township_admin", TOWN_A)
    case = start(admin, unit=TOWN_A)
    up = moved(admin, case, "escalate")
    assert (up["unit_code"], up["version"], up["step"]["unit_code"]) == (COUNTY, 2, COUNTY)
    with Session(sanmin.engine) as session:
        row = session.get(WorkflowInstanceRow, case["id"])
        assert row is not None and (row.unit_code, row.township_code) == (COUNTY, COUNTY)
    assert admin.get(f"{API}/instances/{case['id']}").status_code == 404
    county = sanmin.client_as("county_admin", COUNTY)
    listed = county.get(f"{API}/instances", params={"unit": COUNTY}).json()
    assert [(c["id"], c["unit_code"]) for c in listed] == [(case["id"], COUNTY)]


def test_escalation_stops_where_the_plugin_is_off_above(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    admin = sanmin.client_as("township_admin", TOWN_A)
    case = start(admin, unit=TOWN_A)
    sanmin.disable("casework", COUNTY)
    sanmin.enable("casework", TOWN_A)
    refused = move(admin, case, "escalate")
    assert refused.status_code == 422 and "上级单位" in refused.json()["detail"]


# -- townships ------------------------------------------------------------------------------


def test_a_township_where_the_plugin_is_off_has_no_workflows(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    county = sanmin.client_as("county_admin", COUNTY)
    mine = start(sanmin.client_as("grid_worker", GRID_A))
    theirs = start(sanmin.client_as("grid_worker", GRID_B), unit=GRID_B)
    sanmin.disable("casework", TOWN_B)
    listed = county.get(f"{API}/instances", params={"unit": COUNTY})
    assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [mine["id"]]
    admin_b = sanmin.client_as("township_admin", TOWN_B)
    assert admin_b.get(f"{API}/instances/{theirs['id']}").status_code == 404
    assert county.get(f"{API}/instances/{theirs['id']}").json()["plugin"] == "casework"
    off = move(admin_b, theirs, "dispatch")
    assert off.status_code == 404 and off.json()["plugin"] == "casework"
    for url in (API, f"{API}/instances", f"{PAGES}/"):
        assert admin_b.get(url, params={"unit": TOWN_B}).status_code == 404, url
    assert admin_b.post(f"{API}/instances", json={"unit_code": TOWN_B}).status_code == 404
    assert [h.transition for h in history(sanmin, theirs["id"])] == [None]
    page = county.get(f"{PAGES}/", params={"unit": COUNTY}, headers=HTML)
    assert f'/instances/{mine["id"]}"' in page.text
    assert f'/instances/{theirs["id"]}"' not in page.text


def test_a_plugin_off_everywhere_lists_nothing(town) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    start(sanmin.client_as("grid_worker", GRID_A))
    sanmin.enable("casework", "330800000000")  # on at the city, off at the county below it
    sanmin.disable("casework", COUNTY)
    city = sanmin.client_as("city_admin", "330800000000")
    answer = city.get(f"{API}/instances", params={"unit": "330800000000"})
    assert answer.status_code == 200 and answer.json() == []


# -- scope ----------------------------------------------------------------------------------

SCOPED_PATHS = {
    "/api/v1/p/{plugin}/workflows/{workflow}",
    "/api/v1/p/{plugin}/workflows/{workflow}/instances",
    "/api/v1/p/{plugin}/workflows/{workflow}/instances/{instance_id}",
    "/api/v1/p/{plugin}/workflows/{workflow}/instances/{instance_id}/transitions/{transition}",
    "/p/{plugin}/workflows/{workflow}/",
    "/p/{plugin}/workflows/{workflow}/instances",
    "/p/{plugin}/workflows/{workflow}/instances/{instance_id}",
    "/p/{plugin}/workflows/{workflow}/instances/{instance_id}/transitions/{transition}",
}

SCOPE_CASES = [
    ("GET", f"{API}?unit={TOWN_A}", {}),
    ("GET", f"{API}/instances?unit={TOWN_A}", {}),
    ("POST", f"{API}/instances", {"json": {"unit_code": TOWN_A}}),
    ("GET", f"{API}/instances/{{id}}", {}),
    ("POST", f"{API}/instances/{{id}}/transitions/dispatch", {"json": {"version": 1}}),
    ("GET", f"{PAGES}/?unit={TOWN_A}", {"headers": HTML}),
    ("POST", f"{PAGES}/instances?unit={TOWN_A}", {"headers": HTML, "data": {"unit_code": TOWN_A}}),
    ("GET", f"{PAGES}/instances/{{id}}", {"headers": HTML}),
    (
        "POST",
        f"{PAGES}/instances/{{id}}/transitions/dispatch",
        {"headers": HTML, "data": {"version": "1"}},
    ),
]


def test_the_scope_cases_cover_every_workflow_route(sanmin) -> None:  # type: ignore[no-untyped-def]
    ours = {path for path, _ in all_routes(sanmin.app) if "/workflows/" in path}
    assert ours == SCOPED_PATHS


@pytest.mark.parametrize(("method", "url", "kwargs"), SCOPE_CASES, ids=lambda v: str(v)[:60])
def test_every_workflow_route_answers_404_outside_the_scope(town, method, url, kwargs) -> None:  # type: ignore[no-untyped-def]
    sanmin = town
    case = start(sanmin.client_as("township_admin", TOWN_A), unit=TOWN_A)
    sanmin.assert_scoped(
        method,
        url.format(id=case["id"]),
        role="township_admin",
        inside=TOWN_A,
        outside=TOWN_B,
        **kwargs,
    )
