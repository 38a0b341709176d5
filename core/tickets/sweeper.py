"""The deadline sweeper (domain.md §4.3): every minute, for the installation, it sends the
reminders of each ticket's clock at 50% and 80% (to the handling unit) and 100% (to its
supervisor), then escalates every open ticket whose clock ran out one level up the ladder
(网格 → 村社 → 乡镇 → 县), where the response clock starts again.

Any number of workers may sweep at once. A reminder is written under the unique key
(ticket, clock, threshold) with an insert that does nothing on conflict, and its
``ticket.reminder`` event is emitted in the same transaction only when the row was new, so each
is sent once. Each escalation is a transaction of its own that locks the ticket's workflow
instance (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a ticket another worker or a user is moving
is left to them; SQLite serialises writers anyway), and the engine's version check turns a
second escalation of the same clock into a 409, which the sweeper takes as done by someone else.

A clock is identified by the version of the ticket's workflow instance when it was set: its
creation, or the last transition that set a new deadline. 受理 and 派单 keep the response
clock (:func:`core.tickets.service._due`), so they are not new clocks and do not repeat the
reminders already sent.

The sweep's ``now`` is the start of the job's period (:class:`core.jobs.spec.JobContext`), so a
run retried within its minute decides the same things, and tests drive it with their clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from fastapi import HTTPException
from sqlalchemy import Table, and_, func, or_, select, tuple_
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from core.events.outbox import emit
from core.jobs.spec import Job, JobContext
from core.jobs.support import insert
from core.kernel import Kernel
from core.tickets import lifecycle
from core.tickets.models import Ticket, TicketReminder
from core.tickets.service import LEVELS, SYSTEM, transition_ticket
from core.units.codes import Level
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow

log = logging.getLogger("sanmin.tickets")

BATCH = 200
THRESHOLDS = (50, 80, 100)
CLOCKED = (*lifecycle.OPEN_WORK, "resolved")  # states whose deadline is a ticket clock
KEEPS_CLOCK = ("accept", "dispatch")  # transitions that keep the response clock running
COUNTY = LEVELS.index(Level.county)  # the top of the ladder: not escalated further
REASON = "超时未办，自动上报"

tickets = cast(Table, Ticket.__table__)
history = cast(Table, WorkflowHistoryRow.__table__)
reminders = cast(Table, TicketReminder.__table__)


@dataclass
class SweepReport:
    """What one sweep did: reminders sent (ticket id, threshold) and tickets escalated."""

    reminded: list[tuple[int, int]] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)  # overdue, but the engine refused


@dataclass(frozen=True)
class _Clock:
    ticket_id: int
    unit_code: str
    version: int  # the instance's version when the clock was set
    start: datetime
    due: datetime


def crossed(clock: _Clock, now: datetime) -> list[int]:
    """The thresholds (percent of the clock) ``now`` has reached."""
    span = clock.due - clock.start
    return [t for t in THRESHOLDS if now >= clock.start + span * t / 100]


def recipient(threshold: int) -> str:
    """Who a reminder is for: the handling unit, or at 100% its supervisor."""
    return "supervisor" if threshold >= 100 else "handler"


# -- reminders ------------------------------------------------------------------------------


def _clock_version() -> Any:
    """The version at which the ticket's current clock was set (correlated to ``ticket``)."""
    step = history.alias("clock_step")
    return (
        select(func.max(step.c.version))
        .where(
            step.c.instance_id == tickets.c.instance_id,
            or_(step.c.transition.is_(None), step.c.transition.not_in(KEEPS_CLOCK)),
        )
        .correlate(tickets)
        .scalar_subquery()
    )


