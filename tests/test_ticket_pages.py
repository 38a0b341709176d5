"""The tickets' pages (``/tickets/…``): a resident submits from the grid of types and the form,
staff take each step from the ticket page with the version they saw (a stale one shows the
409 message on the page), the resident rates; a double submit makes one ticket, refused input
is shown next to its field, the inbox orders by deadline and marks the overdue, and every page
answers 404 outside the viewer's scope. On SQLite and PostgreSQL; the clock is fixed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.tickets.models import Ticket
from tests.test_ticket_service import EXTRA

GRID = "330802001001001"
OTHER_GRID = "330802001002001"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
# every page route, each checked in test_the_pages_answer_404_outside_the_scope
# (tests/test_scope_everywhere.py)
SCOPED_PATHS = {
    "/tickets/new",
    "/tickets/new/{kind}",
    "/tickets/mine",
    "/tickets/inbox",
    "/tickets/{ticket_id}",
    "/tickets/{ticket_id}/transitions/{name}",
    "/tickets/{ticket_id}/rating",
    "/tickets/{ticket_id}/cancel",
    "/tickets/{ticket_id}/photos",  # its 404 outside: tests/test_ticket_page_photos.py
}
KEY = re.compile(r'name="submission_key" value="([^"]+)"')


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_GRID)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def form_value(value: Any) -> str:
    """A JSON value as the form posts it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ticket_form(kind: str = "public_repair", **changes: str) -> dict[str, str]:
    data = {
        "title": "路灯不亮",
        "description": "3 号楼前路灯坏了一周",
        "address": "幸福路 3 号",
        "priority": "normal",
        "reporter_name": "王小明",
        "reporter_phone": "13812345678",
        **{f"extra.{name}": form_value(value) for name, value in EXTRA[kind].items()},
    }
    return {**data, **changes}


def open_form(client: TestClient, kind: str) -> str:
    """The create page of ``kind``; returns its submission key."""
    page = client.get(f"/tickets/new/{kind}")
    assert page.status_code == 200, page.text
    found = KEY.search(page.text)
    assert found is not None
    return found.group(1)


