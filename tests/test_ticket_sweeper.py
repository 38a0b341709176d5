"""The deadline sweeper: reminders at 50/80/100% of each clock, exactly once; escalation of
overdue tickets one level at a time up to the county; concurrent sweeps never escalate a
ticket twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from core.events.models import OutboxEvent
from core.identity.access import Actor
from core.tickets import sweeper
from core.tickets.models import Ticket, TicketReminder
from core.tickets.service import TicketIn, create_ticket, get_ticket, transition_ticket
from core.tickets.sweeper import SweepReport, sweep
from core.workflows.models import WorkflowHistoryRow

GRID = "330802001001001"
VILLAGE = "330802001001"
TOWNSHIP = "330802001000"
COUNTY = "330802000000"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
MINUTE = timedelta(minutes=1)


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def submit(sanmin, at: datetime = NOW) -> Ticket:  # type: ignore[no-untyped-def]
    """A public repair (response clock: 2 hours) reported at the grid."""
    resident = sanmin.actor("resident", GRID)
    body = TicketIn(
        type="public_repair",
        unit_code=GRID,
        title="路灯不亮",
        description="3 号楼前路灯坏了一周",
        extra={"facility": "路灯"},
        reporter_phone="13800000000",
    )
    with Session(sanmin.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, sanmin.kernel, resident, body, now=at)
    return ticket


def step(sanmin, actor: Actor, ticket: Ticket, name: str, at: datetime, **inputs) -> Ticket:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine, expire_on_commit=False) as session:
        current = get_ticket(session, sanmin.kernel, actor, ticket.id)
        moved = transition_ticket(
            session, sanmin.kernel, actor, current, name, current.version, inputs, now=at
        )
        session.commit()
        return moved


def fresh(sanmin, ticket_id: int) -> Ticket:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine) as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        session.expunge(found)
        return found


def reminders(sanmin, ticket_id: int) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine) as session:
        rows = session.exec(
            select(TicketReminder)
            .where(col(TicketReminder.ticket_id) == ticket_id)
            .order_by(col(TicketReminder.version), col(TicketReminder.threshold))
        ).all()
        return [(r.version, r.threshold) for r in rows]


def reminder_events(sanmin, ticket_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine) as session:
        rows = session.exec(
            select(OutboxEvent)
            .where(col(OutboxEvent.name) == "ticket.reminder")
            .order_by(col(OutboxEvent.id))
        ).all()
        return [
            (e.payload["threshold"], e.payload["to"])
            for e in rows
            if e.payload["ticket_id"] == ticket_id
        ]


def escalations(sanmin, ticket: Ticket) -> list[str]:  # type: ignore[no-untyped-def]
    """The units each escalate step of ``ticket`` moved it to, in order."""
    with Session(sanmin.engine) as session:
        rows = session.exec(
            select(WorkflowHistoryRow)
            .where(
                col(WorkflowHistoryRow.instance_id) == ticket.instance_id,
                col(WorkflowHistoryRow.transition) == "escalate",
            )
            .order_by(col(WorkflowHistoryRow.version))
        ).all()
        return [r.unit_code for r in rows]


def test_each_reminder_of_a_clock_is_sent_once(town) -> None:  # type: ignore[no-untyped-def]
    ticket = submit(town)
    worker = town.actor("grid_worker", GRID)
    # 受理 keeps the response clock (set at submission, version 1): no new reminders
    step(town, worker, ticket, "accept", NOW + timedelta(minutes=30))
    assert sweep(town.kernel, NOW + timedelta(minutes=59)).reminded == []
    for minutes, threshold in ((60, 50), (96, 80)):
        at = NOW + timedelta(minutes=minutes)
        assert sweep(town.kernel, at).reminded == [(ticket.id, threshold)]
        assert sweep(town.kernel, at).reminded == []  # the second sweep finds it sent
    due = sweep(town.kernel, NOW + timedelta(minutes=120))  # due: reminded, not yet late
    assert due.reminded == [(ticket.id, 100)] and due.escalated == []
    late = sweep(town.kernel, NOW + timedelta(minutes=121))
    assert late == SweepReport(escalated=[ticket.id])  # the new clock has just started
    assert reminders(town, ticket.id) == [(1, 50), (1, 80), (1, 100)]
    assert reminder_events(town, ticket.id) == [
        (50, "handler"),
        (80, "handler"),
        (100, "supervisor"),
    ]


def test_a_clock_first_seen_overdue_is_one_reminder(town) -> None:  # type: ignore[no-untyped-def]
    ticket = submit(town)
    worker = town.actor("grid_worker", GRID)
    ticket = step(town, worker, ticket, "accept", NOW)
    ticket = step(town, worker, ticket, "sign", NOW)  # a new clock: handling, version 3
    ticket = step(town, worker, ticket, "resolve", NOW, result="已修复")  # visiting, version 4
    late = ticket.due_at + timedelta(days=3)
    assert sweep(town.kernel, late).reminded == [(ticket.id, 100)]
    assert reminders(town, ticket.id) == [(4, 50), (4, 80), (4, 100)]
    assert reminder_events(town, ticket.id) == [(100, "supervisor")]


def test_an_overdue_ticket_goes_up_one_level_at_a_time_to_the_county(town) -> None:  # type: ignore[no-untyped-def]
    ticket = submit(town)
    # the job itself, as `sanmin worker` runs it: its period starts at the worker's minute
    late = ticket.due_at + MINUTE
    town.worker(clock=lambda: late).run_once()
    moved = fresh(town, ticket.id)
    assert (moved.unit_code, moved.level, moved.escalations) == (VILLAGE, 1, 1)
    assert moved.due_at == late + timedelta(hours=2)  # the response clock starts again
    assert sweep(town.kernel, late).escalated == []  # not overdue at its new level
    for unit, level in ((TOWNSHIP, 2), (COUNTY, 3)):
        assert sweep(town.kernel, moved.due_at + MINUTE).escalated == [ticket.id]
        moved = fresh(town, ticket.id)
        assert (moved.unit_code, moved.level, moved.state) == (unit, level, "accepted")
    stays = sweep(town.kernel, moved.due_at + timedelta(days=2))
    assert stays.escalated == [] and stays.stuck == []
    assert stays.reminded == [(ticket.id, 100)]  # the county's supervisor is told instead
    assert fresh(town, ticket.id).unit_code == COUNTY
    assert escalations(town, ticket) == [VILLAGE, TOWNSHIP, COUNTY]
    with Session(town.engine) as session:
        steps = session.exec(
            select(WorkflowHistoryRow).where(
                col(WorkflowHistoryRow.instance_id) == ticket.instance_id,
                col(WorkflowHistoryRow.transition) == "escalate",
            )
        ).all()
    assert {s.actor for s in steps} == {"system:sweeper"}
    assert {s.inputs["reason"] for s in steps} == {"超时未办，自动上报"}


def test_a_ticket_resolved_in_time_is_never_escalated(town) -> None:  # type: ignore[no-untyped-def]
    ticket = submit(town)
    worker = town.actor("grid_worker", GRID)
    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "已修复"})):
        ticket = step(town, worker, ticket, name, NOW + timedelta(minutes=30), **inputs)
    for days in (1, 30):
        assert sweep(town.kernel, NOW + timedelta(days=days)).escalated == []
    resolved = fresh(town, ticket.id)
    assert (resolved.state, resolved.unit_code, resolved.escalations) == ("resolved", GRID, 0)
    assert escalations(town, ticket) == []


def sweep_together(sanmin, at: datetime, workers: int = 2) -> list[SweepReport]:  # type: ignore[no-untyped-def]
    """``workers`` sweeps at ``at``, in threads released together by a barrier."""
    barrier = threading.Barrier(workers)
    reports: list[SweepReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(sweep(sanmin.kernel, at))
        except BaseException as exc:  # surfaced below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return reports


def test_concurrent_sweeps_escalate_each_ticket_once_per_level(town, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sweeper, "BATCH", 4)  # several pages per state: the keyset is used
    submitted = [submit(town) for _ in range(10)]
    at = submitted[0].due_at + MINUTE
    for _ in range(3):  # grid → village → township → county
        reports = sweep_together(town, at)
        escalated = Counter(i for report in reports for i in report.escalated)
        assert escalated == Counter({t.id: 1 for t in submitted})
        at = at + timedelta(hours=2, minutes=1)
    for ticket in submitted:
        assert escalations(town, ticket) == [VILLAGE, TOWNSHIP, COUNTY]
        # each clock (grid, village, township) was first seen overdue: one event each
        assert reminder_events(town, ticket.id) == [(100, "supervisor")] * 3
