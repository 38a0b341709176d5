"""The ticket service: the closed loop, clocks and milestones, idempotency, the reporter's
own actions and the guard that keeps the generic workflow API off tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from core.audit.models import AuditEntry
from core.events.models import OutboxEvent
from core.identity.access import Actor
from core.tickets.models import Ticket, TicketIdempotency
from core.tickets.service import (
    SYSTEM,
    TicketError,
    TicketIn,
    create_ticket,
    get_ticket,
    rate_ticket,
    transition_ticket,
)
from core.tickets.types import CORE_TYPES
from core.workflows.models import WorkflowInstanceRow

GRID = "330802001001001"
VILLAGE = "330802001001"
TOWNSHIP = "330802001000"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China

EXTRA = {
    "public_repair": {"facility": "路灯"},
    "complaint": {"accused": "某餐馆"},
    "estate": {"estate": "幸福小区 3 幢", "category": "停车"},
    "home_repair": {"fault": "水", "access_window": "工作日晚上", "accepts_charge": True},
    "legal_dispute": {"parties": "张某、李某", "dispute_kind": "邻里"},
    "renovation": {
        "owner": "房产证 12345",
        "plan": "更换地板",
        "structural_change": False,
        "start_date": "2026-12-01",
        "end_date": "2026-12-20",
        "pledge": True,
    },
}


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def body(kind: str = "public_repair", **changes: Any) -> TicketIn:
    fields = {
        "type": kind,
        "unit_code": GRID,
        "title": "路灯不亮",
        "description": "3 号楼前路灯坏了一周",
        "extra": EXTRA[kind],
        "reporter_phone": "13800000000",
    }
    return TicketIn(**{**fields, **changes})


def step(
    sanmin, actor: Actor, ticket: Ticket, name: str, at: datetime = NOW, **inputs: Any
) -> Ticket:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine, expire_on_commit=False) as session:
        current = get_ticket(session, sanmin.kernel, actor, ticket.id)
        moved = transition_ticket(
            session, sanmin.kernel, actor, current, name, current.version, inputs, now=at
        )
        session.commit()
        return moved


@pytest.mark.parametrize("kind", [t.code for t in CORE_TYPES])
def test_each_core_type_goes_round_the_closed_loop(town, kind) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    worker = town.actor("grid_worker", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, created = create_ticket(session, town.kernel, resident, body(kind))
    assert created and ticket.state == "submitted" and ticket.version == 1
    assert ticket.respond_due_at is not None and ticket.due_at == ticket.respond_due_at
    later = NOW + timedelta(minutes=30)
    ticket = step(town, worker, ticket, "accept", later)
    assert ticket.accepted_at == later and ticket.due_at == ticket.respond_due_at
    ticket = step(town, worker, ticket, "sign", later)
    assert ticket.responded_on_time is True and ticket.handle_due_at is not None
    ticket = step(town, worker, ticket, "resolve", later, result="已修复")
    assert ticket.state == "resolved" and ticket.resolved_on_time is True
    assert ticket.resolved_level == 0
    ticket = step(town, worker, ticket, "visit", later, note="电话回访，已亮")
    with Session(town.engine, expire_on_commit=False) as session:
        mine = get_ticket(session, town.kernel, resident, ticket.id)
        rated = rate_ticket(session, town.kernel, resident, mine, mine.version, 5, "很快", True)
        session.commit()
    assert (rated.state, rated.satisfaction, rated.solved) == ("rated", "satisfied", True)
    assert rated.closed_at == NOW


def test_an_unsatisfied_rating_reopens_at_most_twice(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    worker = town.actor("grid_worker", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, resident, body())
    for round_ in range(3):
        if round_ == 0:
            ticket = step(town, worker, ticket, "accept")
        ticket = step(town, worker, ticket, "sign")
        ticket = step(town, worker, ticket, "resolve", result="处理")
        with Session(town.engine, expire_on_commit=False) as session:
            mine = get_ticket(session, town.kernel, resident, ticket.id)
            ticket = rate_ticket(session, town.kernel, resident, mine, mine.version, 1)
            session.commit()
        if round_ < 2:
            assert (ticket.state, ticket.reopens) == ("accepted", round_ + 1)
    assert (ticket.state, ticket.reopens, ticket.satisfaction) == ("rated", 2, "unsatisfied")


def test_only_the_reporter_rates(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    worker = town.actor("grid_worker", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, resident, body())
    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "好了"})):
        ticket = step(town, worker, ticket, name, **inputs)
    with Session(town.engine) as session, pytest.raises(TicketError) as refused:
        rate_ticket(
            session,
            town.kernel,
            worker,
            get_ticket(session, town.kernel, worker, ticket.id),
            ticket.version,
            5,
        )
    assert refused.value.status_code == 403


def test_a_retry_with_the_same_key_returns_the_same_ticket(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        first, created = create_ticket(
            session, town.kernel, resident, body(), idempotency_key="k-1"
        )
        again, again_created = create_ticket(
            session, town.kernel, resident, body(), idempotency_key="k-1"
        )
        assert created and not again_created and first.id == again.id
        with pytest.raises(TicketError) as clash:
            create_ticket(
                session, town.kernel, resident, body(title="另一件事"), idempotency_key="k-1"
            )
        assert clash.value.status_code == 422 and "Idempotency-Key" in clash.value.detail
        assert len(session.exec(select(Ticket)).all()) == 1
        assert len(session.exec(select(TicketIdempotency)).all()) == 1


def test_a_stale_version_is_409(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    worker = town.actor("grid_worker", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, resident, body())
    step(town, worker, ticket, "accept")
    with Session(town.engine) as session, pytest.raises(Exception) as stale:
        current = get_ticket(session, town.kernel, worker, ticket.id)
        transition_ticket(session, town.kernel, worker, current, "sign", 1)
    assert getattr(stale.value, "status_code", None) == 409


def test_escalation_moves_one_level_up_and_restarts_the_response_clock(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    worker = town.actor("grid_worker", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, resident, body())
    later = NOW + timedelta(hours=5)
    ticket = step(town, worker, ticket, "escalate", later, reason="需村里协调")
    assert (ticket.unit_code, ticket.level, ticket.escalations) == (VILLAGE, 1, 1)
    assert ticket.respond_due_at == later + timedelta(hours=2)
    with Session(town.engine) as session, pytest.raises(TicketError):
        get_ticket(session, town.kernel, worker, ticket.id)  # a grid worker no longer sees it


def test_the_sweeper_may_escalate_as_the_system(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, resident, body())
        moved = transition_ticket(
            session,
            town.kernel,
            SYSTEM,
            ticket,
            "escalate",
            ticket.version,
            {"reason": "超时自动上报"},
            vouched=True,
        )
        session.commit()
    assert moved.unit_code == VILLAGE and moved.created_by != "system:sweeper"


def test_bad_input_names_the_field(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    cases = {
        "type": body(type="nonsense"),
        "extra.facility": body(extra={"facility": "火箭"}),
        "extra.colour": body(extra={"facility": "路灯", "colour": "红"}),
        "unit_code": body(unit_code="12"),
        "title": body(title="  "),
        "anonymous": body(anonymous=True),
        "priority": body(priority="soon"),
        "latitude": body(latitude=100.0),
    }
    with Session(town.engine) as session:
        for field, bad in cases.items():
            with pytest.raises(TicketError) as refused:
                create_ticket(session, town.kernel, resident, bad)
            assert refused.value.status_code == 422
            assert refused.value.detail.startswith(f"{field}:"), refused.value.detail
        assert session.exec(select(Ticket)).all() == []


def test_anonymous_complaints_need_a_phone_and_hide_the_reporter(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        with pytest.raises(TicketError) as refused:
            create_ticket(
                session,
                town.kernel,
                resident,
                body("complaint", anonymous=True, reporter_phone=None),
            )
        assert refused.value.detail.startswith("reporter_phone:")
        ticket, _ = create_ticket(
            session, town.kernel, resident, body("complaint", anonymous=True, reporter_name="王某")
        )
    assert ticket.anonymous and ticket.confidential and ticket.reporter_name is None


def test_the_generic_workflow_api_cannot_move_a_ticket(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.actor("resident", GRID)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, resident, body())
    answer = town.client.post(
        f"/api/v1/p/tickets/workflows/ticket/instances/{ticket.instance_id}/transitions/accept",
        json={"version": 1, "inputs": {}},
    )
    assert answer.status_code in (404, 422), answer.text
    with Session(town.engine) as session:
        assert session.get(Ticket, ticket.id).state == "submitted"


def test_a_creation_left_to_the_caller_commits_with_the_callers_writes_or_not_at_all(
    town,
) -> None:  # type: ignore[no-untyped-def]
    worker = town.actor("grid_worker", GRID)
    counts = (Ticket, TicketIdempotency, WorkflowInstanceRow, AuditEntry, OutboxEvent)

    def count() -> list[int]:
        with Session(town.engine) as session:
            return [len(session.exec(select(model)).all()) for model in counts]

    before = count()
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, created = create_ticket(
            session, town.kernel, worker, body(), idempotency_key="k", commit=False
        )
        assert created and ticket.id is not None
        session.rollback()  # the caller's own write failed: nothing of the ticket stays
    assert count() == before
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(
            session, town.kernel, worker, body(), idempotency_key="k", commit=False
        )
        session.commit()
    # the ticket, its key, its instance; the audit entries and events of the start and the ticket
    assert [after - first for after, first in zip(count(), before, strict=True)] == [1, 1, 1, 2, 2]


def test_a_rating_given_by_phone_is_relayed_by_a_dispatcher_only(town) -> None:  # type: ignore[no-untyped-def]
    worker, cadre = town.actor("grid_worker", GRID), town.actor("village_cadre", VILLAGE)
    with Session(town.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, town.kernel, worker, body(on_behalf=True))
    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "已修复"})):
        ticket = step(town, worker, ticket, name, **inputs)
    with Session(town.engine, expire_on_commit=False) as session:
        current = get_ticket(session, town.kernel, cadre, ticket.id)
        with pytest.raises(TicketError) as refused:  # the handler may not rate for the caller
            rate_ticket(session, town.kernel, worker, current, current.version, 5, relayed=True)
        assert refused.value.status_code == 403
        rated = rate_ticket(
            session, town.kernel, cadre, current, current.version, 1, "没修好", relayed=True
        )
        session.commit()
    assert (rated.state, rated.rating, rated.reopens) == ("accepted", 1, 1)  # 不满意 reopens
