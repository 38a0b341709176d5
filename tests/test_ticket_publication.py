"""公示 (``/api/v1/tickets/{id}/publication`` and the public board ``/api/v1/tickets/public``):
who may publish, when, what a summary may not hold, what the board shows without a login —
never anything of the reporter — and withdrawal. On SQLite and PostgreSQL; the clock is
fixed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.audit.models import AuditEntry
from core.testing import all_routes
from core.tickets.models import Ticket
from tests.test_tickets_api import API, GRID, NOW, OTHER_GRID, VILLAGE, act, locations, submit

BOARD = f"{API}/public"
OTHER_VILLAGE = "330802001002"
SUMMARY = "3 号楼前路灯已更换，恢复照明。"
SCOPED_PATHS = {"/api/v1/tickets/{ticket_id}/publication"}


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_GRID)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def resolved(town, reporter: TestClient | None = None, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A ticket submitted by ``reporter`` (a new resident at GRID) and resolved there."""
    ticket = submit(reporter or town.client_as("resident", GRID), **changes)
    worker = town.client_as("grid_worker", GRID)
    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "已处理"})):
        ticket = act(worker, ticket, name, **inputs)
    return ticket


def publish(client: TestClient, ticket: dict[str, Any], summary: str = SUMMARY, **more: Any):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/{ticket['id']}/publication", json={"summary": summary, **more})


def test_a_cadre_publishes_and_the_board_shows_it_without_login(town) -> None:  # type: ignore[no-untyped-def]
    cadre = town.client_as("village_cadre", VILLAGE)
    ticket = resolved(town)
    answer = publish(cadre, ticket, version=ticket["version"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["public"], answer.json()["summary"]) == (True, SUMMARY)
    board = town.anonymous.get(BOARD, params={"unit": VILLAGE})
    assert board.status_code == 200, board.text
    [row] = board.json()
    assert row == {
        "id": ticket["id"],
        "type_label": "公共维修",
        "unit_name": f"测试网格{GRID}",
        "state_label": "已办结",
        "submitted_on": "2026-11-27",
        "resolved_on": "2026-11-27",
        "summary": SUMMARY,
        "rating_label": None,
        "published_at": answer.json()["published_at"],
    }
    for personal in ("王小明", "13812345678", "路灯不亮", "3 号楼前路灯坏了一周"):
        assert personal not in board.text
    assert town.anonymous.get(BOARD, params={"unit": OTHER_VILLAGE}).json() == []
    assert cadre.get(f"{API}/{ticket['id']}").json()["public"] is True
    with town.session() as session:
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "ticket.published"))
        assert [e.after for e in audited] == [{"public": True, "summary": SUMMARY}]


def test_a_rated_confidential_complaint_shows_no_reporter(town) -> None:  # type: ignore[no-untyped-def]
    reporter = town.client_as("resident", GRID)
    ticket = resolved(town, reporter, kind="complaint", title="餐馆油烟扰民")
    assert ticket["confidential"] is True
    cadre = town.client_as("village_cadre", VILLAGE)
    visited = act(cadre, ticket, "visit", note="电话回访")
    rated = reporter.post(
        f"{API}/{ticket['id']}/rating", json={"version": visited["version"], "rating": 5}
    )
    assert rated.status_code == 200 and rated.json()["state"] == "rated"
    assert publish(cadre, ticket, "油烟扰民问题已整改到位。").status_code == 200
    board = town.anonymous.get(BOARD, params={"unit": GRID})
    [row] = board.json()
    assert (row["type_label"], row["state_label"], row["rating_label"]) == (
        "投诉举报",
        "已评价",
        "满意",
    )
    assert not {"reporter_name", "reporter_phone", "reporter_account_id", "title"} & set(row)
    for personal in ("王小明", "13812345678", "餐馆油烟扰民", "某餐馆"):
        assert personal not in board.text


def test_who_and_when(town) -> None:  # type: ignore[no-untyped-def]
    cadre = town.client_as("village_cadre", VILLAGE)
    worker = town.client_as("grid_worker", GRID)
    ticket = resolved(town)
    refused = publish(worker, ticket)
    assert refused.status_code == 403
    assert publish(town.client_as("resident", GRID), ticket).status_code == 404
    fresh = submit(town.client_as("resident", GRID))
    early = publish(cadre, fresh)
    assert early.status_code == 409 and early.json()["detail"].startswith("state:")
    stale = publish(cadre, ticket, version=ticket["version"] - 1)
    assert stale.status_code == 409 and stale.json()["detail"].startswith("version:")
    assert town.anonymous.get(BOARD, params={"unit": GRID}).json() == []


def test_legal_disputes_are_never_published(town) -> None:  # type: ignore[no-untyped-def]
    ticket = resolved(town, kind="legal_dispute", title="邻里纠纷")
    cadre = town.client_as("village_cadre", VILLAGE)
    assert locations(publish(cadre, ticket, "纠纷已调解。")) == [["path", "ticket_id"]]
    with town.session() as session:
        row = session.get(Ticket, ticket["id"])
        assert row is not None and row.public is False
        row.public, row.public_summary = True, "纠纷已调解。"  # whatever a row says
    assert town.anonymous.get(BOARD, params={"unit": GRID}).json() == []