def _running_clocks() -> Any:
    """Tickets with a running clock, as (id, unit, deadline, clock version, clock start)."""
    return (
        select(
            tickets.c.id,
            tickets.c.unit_code,
            tickets.c.due_at,
            history.c.version,
            history.c.at,
        )
        .select_from(tickets)
        .join(
            history,
            and_(
                history.c.instance_id == tickets.c.instance_id,
                history.c.version == _clock_version(),
            ),
        )
        .where(tickets.c.state.in_(CLOCKED), tickets.c.due_at.is_not(None))
    )


def _read(conn: Connection, statement: Any) -> list[_Clock]:
    return [
        _Clock(row.id, row.unit_code, row.version, row.at, row.due_at)
        for row in conn.execute(statement)
    ]


def _batch(
    conn: Connection, state: str, conditions: list[Any], after: tuple[datetime, int] | None
) -> list[Any]:
    """The next tickets in ``state`` with a deadline (and ``conditions``), by deadline: keyset
    pagination on ``(due_at, id)`` along ``ix_ticket_due (state, due_at)``, no sort."""
    statement = (
        select(tickets.c.due_at, tickets.c.id)
        .where(tickets.c.state == state, tickets.c.due_at.is_not(None), *conditions)
        .order_by(tickets.c.due_at, tickets.c.id)
        .limit(BATCH)
    )
    if after is not None:
        statement = statement.where(tuple_(tickets.c.due_at, tickets.c.id) > tuple_(*after))
    return list(conn.execute(statement))


def _remind(session: Session, clock: _Clock, thresholds: list[int], now: datetime) -> int | None:
    """Record ``thresholds`` of ``clock`` (those another worker recorded first are left);
    emit one ``ticket.reminder`` for the highest newly recorded. Returns that threshold."""
    conn = session.connection()
    new = []
    for threshold in thresholds:
        statement = (
            insert(conn, reminders)
            .values(
                ticket_id=clock.ticket_id,
                version=clock.version,
                threshold=threshold,
                unit_code=clock.unit_code,
                sent_at=now,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "version", "threshold"])
            .returning(reminders.c.id)
        )
        if conn.execute(statement).scalar_one_or_none() is not None:
            new.append(threshold)
    if not new:
        return None
    # A clock first seen past 80% (the workers were down) is one reminder, not three.
    threshold = max(new)
    emit(
        session,
        "ticket.reminder",
        clock.unit_code,
        subject=f"ticket:{clock.ticket_id}",
        payload={
            "ticket_id": clock.ticket_id,
            "threshold": threshold,
            "to": recipient(threshold),
            "unit_code": clock.unit_code,
        },
    )
    return threshold


def send_reminders(kernel: Kernel, now: datetime) -> list[tuple[int, int]]:
    """Every reminder due at ``now`` and not yet sent, batch by batch (one transaction each)."""
    sent: list[tuple[int, int]] = []
    for state in CLOCKED:
        after: tuple[datetime, int] | None = None
        while True:
            with Session(kernel.engine) as session:
                conn = session.connection()
                batch = _batch(conn, state, [], after)
                if not batch:
                    break
                clocks = _read(
                    conn, _running_clocks().where(tickets.c.id.in_([r.id for r in batch]))
                )
                recorded = _recorded(conn, [c.ticket_id for c in clocks])
                for clock in clocks:
                    key = (clock.ticket_id, clock.version)
                    missing = [t for t in crossed(clock, now) if (*key, t) not in recorded]
                    if missing and (threshold := _remind(session, clock, missing, now)):
                        sent.append((clock.ticket_id, threshold))
                session.commit()
            if len(batch) < BATCH:
                break
            after = (batch[-1].due_at, batch[-1].id)
    return sent


def _recorded(conn: Connection, ticket_ids: list[int]) -> set[tuple[int, int, int]]:
    """The reminders already recorded for ``ticket_ids``: (ticket, clock version, threshold)."""
    found = conn.execute(
        select(reminders.c.ticket_id, reminders.c.version, reminders.c.threshold).where(
            reminders.c.ticket_id.in_(ticket_ids)
        )
    )
    return {(row.ticket_id, row.version, row.threshold) for row in found}


