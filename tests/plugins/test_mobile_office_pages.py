"""民情直通车's pages, driven as a browser without JavaScript would (forms posted, redirects
followed), and its tables: the migration matches the models.

Every test runs on SQLite and on PostgreSQL (the ``sanmin`` fixture).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from core.testing import Sanmin

PLUGIN = "mobile_office"
PAGES = f"/p/{PLUGIN}"
API = f"/api/v1/p/{PLUGIN}"
COUNTY, LIANHUA, VILLAGE = "330803000000", "330803104000", "330803104001"
UNIT = {"unit": LIANHUA}


@pytest.fixture
def sanmin_plugins() -> list[str]:
    """This plugin and Sanmin's core plugins."""
    return [PLUGIN]


@pytest.fixture
def lianhua(sanmin: Sanmin) -> Sanmin:
    """衢江区's 莲花镇 and 莲花村, with the plugin on for the county."""
    for code, name in ((COUNTY, "衢江区"), (LIANHUA, "莲花镇"), (VILLAGE, "莲花村")):
        sanmin.unit(code, name)
    sanmin.enable(PLUGIN, COUNTY)
    return sanmin


def redirected_id(answer: Any, kind: str) -> int:
    """The id in the ``Location`` a successful form post redirects to."""
    assert answer.status_code == 303, answer.text[:500]
    found = re.search(rf"{PAGES}/{kind}/(\d+)\?", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def error_next_to(html: str, field: str) -> str:
    """The message shown next to a form field (``<p class="bad" id="f-…-error">``)."""
    found = re.search(rf'id="f-{field}-error">([^<]*)<', html)
    assert found, f"no message next to {field}"
    return found.group(1)


def intake(client: Any, **fields: str) -> Any:
    data = {
        "caller_name": "赵六",
        "caller_phone": "13700001234",
        "unit_code": VILLAGE,
        "category": "矛盾纠纷",
        "question": "邻里因排水沟发生争执",
        "urgency": "urgent",
        "submission_key": "form-1",
        **fields,
    }
    return client.post(f"{PAGES}/calls/new", params=UNIT, data=data, follow_redirects=False)


def test_intake_form_registers_a_call_once_and_shows_errors_by_field(lianhua: Sanmin) -> None:
    operator = lianhua.client_as("mobile_office_operator", LIANHUA)
    form = operator.get(f"{PAGES}/calls/new", params=UNIT)
    assert form.status_code == 200
    assert 'name="csrf_token"' in form.text and "莲花村" in form.text
    refused = intake(operator, caller_phone="12a", question="")
    assert refused.status_code == 422
    assert "格式不对" in error_next_to(refused.text, "caller-phone")
    assert "不能为空" in error_next_to(refused.text, "question")
    assert 'value="赵六"' in refused.text  # what was typed is kept
    call_id = redirected_id(intake(operator), "calls")
    assert redirected_id(intake(operator), "calls") == call_id  # a double submit: one call
    page = operator.get(f"{PAGES}/calls/{call_id}", params={**UNIT, "done": "call"})
    assert "来电已登记" in page.text and "13700001234" in page.text
    assert 'data-state="received"' in page.text


def test_the_duty_leader_triages_from_the_board_through_the_forms(lianhua: Sanmin) -> None:
    operator = lianhua.client_as("mobile_office_operator", LIANHUA)
    leader = lianhua.client_as("mobile_office_duty_leader", LIANHUA)
    crew = lianhua.account("mobile_office_crew", LIANHUA)
    answered = redirected_id(intake(operator, submission_key="a"), "calls")
    sent = redirected_id(intake(operator, submission_key="b", caller_name="钱七"), "calls")
    board = leader.get(f"{PAGES}/board", params=UNIT).text
    assert "待研判（2）" in board and "钱七" in board

    triage = f"{PAGES}/calls/{answered}/triage"
    empty = leader.post(triage, params=UNIT, data={"version": "1", "decision": "answer"})
    assert empty.status_code == 422
    assert "请填写答复内容" in error_next_to(empty.text, "answer")
    done = leader.post(
        triage,
        params=UNIT,
        data={"version": "1", "decision": "answer", "answer": "已协调村干部处理"},
    )
    assert done.status_code == 200 and 'data-state="answered"' in done.text
    stale = leader.post(
        triage, params=UNIT, data={"version": "1", "decision": "answer", "answer": "再答一次"}
    )
    assert stale.status_code == 409 and "版本" in stale.text

    new_trip = leader.get(f"{PAGES}/trips/new", params={**UNIT, "call": sent})
    assert f'value="{sent}" checked' in new_trip.text
    data = {"destination": "莲花村排水沟", "unit_code": VILLAGE, "crew": str(crew.id)}
    trip_id = redirected_id(
        leader.post(
            f"{PAGES}/trips/new",
            params=UNIT,
            data={**data, "call_ids": str(sent)},
            follow_redirects=False,
        ),
        "trips",
    )
    sheet = leader.get(f"{PAGES}/trips/{trip_id}", params=UNIT).text
    assert 'data-state="planned"' in sheet and "钱七" in sheet
    for move, state in (("depart", "departed"), ("arrive", "arrived")):
        version = re.search(r'name="version" value="(\d+)"', sheet)
        assert version
        moved = leader.post(
            f"{PAGES}/trips/{trip_id}/move",
            params=UNIT,
            data={"move": move, "version": version.group(1)},
        )
        assert f'data-state="{state}"' in moved.text
        sheet = moved.text
    record = {"call_id": str(sent), "findings": "排水沟被堵", "result": "scheduled"}
    refused = leader.post(f"{PAGES}/trips/{trip_id}/records/new", params=UNIT, data=record)
    assert refused.status_code == 422
    assert "约定日期" in error_next_to(refused.text, "promised-on")
    record["result"] = "resolved"
    saved = leader.post(f"{PAGES}/trips/{trip_id}/records/new", params=UNIT, data=record)
    assert saved.status_code == 200 and "当场办结" in saved.text
    assert lianhua.client.get(f"{API}/calls/{sent}", params=UNIT).json()["state"] == "resolved"


def test_transfer_page_shows_the_chosen_type_and_its_fields(lianhua: Sanmin) -> None:
    operator = lianhua.client_as("mobile_office_operator", LIANHUA)
    leader = lianhua.client_as("mobile_office_duty_leader", LIANHUA)
    call_id = redirected_id(intake(operator), "calls")
    transfer = f"{PAGES}/calls/{call_id}/transfer"
    page = leader.get(transfer, params=UNIT).text  # 矛盾纠纷: 法律纠纷 by default
    assert 'name="ticket.extra.dispute_kind"' in page
    repair = leader.get(transfer, params={**UNIT, "type": "public_repair"}).text
    assert 'name="ticket.extra.facility"' in repair
    form = {"version": "1", "ticket.type": "legal_dispute", "ticket.priority": "urgent"}
    missing = leader.post(transfer, params=UNIT, data=form)
    assert missing.status_code == 422
    assert error_next_to(missing.text, "ticket-extra-parties")
    form |= {"ticket.extra.parties": "两户邻居", "ticket.extra.dispute_kind": "邻里"}
    done = leader.post(transfer, params=UNIT, data=form)
    assert done.status_code == 200 and 'data-state="transferred"' in done.text
    ticket_id = lianhua.client.get(f"{API}/calls/{call_id}", params=UNIT).json()["ticket_id"]
    ticket = lianhua.client.get(f"/api/v1/tickets/{ticket_id}").json()
    assert (ticket["priority"], ticket["channel"]) == ("urgent", "hotline")


def test_the_ledger_page_shows_why_the_day_cannot_close(lianhua: Sanmin) -> None:
    operator = lianhua.client_as("mobile_office_operator", LIANHUA)
    leader = lianhua.client_as("mobile_office_duty_leader", LIANHUA)
    call_id = redirected_id(intake(operator), "calls")
    page = leader.get(f"{PAGES}/ledger", params=UNIT)
    assert 'data-closed="false"' in page.text and 'id="close-form"' in page.text
    day = re.search(r'name="day" value="([\d-]+)"', page.text)
    assert day
    refused = leader.post(f"{PAGES}/ledger/close", params=UNIT, data={"day": day.group(1)})
    assert refused.status_code == 409
    assert "未处置" in refused.text and f"#{call_id} 赵六" in refused.text
    assert 'id="close-form"' not in operator.get(f"{PAGES}/ledger", params=UNIT).text
    leader.post(
        f"{PAGES}/calls/{call_id}/triage",
        params=UNIT,
        data={"version": "1", "decision": "answer", "answer": "已答复"},
    )
    closed = leader.post(f"{PAGES}/ledger/close", params=UNIT, data={"day": day.group(1)})
    assert closed.status_code == 200 and 'data-closed="true"' in closed.text
    assert "已日清日结" in closed.text


def test_forms_posted_with_a_session_cookie_need_the_csrf_token(lianhua: Sanmin) -> None:
    from fastapi.testclient import TestClient

    from core.testing import TEST_PASSWORD

    lianhua.account("mobile_office_operator", LIANHUA, "hotline-operator")
    browser = TestClient(lianhua.app)
    login = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert login
    credentials = {"username": "hotline-operator", "password": TEST_PASSWORD}
    signed_in = browser.post(
        "/login", data={**credentials, "csrf_token": login.group(1)}, follow_redirects=False
    )
    assert signed_in.status_code == 303, signed_in.text[:300]
    form = browser.get(f"{PAGES}/calls/new", params=UNIT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    assert intake(browser).status_code == 403  # no token
    assert redirected_id(intake(browser, csrf_token=token.group(1)), "calls") >= 1


def panel(page: str, title: str) -> str | None:
    """The HTML of the workbench panel titled ``title``, or ``None`` when there is none."""
    found = re.search(
        rf'<section class="panel"[^>]*>\s*<h2[^>]*>{title}(.*?)</section>', page, re.S
    )
    return found.group(1) if found else None


def test_the_workbench_shows_the_calls_without_an_outcome_to_the_hotline(
    lianhua: Sanmin,
) -> None:
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
    lianhua.kernel.workflows.clock = lambda: now
    leader = lianhua.client_as("mobile_office_duty_leader", LIANHUA)

    def call(name: str, received: datetime, urgency: str = "normal") -> int:
        body = {
            "caller_name": name,
            "caller_phone": "13700001234",
            "unit_code": VILLAGE,
            "category": "矛盾纠纷",
            "question": f"{name}反映邻里因排水沟发生争执",
            "urgency": urgency,
            "received_at": received.isoformat(),
        }
        answer = leader.post(f"{API}/calls", params=UNIT, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    late = call("赵六", now - timedelta(days=2))  # a normal call from Wednesday: overdue
    urgent = call("钱七", now - timedelta(hours=1), "urgent")
    sent = call("孙八", now - timedelta(minutes=30))
    answered = call("李九", now - timedelta(minutes=20))
    crew = lianhua.account("mobile_office_crew", LIANHUA)
    trip = {"destination": "莲花村", "unit_code": VILLAGE, "crew": [crew.id], "call_ids": [sent]}
    assert leader.post(f"{API}/trips", params=UNIT, json=trip).status_code == 201
    triage = {"version": 1, "decision": "answer", "answer": "已答复"}
    assert leader.post(f"{API}/calls/{answered}/triage", params=UNIT, json=triage).is_success

    for role in ("mobile_office_duty_leader", "mobile_office_operator"):
        page = lianhua.client_as(role, LIANHUA).get("/admin").text
        shown = panel(page, "待处置来电")
        assert shown is not None, role
        assert "3 件未处置，2 件待研判" in shown
        links = [f'href="{PAGES}/calls/{i}?unit={LIANHUA}"' for i in (urgent, late, sent)]
        places = [shown.index(link) for link in links]  # urgent first, then the oldest
        assert places == sorted(places)
        assert f"{PAGES}/calls/{answered}?" not in shown
        assert "紧急 · 待研判" in shown and "已超时 · 待研判" in shown and "已派车" in shown
        assert f'href="{PAGES}/board?unit={LIANHUA}"' in shown

    for role in ("mobile_office_crew", "township_admin"):  # they read calls, take none
        assert panel(lianhua.client_as(role, LIANHUA).get("/admin").text, "待处置来电") is None
    lianhua.disable(PLUGIN, LIANHUA)
    assert panel(leader.get("/admin").text, "待处置来电") is None


def test_migration_created_the_tables_and_matches_the_models(lianhua: Sanmin) -> None:
    inspector = inspect(lianhua.engine)
    assert inspector.has_table(f"{PLUGIN}_alembic_version")
    tables = {"call", "trip", "trip_crew", "trip_ticket", "record", "ledger"}
    assert {t for t in tables if inspector.has_table(f"{PLUGIN}_{t}")} == tables

    def plugin_tables_only(obj: object, name: str | None, type_: str, *_: object) -> bool:
        if type_ != "table":
            return True
        return (name or "").startswith(f"{PLUGIN}_") and not (name or "").endswith("_version")

    with lianhua.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": plugin_tables_only}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
