"""Issues raised at a session (民情登记): recorded, answered on the spot or transferred to a
core ticket with a promised deadline, whose state is then mirrored from the ticket's events.

The caller commits, except :func:`transfer_issue`, which commits the issue's decision, the
ticket it creates and the link between them in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import HTTPException
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import Actor, Kernel, Scope, TicketIn, create_ticket

from .forms import AnswerIn, IssueIn, TransferIn
from .models import TeaHouseIssue, TeaHouseSession
from .service import (
    KINDS,
    LATEST_PROMISE_DAYS,
    NATURES,
    NOT_FOUND,
    OUTCOMES,
    RECORD,
    RESPOND,
    FieldProblem,
    TeaHouseError,
    audited,
    bump,
    in_status,
    local_day,
    now_of,
    require,
    visible,
)
from .tickets import FINAL_STATES, SOLVED_STATES, TICKET_TYPE


def record_issue(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    row: TeaHouseSession,
    body: IssueIn,
    key: str | None = None,
    now: datetime | None = None,
) -> tuple[TeaHouseIssue, bool]:
    """登记: an issue raised at a held session, answered on the spot when ``body.answer``
    is given. ``key`` (a form's hidden key or an ``Idempotency-Key``) makes a retry return
    the first issue. Returns the issue and whether it is new."""
    require(kernel, actor, RECORD, row.unit_code)
    if body.answer is not None:
        require(kernel, actor, RESPOND, row.unit_code)
    key = (key or "").strip() or None
    if key is not None and len(key) > 64:
        raise FieldProblem(("Idempotency-Key",), "最多 64 个字符 / at most 64", where="header")
    if key is not None and (found := _keyed(session, row, key)) is not None:
        return found, False
    in_status(row, "held")
    moment = now_of(kernel, now)
    issue = TeaHouseIssue(
        session_id=row.id,  # type: ignore[arg-type]
        unit_code=row.unit_code,
        township_code=row.township_code,
        client_key=key,
        created_by=actor.label,
        raised_at=moment,
        **body.model_dump(exclude={"answer"}),
    )
    if body.answer is not None:
        issue.outcome, issue.answer = "answered", body.answer
        issue.decided_at = issue.solved_at = moment
    session.add(issue)
    try:
        session.flush()
    except IntegrityError:  # the same key at the same moment: the other request won
        session.rollback()
        found = _keyed(session, row, key) if key is not None else None
        if found is None:
            raise
        return found, False
    audited(session, actor.label, "issue.record", issue, {"outcome": issue.outcome})
    return issue, True


def _keyed(session: Session, row: TeaHouseSession, key: str) -> TeaHouseIssue | None:
    query = select(TeaHouseIssue).where(
        col(TeaHouseIssue.session_id) == row.id, col(TeaHouseIssue.client_key) == key
    )
    return session.exec(query).first()


def issues_of(session: Session, row: TeaHouseSession) -> list[TeaHouseIssue]:
    """The issues raised at a session, in the order they were recorded."""
    query = select(TeaHouseIssue).where(col(TeaHouseIssue.session_id) == row.id)
    return list(session.exec(query.order_by(col(TeaHouseIssue.id))))


def pending_issues(
    session: Session, kernel: Kernel, actor: Actor, scope: Scope, *, limit: int = 50
) -> list[TeaHouseIssue]:
    """Issues the actor may read under the request's unit that still await an answer or a
    transfer, the longest waiting first."""
    query = select(TeaHouseIssue).where(
        col(TeaHouseIssue.outcome) == "pending",
        *visible(session, kernel, actor, scope, TeaHouseIssue),
    )
    query = query.order_by(col(TeaHouseIssue.raised_at), col(TeaHouseIssue.id))
    return list(session.exec(query.limit(limit)))


def get_issue(
    session: Session, kernel: Kernel, actor: Actor, scope: Scope, issue_id: int
) -> TeaHouseIssue:
    """One issue the actor may read under the request's unit; 404 otherwise."""
    query = select(TeaHouseIssue).where(
        col(TeaHouseIssue.id) == issue_id, *visible(session, kernel, actor, scope, TeaHouseIssue)
    )
    found = session.exec(query).first()
    if found is None:
        raise TeaHouseError(404, f"问题{NOT_FOUND}")
    return found


def _pending(issue: TeaHouseIssue) -> None:
    if issue.outcome != "pending":
        raise TeaHouseError(
            409, f"outcome: 该问题{OUTCOMES[issue.outcome]}，不能再处理 / already decided"
        )


def answer_issue(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    issue: TeaHouseIssue,
    body: AnswerIn,
    now: datetime | None = None,
) -> TeaHouseIssue:
    """当场答复: a pending issue is answered, which solves it."""
    require(kernel, actor, RESPOND, issue.unit_code)
    _pending(issue)
    bump(session, issue, body.version)
    moment = now_of(kernel, now)
    issue.outcome, issue.answer = "answered", body.answer
    issue.decided_at = issue.solved_at = moment
    session.add(issue)
    session.flush()
    audited(session, actor.label, "issue.answer", issue)
    return issue


def transfer_issue(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    issue: TeaHouseIssue,
    body: TransferIn,
    now: datetime | None = None,
) -> TeaHouseIssue:
    """转办: a pending issue becomes a core ticket (channel 民情茶馆, reported on the
    villager's behalf) with a promised deadline. Commits the decision, the ticket and the
    link together: either all of them are written or none.

    The ticket service's refusals name the field they are about, as fields of this body
    (``ticket_type``, ``extra.<name>``).
    """
    require(kernel, actor, RESPOND, issue.unit_code)
    _pending(issue)
    moment = now_of(kernel, now)
    today = local_day(kernel, moment)
    if body.promised_by < today:
        raise FieldProblem(("promised_by",), f"承诺办理期限不能早于今天（{today}）/ in the past")
    if body.promised_by > today + timedelta(days=LATEST_PROMISE_DAYS):
        raise FieldProblem(
            ("promised_by",), f"承诺办理期限最长 {LATEST_PROMISE_DAYS} 天 / too far ahead"
        )
    held = session.get(TeaHouseSession, issue.session_id)
    assert held is not None, "an issue belongs to a session"
    bump(session, issue, body.version)
    issue.outcome, issue.decided_at = "transferred", moment
    issue.promised_by, issue.responsible = body.promised_by, body.responsible
    session.add(issue)
    ticket_in = ticket_request(issue, held, body)
    try:
        ticket, _ = create_ticket(
            session,
            kernel,
            actor,
            ticket_in,
            idempotency_key=f"tea_house:issue:{issue.id}",
            now=moment,
            commit=False,
        )
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        raise _as_field_problem(str(exc.detail)) from None
    issue.ticket_id, issue.ticket_state, issue.ticket_version = (
        ticket.id,
        ticket.state,
        ticket.version,
    )
    session.add(issue)
    session.flush()
    after = {"ticket_id": ticket.id, "promised_by": issue.promised_by.isoformat()}
    audited(session, actor.label, "issue.transfer", issue, after)
    session.commit()
    return issue


def ticket_request(issue: TeaHouseIssue, held: TeaHouseSession, body: TransferIn) -> TicketIn:
    """The ticket a transfer submits: the issue's summary and details, where and when it was
    raised, the promise and who answers for it."""
    note = (
        f"\n\n——{held.held_on} {KINDS[held.kind]}（{held.venue}）登记转办，"
        f"承诺 {body.promised_by} 前办结，责任人：{body.responsible}。"
    )
    if body.ticket_type == TICKET_TYPE:
        extra: dict[str, Any] = {
            "category": issue.category,
            "promised_by": body.promised_by.isoformat(),
        }
    else:
        extra = body.extra
    return TicketIn(
        type=body.ticket_type,
        unit_code=issue.unit_code,
        title=issue.summary,
        description=issue.description[: 2000 - len(note)] + note,
        priority=body.priority,
        nature=NATURES.get(issue.category, "help"),
        channel="tea_house",
        reporter_name=issue.reporter_name,
        reporter_phone=issue.reporter_phone,
        on_behalf=True,
        extra=extra,
    )


def _as_field_problem(detail: str) -> FieldProblem:
    """A ticket-service refusal (``"field: reason"``) as a problem with this body's field."""
    field, _, reason = detail.partition(": ")
    names = {"type": ("ticket_type",), "title": ("summary",), "unit_code": ("unit",)}
    if field.startswith("extra."):
        return FieldProblem(("extra", field.removeprefix("extra.")), reason)
    return FieldProblem(names.get(field, (field,)), reason or detail)


# -- the ticket's state, mirrored from its events ------------------------------------------


@dataclass(frozen=True)
class TicketMove:
    """What a ``ticket.transitioned`` event says about a ticket."""

    ticket_id: int
    state: str
    version: int
    at: datetime


def mirror_ticket(session: Session, move: TicketMove) -> bool:
    """Keep the state of an issue's ticket as the ticket moves; returns whether an issue
    changed. Older news (a lower version, delivered late or twice) changes nothing. Solving
    stamps ``solved_at``; a reopened ticket is neither solved nor reported back any more."""
    changes: dict[str, Any] = {"ticket_state": move.state, "ticket_version": move.version}
    if move.state not in FINAL_STATES:
        changes |= {"solved_at": None, "reported_session_id": None, "reported_at": None}
    moved = session.execute(
        update(TeaHouseIssue)
        .where(
            col(TeaHouseIssue.ticket_id) == move.ticket_id,
            col(TeaHouseIssue.ticket_version) < move.version,
        )
        .values(**changes)
    )
    if move.state in SOLVED_STATES:
        session.execute(
            update(TeaHouseIssue)
            .where(
                col(TeaHouseIssue.ticket_id) == move.ticket_id,
                col(TeaHouseIssue.solved_at).is_(None),
                col(TeaHouseIssue.ticket_version) == move.version,
            )
            .values(solved_at=move.at)
        )
    return bool(moved.rowcount)  # type: ignore[attr-defined]