# -- escalation -----------------------------------------------------------------------------


def _overdue(now: datetime) -> list[Any]:
    return [
        col(Ticket.state).in_(lifecycle.OPEN_WORK),
        col(Ticket.due_at) < now,
        col(Ticket.level) < COUNTY,
    ]


def escalate_one(kernel: Kernel, ticket_id: int, now: datetime) -> str:
    """Escalate one overdue ticket in a transaction of its own: ``'escalated'``, ``'taken'``
    (moved, locked or escalated by someone else meanwhile) or ``'stuck'`` (the engine
    refused: no unit above, or the plugin is off there; its 100% reminder stands)."""
    with Session(kernel.engine, expire_on_commit=False) as session:
        ticket = session.scalars(
            select(Ticket)
            .join(WorkflowInstanceRow, col(WorkflowInstanceRow.id) == col(Ticket.instance_id))
            .where(col(Ticket.id) == ticket_id, *_overdue(now))
            .with_for_update(of=WorkflowInstanceRow, skip_locked=True)
        ).first()
        if ticket is None:
            return "taken"
        try:
            transition_ticket(
                session,
                kernel,
                SYSTEM,
                ticket,
                "escalate",
                ticket.version,
                {"reason": REASON},
                vouched=True,
                now=now,
            )
        except HTTPException as refused:
            session.rollback()
            if refused.status_code == 409:
                return "taken"
            log.warning("Ticket %s cannot be escalated: %s", ticket_id, refused.detail)
            _remind_stuck(kernel, ticket_id, now)
            return "stuck"
        session.commit()
        return "escalated"


def _remind_stuck(kernel: Kernel, ticket_id: int, now: datetime) -> None:
    """The 100% reminder of a ticket that cannot go up (the reminder pass recorded it
    already, unless the ticket moved in between)."""
    with Session(kernel.engine) as session:
        conn = session.connection()
        for clock in _read(conn, _running_clocks().where(tickets.c.id == ticket_id)):
            _remind(session, clock, [THRESHOLDS[-1]], now)
        session.commit()


def escalate_overdue(kernel: Kernel, now: datetime) -> tuple[list[int], list[int]]:
    """Escalate every ticket overdue at ``now`` below the county; returns the tickets
    escalated by this sweep and those the engine refused."""
    escalated: list[int] = []
    stuck: list[int] = []
    late = [tickets.c.due_at < now, tickets.c.level < COUNTY]
    for state in lifecycle.OPEN_WORK:
        after: tuple[datetime, int] | None = None
        while True:
            with kernel.engine.connect() as conn:
                batch = _batch(conn, state, late, after)
            for row in batch:
                outcome = escalate_one(kernel, row.id, now)
                if outcome == "escalated":
                    escalated.append(row.id)
                elif outcome == "stuck":
                    stuck.append(row.id)
            if len(batch) < BATCH:
                break
            after = (batch[-1].due_at, batch[-1].id)
    return escalated, stuck


# -- the job --------------------------------------------------------------------------------


def sweep(kernel: Kernel, now: datetime) -> SweepReport:
    """Reminders first (so a clock that ran out has its 100% reminder), then escalations."""
    report = SweepReport(reminded=send_reminders(kernel, now))
    report.escalated, report.stuck = escalate_overdue(kernel, now)
    if report.reminded or report.escalated or report.stuck:
        log.info(
            "Ticket sweep at %s: %d reminders, %d escalated, %d cannot go up",
            now.isoformat(),
            len(report.reminded),
            len(report.escalated),
            len(report.stuck),
        )
    return report


def run_sweep(context: JobContext) -> None:
    """The job: sweep as of the start of its period."""
    sweep(context.kernel, context.period_start)


SWEEP_JOB = Job(
    name="sweep_deadlines",
    title="工单催办与超时自动上报",
    every=timedelta(minutes=1),
    run=run_sweep,
    per_township=False,
)