def submit(client: TestClient, kind: str = "public_repair", **changes: str) -> int:
    """Submit through the form as the resident does; returns the new ticket's id."""
    key = open_form(client, kind)
    data = {**ticket_form(kind, **changes), "submission_key": key, "unit_code": GRID}
    answer = client.post(f"/tickets/new/{kind}", data=data, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/tickets/(\d+)\?done=new", answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return int(found.group(1))


def version_on(page: str, form_id: str) -> str:
    """The hidden version of the form ``form_id`` on a ticket page."""
    found = re.search(
        rf'id="{form_id}"[^>]*>\s*<input[^>]*>\s*<input type="hidden" '
        r'name="version" value="(\d+)"',
        page,
    )
    assert found is not None, f"no form {form_id}"
    return found.group(1)


def step(client: TestClient, ticket_id: int, name: str, **inputs: str) -> None:
    """Take step ``name`` from the ticket page, with the version the page shows."""
    page = client.get(f"/tickets/{ticket_id}").text
    data = {"version": version_on(page, f"step-{name}")}
    data |= {f"inputs.{key}": value for key, value in inputs.items()}
    answer = client.post(
        f"/tickets/{ticket_id}/transitions/{name}", data=data, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/tickets/{ticket_id}?done={name}"


def state_of(town, ticket_id: int) -> str:  # type: ignore[no-untyped-def]
    with town.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.state


@pytest.mark.parametrize("kind", list(EXTRA))  # the six core types
def test_a_request_goes_round_the_loop_through_the_pages(town, kind) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    grid = resident.get("/tickets/new")
    assert grid.status_code == 200
    assert f'href="/tickets/new/{kind}?unit={GRID}"' in grid.text
    assert all(f"/tickets/new/{c}?unit=" in grid.text for c in EXTRA)  # the six core types

    ticket_id = submit(resident, kind)
    mine = resident.get(f"/tickets/{ticket_id}?done=new").text
    assert "诉求已提交" in mine and "已提交" in mine
    assert 'id="cancel"' in mine and 'id="rate"' not in mine and 'id="step-' not in mine
    assert f'href="/tickets/{ticket_id}"' in resident.get("/tickets/mine").text

    inbox = worker.get("/tickets/inbox")
    assert inbox.status_code == 200 and f'data-ticket="{ticket_id}"' in inbox.text
    step(worker, ticket_id, "accept", note="已受理")
    step(worker, ticket_id, "sign")
    # a second look at a page rendered before signing: the stale version, on the page
    stale = worker.post(
        f"/tickets/{ticket_id}/transitions/resolve",
        data={"version": "2", "inputs.result": "已修好"},
        follow_redirects=False,
    )
    assert stale.status_code == 409
    assert 'role="alert"' in stale.text and "该流程已被他人更新（当前版本 3）" in stale.text
    assert 'id="error-resolve"' in stale.text and "已修好" in stale.text  # what was typed
    assert version_on(stale.text, "step-resolve") == "3"
    assert state_of(town, ticket_id) == "in_progress"
    step(worker, ticket_id, "resolve", result="已修好")

    page = resident.get(f"/tickets/{ticket_id}").text
    assert 'id="rate"' in page and "很满意" in page and "不满意" in page
    rated = resident.post(
        f"/tickets/{ticket_id}/rating",
        data={
            "version": version_on(page, "rate"),
            "rating": "5",
            "solved": "yes",
            "comment": "很及时",
        },
        follow_redirects=False,
    )
    assert rated.status_code == 303 and rated.headers["location"].endswith("?done=rate")
    done = resident.get(f"/tickets/{ticket_id}").text
    assert "已评价" in done and "很满意 · 问题已解决 · 很及时" in done
    with town.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.state, ticket.rating, ticket.solved) == ("rated", 5, True)
        assert ticket.extra.items() >= EXTRA[kind].items()  # with the defaults
        assert ticket.address == "幸福路 3 号"


def test_a_double_submit_makes_one_ticket(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    key = open_form(resident, "estate")
    data = {**ticket_form("estate"), "submission_key": key, "unit_code": GRID}
    first = resident.post("/tickets/new/estate", data=data, follow_redirects=False)
    again = resident.post("/tickets/new/estate", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert open_form(resident, "estate") != key  # each rendered form has its own key
    with town.session() as session:
        assert len(session.exec(select(Ticket)).all()) == 1
    # the form sent back and edited: the key made a ticket already, the page offers a new one
    edited = resident.post("/tickets/new/estate", data={**data, "title": "车位被占"})
    assert edited.status_code == 422 and "该键已用于另一内容不同的请求" in edited.text
    fresh = KEY.search(edited.text)
    assert fresh is not None and fresh.group(1) != key
    assert 'value="车位被占"' in edited.text
    second = {**data, "title": "车位被占", "submission_key": fresh.group(1)}
    answer = resident.post("/tickets/new/estate", data=second, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] != first.headers["location"]
    with town.session() as session:
        assert len(session.exec(select(Ticket)).all()) == 2


def test_refused_input_is_shown_next_to_its_field(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    key = open_form(resident, "public_repair")
    data = {**ticket_form(title="  ", **{"extra.facility": ""}), "submission_key": key}
    answer = resident.post("/tickets/new/public_repair", data=data)
    assert answer.status_code == 422
    assert re.search(r'id="f-title-error">[^<]*为必填项', answer.text)
    assert 'aria-describedby="f-title-error"' in answer.text
    assert "3 号楼前路灯坏了一周" in answer.text  # what was typed is kept
    assert f'value="{key}"' in answer.text  # the same form, the same key

    answer = resident.post(
        "/tickets/new/public_repair",
        data={**ticket_form(**{"extra.facility": ""}), "submission_key": key},
    )
    assert answer.status_code == 422
    assert re.search(r'id="f-extra-facility-error">[^<]*(必填|required)', answer.text)

    answer = resident.post(
        "/tickets/new/public_repair",
        data={**ticket_form(reporter_phone="12ab"), "submission_key": key},
    )
    assert answer.status_code == 422
    assert re.search(r'id="f-reporter-phone-error">[^<]*7–20 位数字', answer.text)

    answer = resident.post(
        "/tickets/new/complaint",
        data={**ticket_form("complaint", anonymous="1", reporter_phone="")},
    )
    assert answer.status_code == 422
    assert re.search(r'id="f-reporter-phone-error">[^<]*匿名提交须留联系电话', answer.text)

    answer = resident.post("/tickets/new/public_repair", data={**ticket_form(title="灯" * 101)})
    assert answer.status_code == 422 and 'id="f-title-error"' in answer.text
    with town.session() as session:
        assert session.exec(select(Ticket)).all() == []


def test_staff_may_report_on_behalf_residents_may_not(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    assert 'name="on_behalf"' not in resident.get("/tickets/new/public_repair").text
    assert 'name="on_behalf"' in worker.get("/tickets/new/public_repair").text
    ticket_id = submit(worker, on_behalf="1", channel="door_knock", reporter_name="李大妈")
    with town.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.reporter_account_id is None and ticket.reported_by is not None
        assert (ticket.channel, ticket.reporter_name) == ("door_knock", "李大妈")
    own = submit(resident, on_behalf="1", channel="hotline")  # ignored: not staff
    with town.session() as session:
        ticket = session.get(Ticket, own)
        assert ticket is not None
        assert ticket.reported_by is None and ticket.channel == "web"


def test_the_reporter_cancels_and_the_confidential_reporter_is_hidden(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket_id = submit(resident, "complaint", title="餐馆油烟扰民")
    worker_page = town.client_as("grid_worker", GRID).get(f"/tickets/{ticket_id}").text
    assert "提交人信息保密" in worker_page
    assert "王小明" not in worker_page and "13812345678" not in worker_page
    assert "王小明" in resident.get(f"/tickets/{ticket_id}").text
    page = resident.get(f"/tickets/{ticket_id}").text
    refused = resident.post(
        f"/tickets/{ticket_id}/cancel", data={"version": version_on(page, "cancel"), "reason": ""}
    )
    assert refused.status_code == 422 and 'id="error-cancel"' in refused.text
    cancelled = resident.post(
        f"/tickets/{ticket_id}/cancel",
        data={"version": version_on(page, "cancel"), "reason": "已自行解决"},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert state_of(town, ticket_id) == "cancelled"
    assert "已撤销" in resident.get(f"/tickets/{ticket_id}?done=cancel").text


def test_the_inbox_is_due_soonest_first_with_the_overdue_marked(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    later = submit(resident, "complaint", title="噪音")  # respond within 1 working day
    sooner = submit(resident, "home_repair", title="水管漏水", priority="urgent")  # 1 hour
    worker = town.client_as("grid_worker", GRID)
    rows = re.findall(r'data-ticket="(\d+)"', worker.get("/tickets/inbox").text)
    assert rows == [str(sooner), str(later)]
    assert "已超时" not in worker.get("/tickets/inbox").text
    town.kernel.workflows.clock = lambda: NOW + timedelta(hours=3)
    inbox = worker.get("/tickets/inbox").text
    assert re.search(rf'<tr class="overdue" data-ticket="{sooner}">', inbox)
    assert inbox.count("已超时") == 1
    assert "已超时" in worker.get(f"/tickets/{sooner}").text
    only = worker.get("/tickets/inbox?type=complaint").text
    assert re.findall(r'data-ticket="(\d+)"', only) == [str(later)]
    assert re.findall(r'data-ticket="(\d+)"', worker.get("/tickets/inbox?state=rated").text) == []
    bad = worker.get("/tickets/inbox?state=nonsense")
    assert bad.status_code == 422 and "state: " in bad.text


def test_an_escalation_sends_the_worker_back_to_the_inbox(town) -> None:  # type: ignore[no-untyped-def]
    ticket_id = submit(town.client_as("resident", GRID))
    worker = town.client_as("grid_worker", GRID)
    page = worker.get(f"/tickets/{ticket_id}").text
    answer = worker.post(
        f"/tickets/{ticket_id}/transitions/escalate",
        data={"version": version_on(page, "step-escalate"), "inputs.reason": "需村里协调"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/tickets/inbox?moved={ticket_id}"
    assert "已上报" in worker.get(answer.headers["location"]).text
    assert worker.get(f"/tickets/{ticket_id}").status_code == 404
    cadre = town.client_as("village_cadre", GRID[:12])
    assert f'data-ticket="{ticket_id}"' in cadre.get("/tickets/inbox").text


def test_the_menu_shows_each_their_entries(town) -> None:  # type: ignore[no-untyped-def]
    resident_menu = town.client_as("resident", GRID).get("/tickets/mine").text
    worker_menu = town.client_as("grid_worker", GRID).get("/tickets/inbox").text
    for label in ("提交诉求", "我的诉求"):
        assert f'<a href="/tickets/{"new" if label == "提交诉求" else "mine"}">{label}</a>' in (
            resident_menu
        )
    assert '<a href="/tickets/inbox">工单待办</a>' not in resident_menu
    assert '<a href="/tickets/inbox">工单待办</a>' in worker_menu
    assert town.client_as("resident", GRID).get("/tickets/inbox").status_code == 403


def test_the_pages_answer_404_outside_the_scope(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket_id = submit(resident)
    url = f"/tickets/{ticket_id}"
    seen = town.assert_scoped("GET", url, role="grid_worker", inside=GRID, outside=OTHER_GRID)
    assert "路灯不亮" in seen.text
    inbox = town.assert_scoped(
        "GET", f"/tickets/inbox?under={GRID}", role="grid_worker", inside=GRID, outside=OTHER_GRID
    )
    assert f'data-ticket="{ticket_id}"' in inbox.text
    outside = town.client_as("grid_worker", OTHER_GRID)
    assert f'data-ticket="{ticket_id}"' not in outside.get("/tickets/inbox").text
    for method, path, data in (
        ("POST", f"{url}/transitions/accept", {"version": "1"}),
        ("POST", f"{url}/rating", {"version": "1", "rating": "5"}),
        ("POST", f"{url}/cancel", {"version": "1", "reason": "不需要了"}),
    ):
        assert outside.request(method, path, data=data).status_code == 404
        stranger = town.client_as("resident", OTHER_GRID)
        assert stranger.request(method, path, data=data).status_code == 404
    neighbour = town.client_as("resident", OTHER_GRID)
    assert neighbour.get(url).status_code == 404
    assert f'href="{url}"' not in neighbour.get("/tickets/mine").text
    town.assert_scoped(
        "GET", f"/tickets/new?unit={GRID}", role="resident", inside=GRID, outside=OTHER_GRID
    )
    town.assert_scoped(
        "GET",
        f"/tickets/new/public_repair?unit={GRID}",
        role="resident",
        inside=GRID,
        outside=OTHER_GRID,
    )
    with town.session() as session:
        assert session.exec(select(Ticket)).one().state == "submitted"


def test_the_home_page_is_the_resident_s_portal(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    first = resident.get("/").text
    assert "我要反映" in first and "您还没有提交过诉求。" in first
    grid = re.search(r'<ul class="ticket-types" id="ticket-types">(.*?)</ul>', first, re.S)
    assert grid is not None  # one tap on a type opens its form
    assert {f'href="/tickets/new/{kind}?unit={GRID}"' for kind in EXTRA} <= set(
        re.findall(r'href="[^"]+"', grid.group(1))
    )
    ticket_ids = [submit(resident, title=f"诉求{n}") for n in range(4)]
    mine = re.search(r'id="portal-mine-list">(.*?)</ul>', resident.get("/").text, re.S)
    assert mine is not None  # the newest three, newest first
    shown = [int(i) for i in re.findall(r'href="/tickets/(\d+)"', mine.group(1))]
    assert shown == ticket_ids[:0:-1]
    assert "进入工作台" not in first and 'href="/tickets/public"' in first
    staff = town.client_as("grid_worker", GRID).get("/").text
    assert "进入工作台" in staff and "我要反映" not in staff