@pytest.mark.parametrize(
    "summary",
    [
        "王小明反映的路灯已修好",  # the reporter's name
        "已电话告知 13812345678",  # the reporter's phone
        "联系人电话 139-0000-1111",  # any mobile number, however written
        "涉及 33080219800101123X 的房屋",  # an ID number
        " ",
        "长" * 501,
    ],
)
def test_a_summary_with_personal_data_is_refused(town, summary) -> None:  # type: ignore[no-untyped-def]
    ticket = resolved(town)
    cadre = town.client_as("village_cadre", VILLAGE)
    assert locations(publish(cadre, ticket, summary)) == [["body", "summary"]]
    with town.session() as session:
        row = session.get(Ticket, ticket["id"])
        assert row is not None and (row.public, row.public_summary) == (False, None)


def test_withdrawal_and_reopening_take_it_off_the_board(town) -> None:  # type: ignore[no-untyped-def]
    cadre = town.client_as("village_cadre", VILLAGE)
    first, second = resolved(town), resolved(town)
    for ticket in (first, second):
        assert publish(cadre, ticket).status_code == 200
    listed = town.anonymous.get(BOARD, params={"unit": GRID, "limit": 1, "offset": 1}).json()
    assert [t["id"] for t in listed] == [first["id"]]
    gone = cadre.delete(f"{API}/{first['id']}/publication")
    assert gone.status_code == 200 and gone.json() == {
        "ticket_id": first["id"],
        "public": False,
        "summary": None,
        "published_at": None,
    }
    assert cadre.delete(f"{API}/{first['id']}/publication").status_code == 200  # already off
    assert [t["id"] for t in town.anonymous.get(BOARD, params={"unit": GRID}).json()] == [
        second["id"]
    ]
    assert (
        town.client_as("grid_worker", GRID).delete(f"{API}/{second['id']}/publication").status_code
        == 403
    )
    with town.session() as session:
        withdrawn = session.exec(
            select(AuditEntry).where(AuditEntry.action == "ticket.unpublished")
        ).all()
        assert [e.target_id for e in withdrawn] == [str(first["id"])]


def test_a_reopened_ticket_leaves_the_board(town) -> None:  # type: ignore[no-untyped-def]
    reporter = town.client_as("resident", GRID)
    ticket = resolved(town, reporter)
    assert publish(town.client_as("village_cadre", VILLAGE), ticket).status_code == 200
    unhappy = reporter.post(
        f"{API}/{ticket['id']}/rating", json={"version": ticket["version"], "rating": 1}
    )
    assert unhappy.status_code == 200 and unhappy.json()["state"] == "accepted"
    assert town.anonymous.get(BOARD, params={"unit": GRID}).json() == []


def test_the_board_names_bad_queries(town) -> None:  # type: ignore[no-untyped-def]
    assert locations(town.anonymous.get(BOARD)) == [["query", "unit"]]
    assert locations(town.anonymous.get(BOARD, params={"unit": "12"})) == [["query", "unit"]]
    assert locations(town.anonymous.get(BOARD, params={"unit": GRID, "limit": 101})) == [
        ["query", "limit"]
    ]


def test_every_route_answers_404_outside_the_scope(town) -> None:  # type: ignore[no-untyped-def]
    ours = {path for path, _ in all_routes(town.app) if "publication" in path or "public" in path}
    assert ours == SCOPED_PATHS | {BOARD, "/tickets/public"}  # the board, as data and page
    ticket = resolved(town)
    url = f"{API}/{ticket['id']}/publication"
    for method, body in (("POST", {"summary": SUMMARY}), ("DELETE", None)):
        town.assert_scoped(
            method, url, role="village_cadre", inside=VILLAGE, outside=OTHER_VILLAGE, json=body
        )


def test_the_board_page_shows_it_to_anyone_without_personal_data(town) -> None:  # type: ignore[no-untyped-def]
    ticket = resolved(town)
    assert publish(town.client_as("village_cadre", VILLAGE), ticket).status_code == 200
    html = {"Accept": "text/html"}
    page = town.anonymous.get("/tickets/public", params={"unit": VILLAGE}, headers=html)
    assert page.status_code == 200, page.text
    assert (
        "公示栏" in page.text
        and SUMMARY in page.text
        and f'data-ticket="{ticket["id"]}"' in page.text
    )
    for personal in ("王小明", "13812345678", "路灯不亮", "3 号楼前路灯坏了一周"):
        assert personal not in page.text
    elsewhere = town.anonymous.get("/tickets/public", params={"unit": OTHER_VILLAGE}, headers=html)
    assert "暂无公示事项" in elsewhere.text
    everything = town.anonymous.get("/tickets/public", headers=html)
    assert SUMMARY in everything.text
    bad = town.anonymous.get("/tickets/public", params={"unit": "12"}, headers=html)
    assert bad.status_code == 422
