"""The tickets JSON API (``/api/v1/tickets``): the closed loop of every core type, idempotent
creation, version conflicts, scope, the reporter hidden or shown by who asks, comments, the
inbox order and 422s naming the field. On SQLite and PostgreSQL; the clock is fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.audit.models import AuditEntry
from core.tickets.api import router as tickets_router
from core.tickets.models import Ticket, TicketComment
from core.tickets.types import CORE_TYPES
from tests.test_ticket_service import EXTRA

API = "/api/v1/tickets"
GRID = "330802001001001"
OTHER_GRID = "330802001002001"
VILLAGE = "330802001001"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
# every route but ``/types`` (no records: exempt in tests/test_scope_everywhere.py), each
# checked in test_every_route_answers_404_outside_the_scope
SCOPED_PATHS = {
    "/api/v1/tickets",
    "/api/v1/tickets/{ticket_id}",
    "/api/v1/tickets/{ticket_id}/transitions/{name}",
    "/api/v1/tickets/{ticket_id}/rating",
    "/api/v1/tickets/{ticket_id}/cancel",
    "/api/v1/tickets/{ticket_id}/comments",
}


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_GRID)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def request_body(kind: str = "public_repair", **changes: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "unit_code": GRID,
        "title": "路灯不亮",
        "description": "3 号楼前路灯坏了一周",
        "extra": EXTRA[kind],
        "reporter_name": "王小明",
        "reporter_phone": "13812345678",
        **changes,
    }


def submit(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = client.post(API, json=request_body(**changes))
    assert answer.status_code == 201, answer.text
    return answer.json()


def act(client: TestClient, ticket: dict[str, Any], name: str, **inputs: Any) -> dict[str, Any]:
    answer = client.post(
        f"{API}/{ticket['id']}/transitions/{name}",
        json={"version": ticket["version"], "inputs": inputs},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def locations(answer) -> list[list[Any]]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, list), detail
    return [e["loc"] for e in detail]


@pytest.mark.parametrize("kind", [t.code for t in CORE_TYPES])
def test_each_core_type_goes_round_the_loop_through_the_api(town, kind) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    ticket = submit(resident, kind=kind)
    assert (ticket["state"], ticket["version"], ticket["mine"]) == ("submitted", 1, True)
    assert ticket["transitions"] == [] and ticket["reporter_actions"] == [
        {"name": "cancel", "label": "撤销"}
    ]
    seen = worker.get(f"{API}/{ticket['id']}").json()
    assert {"accept", "reject", "escalate"} <= {t["name"] for t in seen["transitions"]}
    assert "rate" not in {t["name"] for t in seen["transitions"]}
    ticket = act(worker, seen, "accept")
    ticket = act(worker, ticket, "sign")
    assert ticket["state"] == "in_progress" and ticket["handle_due_at"] is not None
    ticket = act(worker, ticket, "resolve", result="已处理")
    ticket = act(worker, ticket, "visit", note="电话回访，群众认可")
    assert ticket["state"] == "visited"
    mine = resident.get(f"{API}/{ticket['id']}").json()
    assert {a["name"] for a in mine["reporter_actions"]} == {"rate"}
    rated = resident.post(
        f"{API}/{ticket['id']}/rating",
        json={"version": mine["version"], "rating": 5, "comment": "很及时", "solved": True},
    )
    assert rated.status_code == 200, rated.text
    done = rated.json()
    assert (done["state"], done["satisfaction"], done["solved"]) == ("rated", "satisfied", True)
    steps = [e for e in done["timeline"] if e["kind"] == "step"]
    assert [s["transition"] for s in steps] == [None, "accept", "sign", "resolve", "visit", "rate"]
    assert steps[3]["inputs"] == {"result": "已处理"}
    assert (steps[3]["from_state_label"], steps[3]["to_state_label"]) == ("办理中", "已办结")


def test_a_retried_create_returns_the_same_ticket(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    headers = {"Idempotency-Key": "retry-1"}
    first = resident.post(API, json=request_body(), headers=headers)
    again = resident.post(API, json=request_body(), headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = resident.post(API, json=request_body(title="另一件事"), headers=headers)
    assert locations(other) == [["header", "Idempotency-Key"]]
    with town.session() as session:
        assert len(session.exec(select(Ticket)).all()) == 1


def test_a_stale_transition_is_409(town) -> None:  # type: ignore[no-untyped-def]
    ticket = submit(town.client_as("resident", GRID))
    worker = town.client_as("grid_worker", GRID)
    act(worker, ticket, "accept")
    stale = worker.post(f"{API}/{ticket['id']}/transitions/sign", json={"version": 1, "inputs": {}})
    assert stale.status_code == 409 and stale.json()["detail"].startswith("version:")
    with town.session() as session:
        assert session.get(Ticket, ticket["id"]).state == "accepted"


def test_a_ticket_is_seen_within_scope_only(town) -> None:  # type: ignore[no-untyped-def]
    ticket = submit(town.client_as("resident", GRID))
    url = f"{API}/{ticket['id']}"
    seen = town.assert_scoped("GET", url, role="grid_worker", inside=GRID, outside=OTHER_GRID)
    assert seen.json()["id"] == ticket["id"]
    assert town.client_as("resident", GRID).get(url).status_code == 404  # not the reporter
    outside = town.client_as("grid_worker", OTHER_GRID)
    moved = outside.post(f"{url}/transitions/accept", json={"version": 1, "inputs": {}})
    assert moved.status_code == 404
    assert all(t["id"] != ticket["id"] for t in outside.get(API).json())


def test_the_answer_to_a_creation_is_the_ticket_as_read_back(town) -> None:  # type: ignore[no-untyped-def]
    # the creation answers from what it wrote, without reading it back: prove they agree
    for role, unit in (("resident", GRID), ("grid_worker", GRID)):
        client = town.client_as(role, unit)
        for changes in ({}, {"kind": "complaint"}, {"on_behalf": role == "grid_worker"}):
            created = submit(client, **changes)
            assert created == client.get(f"{API}/{created['id']}").json(), (role, changes)
            assert [e["label"] for e in created["timeline"]] == ["提交"]


def test_a_confidential_reporter_is_hidden_from_a_grid_worker(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident, kind="complaint", title="餐馆油烟扰民")
    assert ticket["confidential"] and ticket["reporter_name"] == "王小明"  # the reporter's own
    resident.post(f"{API}/{ticket['id']}/comments", json={"body": "晚上最严重"})
    worker_view = town.client_as("grid_worker", GRID).get(f"{API}/{ticket['id']}").json()
    assert worker_view["reporter_hidden"] is True
    assert (
        worker_view["reporter_name"],
        worker_view["reporter_phone"],
        worker_view["reporter_account_id"],
    ) == (None, None, None)
    assert {e["actor"] for e in worker_view["timeline"]} == {"提交人"}
    assert "王小明" not in str(worker_view) and "13812345678" not in str(worker_view)
    cadre_view = town.client_as("village_cadre", VILLAGE).get(f"{API}/{ticket['id']}").json()
    assert cadre_view["reporter_hidden"] is False
    assert (cadre_view["reporter_name"], cadre_view["reporter_phone"]) == ("王小明", "13812345678")
    assert cadre_view["reporter_account_id"] is not None


def test_phones_are_masked_for_readers_who_do_not_handle_and_anonymous_names_never_shown(
    town,
) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ordinary = submit(resident)
    worker_view = town.client_as("grid_worker", GRID).get(f"{API}/{ordinary['id']}").json()
    assert (worker_view["reporter_name"], worker_view["reporter_phone"]) == (
        "王小明",
        "13812345678",  # the handler calls back (回访)
    )
    reader = town.client_as("integrator", VILLAGE).get(f"{API}/{ordinary['id']}").json()
    assert (reader["reporter_name"], reader["reporter_phone"]) == ("王小明", "138****5678")
    anonymous = submit(resident, kind="complaint", anonymous=True)
    cadre_view = town.client_as("village_cadre", VILLAGE).get(f"{API}/{anonymous['id']}").json()
    assert cadre_view["reporter_name"] is None
    assert cadre_view["reporter_phone"] == "13812345678"


def test_every_read_of_a_reporter_in_full_is_audited_except_the_reporters_own(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ordinary, anonymous = submit(resident), submit(resident, kind="complaint", anonymous=True)
    worker = town.client_as("grid_worker", GRID)
    worker.get(f"{API}/{ordinary['id']}")  # the phone in full: audited
    worker.get(f"{API}/{anonymous['id']}")  # the reporter hidden: nothing to audit
    town.client_as("integrator", VILLAGE).get(f"{API}/{ordinary['id']}")  # masked: nothing
    resident.get(f"{API}/{ordinary['id']}")  # the reporter's own: nothing
    town.client_as("village_cadre", VILLAGE).get(f"{API}/{anonymous['id']}")  # who reported
    with town.session() as session:
        reads = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "read.ticket.read_reporter")
            .order_by(AuditEntry.id)
        ).all()
    assert [(e.target_id, e.after["fields"]) for e in reads] == [
        (str(ordinary["id"]), ["reporter_phone"]),
        (str(anonymous["id"]), ["reporter_identity", "reporter_phone"]),
    ]
    assert reads[0].actor != reads[1].actor  # the worker's, then the cadre's
    assert all(e.unit_code == GRID for e in reads)


def test_comments_internal_ones_for_staff_only(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    ticket = submit(resident)
    url = f"{API}/{ticket['id']}/comments"
    assert resident.post(url, json={"body": "请尽快", "internal": True}).status_code == 403
    assert resident.post(url, json={"body": "请尽快"}).status_code == 201
    note = worker.post(url, json={"body": "需电工配合", "internal": True})
    assert note.status_code == 201 and note.json()["internal"] is True
    stranger = town.client_as("grid_worker", OTHER_GRID)
    assert stranger.post(url, json={"body": "看看"}).status_code == 404
    bodies = [
        e["body"]
        for e in resident.get(f"{API}/{ticket['id']}").json()["timeline"]
        if e["kind"] == "comment"
    ]
    assert bodies == ["请尽快"]
    staff = [
        e["body"]
        for e in worker.get(f"{API}/{ticket['id']}").json()["timeline"]
        if e["kind"] == "comment"
    ]
    assert staff == ["请尽快", "需电工配合"]
    with town.session() as session:
        assert len(session.exec(select(TicketComment)).all()) == 2
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "ticket.comment"))
        assert len(audited.all()) == 2


def test_the_inbox_lists_open_tickets_due_soonest_first(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    normal = submit(resident)  # respond within 2 hours
    urgent = submit(resident, kind="home_repair", priority="urgent")  # within 1 hour
    withdrawn = submit(resident, kind="estate")
    cancelled = resident.post(
        f"{API}/{withdrawn['id']}/cancel", json={"version": 1, "reason": "已自行解决"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    other = submit(town.client_as("resident", GRID))
    listed = worker.get(API).json()
    assert [t["id"] for t in listed] == [urgent["id"], normal["id"], other["id"], withdrawn["id"]]
    assert "reporter_name" not in listed[0]
    assert [t["id"] for t in resident.get(API, params={"mine": "true"}).json()] == [
        urgent["id"],
        normal["id"],
        withdrawn["id"],
    ]
    assert [t["id"] for t in worker.get(API, params={"state": "cancelled"}).json()] == [
        withdrawn["id"]
    ]
    assert [t["id"] for t in worker.get(API, params={"priority": "urgent"}).json()] == [
        urgent["id"]
    ]
    assert worker.get(API, params={"under": OTHER_GRID}).status_code == 404
    assert resident.get(API, params={"under": OTHER_GRID}).json() == []  # none of theirs there
    assert len(worker.get(API, params={"limit": 2, "offset": 1}).json()) == 2
    town.kernel.workflows.clock = lambda: NOW + timedelta(minutes=90)
    overdue = worker.get(API, params={"overdue": "true"}).json()
    assert [t["id"] for t in overdue] == [urgent["id"]] and overdue[0]["overdue"] is True


def test_types_offered_at_a_unit(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    types = resident.get(f"{API}/types", params={"unit": GRID}).json()
    assert [t["code"] for t in types] == [t.code for t in CORE_TYPES]
    repair = types[0]
    assert repair["label"] == "公共维修" and repair["clocks"]["normal"]["respond"]
    facility = next(f for f in repair["fields"] if f["name"] == "facility")
    assert facility["title"] == "设施类型" and facility["kind"] == "choice"
    assert resident.get(f"{API}/types").json() == types  # the actor's own unit
    assert locations(resident.get(f"{API}/types", params={"unit": "12"})) == [["query", "unit"]]


def test_bad_input_is_422_naming_the_field(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    cases = {
        ("body", "type"): request_body(type="nonsense"),
        ("body", "extra", "facility"): request_body(extra={"facility": "火箭"}),
        ("body", "unit_code"): request_body(unit_code="12"),
        ("body", "title"): request_body(title="长" * 101),
        ("body", "priority"): request_body(priority="soon"),
        ("body", "reporter_phone"): request_body(reporter_phone="phone"),
        ("body", "address"): request_body(address="a\x00b"),
        ("body", "household_id"): request_body(household_id=999),
        ("body", "latitude"): request_body(latitude=100.0),
    }
    for loc, bad in cases.items():
        assert locations(resident.post(API, json=bad)) == [list(loc)], loc
    ticket = submit(resident)
    url = f"{API}/{ticket['id']}"
    ticket = act(worker, ticket, "accept")
    ticket = act(worker, ticket, "sign")
    no_result = worker.post(
        f"{url}/transitions/resolve", json={"version": ticket["version"], "inputs": {}}
    )
    assert locations(no_result) == [["body", "inputs", "result"]]
    odd_input = worker.post(
        f"{url}/transitions/resolve",
        json={"version": ticket["version"], "inputs": {"result": "好", "colour": "红"}},
    )
    assert locations(odd_input) == [["body", "inputs", "colour"]]
    assert locations(worker.post(f"{url}/transitions/accept", json={"version": "x"})) == [
        ["body", "version"]
    ]
    assert locations(
        worker.post(f"{url}/transitions/rate", json={"version": ticket["version"]})
    ) == [["path", "name"]]
    assert locations(resident.post(f"{url}/rating", json={"version": 3, "rating": 6})) == [
        ["body", "rating"]
    ]
    assert locations(resident.post(f"{url}/cancel", json={"version": 3, "reason": ""})) == [
        ["body", "reason"]
    ]
    assert locations(resident.post(f"{url}/comments", json={"body": "  "})) == [["body", "body"]]
    assert locations(resident.post(f"{url}/comments", json={"body": "长" * 1001})) == [
        ["body", "body"]
    ]
    assert locations(worker.get(API, params={"state": "lost"})) == [["query", "state"]]
    assert locations(worker.get(API, params={"limit": 101})) == [["query", "limit"]]
    assert locations(worker.get(API, params={"under": "1"})) == [["query", "under"]]
    assert worker.get(f"{API}/99999999999").status_code == 422
    with town.session() as session:
        assert len(session.exec(select(Ticket)).all()) == 1


def test_only_the_reporter_rates_or_cancels(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    ticket = submit(resident)
    url = f"{API}/{ticket['id']}"
    refused = worker.post(f"{url}/cancel", json={"version": 1, "reason": "重复"})
    assert refused.status_code == 403
    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "修好了"})):
        ticket = act(worker, ticket, name, **inputs)
    assert (
        worker.post(f"{url}/rating", json={"version": ticket["version"], "rating": 5}).status_code
        == 403
    )
    unhappy = resident.post(f"{url}/rating", json={"version": ticket["version"], "rating": 1})
    assert unhappy.status_code == 200
    assert (unhappy.json()["state"], unhappy.json()["reopens"]) == ("accepted", 1)


def test_every_route_answers_404_outside_the_scope(town) -> None:  # type: ignore[no-untyped-def]
    # this module's routes (attachments, publication … are checked in their own tests)
    ours = {f"/api/v1{route.path}" for route in tickets_router.routes}
    assert ours == SCOPED_PATHS | {f"{API}/types"}
    town.assert_scoped(
        "POST", API, role="resident", inside=GRID, outside=OTHER_GRID, json=request_body()
    )
    town.assert_scoped(
        "GET", f"{API}?under={GRID}", role="grid_worker", inside=GRID, outside=OTHER_GRID
    )
    reporter = town.client_as("resident", GRID)
    ticket = submit(reporter)
    url = f"{API}/{ticket['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("POST", f"{url}/comments", {"body": "已了解"}),
        ("POST", f"{url}/transitions/accept", {"version": 1, "inputs": {}}),
    ):
        town.assert_scoped(
            method, path, role="grid_worker", inside=GRID, outside=OTHER_GRID, json=body
        )
    # the reporter's own routes: the reporter, and nobody outside the scope
    for path, body in (
        (f"{url}/cancel", {"version": 2, "reason": "已自行解决"}),
        (f"{url}/rating", {"version": 3, "rating": 5}),
    ):
        for stranger in ("resident", "grid_worker"):
            refused = town.client_as(stranger, OTHER_GRID).post(path, json=body)
            assert refused.status_code == 404, (stranger, path, refused.text)
    assert (
        reporter.post(f"{url}/cancel", json={"version": 2, "reason": "已自行解决"}).status_code
        == 200
    )
    second = submit(reporter)
    worker = town.client_as("grid_worker", GRID)
    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "好了"})):
        second = act(worker, second, name, **inputs)
    rating = {"version": second["version"], "rating": 5}
    assert (
        town.client_as("grid_worker", OTHER_GRID)
        .post(f"{API}/{second['id']}/rating", json=rating)
        .status_code
        == 404
    )
    assert reporter.post(f"{API}/{second['id']}/rating", json=rating).status_code == 200
