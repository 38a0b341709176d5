"""Schedules, sessions and the duty roster of 民情茶馆.

A village's fixed day (schedule) is announced by the daily job (``jobs.py``) or by hand, at
least 3 days ahead; a session is opened on its day, closed once every issue raised there is
answered or transferred (which settles its report-back list), or cancelled before it is held.
The caller commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import Actor, Kernel, Scope, emit

from .forms import CancelIn, CloseIn, OpenIn, ScheduleIn, SessionIn
from .models import TeaHouseDuty, TeaHouseIssue, TeaHouseSchedule, TeaHouseSession
from .report import report_back
from .service import (
    KINDS,
    LATEST_AHEAD_DAYS,
    MANAGE,
    NOT_FOUND,
    NOTICE_DAYS,
    ROSTER_ROLES,
    UPCOMING,
    FieldProblem,
    TeaHouseError,
    audited,
    bump,
    in_status,
    local_day,
    now_of,
    require,
    require_village,
    township_of,
    visible,
)
from .tickets import FINAL_STATES

# -- schedules -----------------------------------------------------------------------------


def save_schedule(
    session: Session, kernel: Kernel, actor: Actor, scope: Scope, body: ScheduleIn
) -> TeaHouseSchedule:
    """Set the request's village's fixed day (one schedule per village)."""
    village = require_village(scope)
    require(kernel, actor, MANAGE, village)
    found = schedule_of(session, village)
    row = found or TeaHouseSchedule(unit_code=village, township_code=township_of(village))
    for name, value in body.model_dump().items():
        setattr(row, name, value)
    row.updated_by = actor.label
    row.updated_at = now_of(kernel)
    session.add(row)
    _flush(session, "本村社的固定沟通日刚被他人设置，请刷新后重试 / set meanwhile: retry")
    audited(session, actor.label, "schedule.save", row, body.model_dump(mode="json"))
    return row


def _flush(session: Session, clash: str) -> None:
    """Write what is pending; a row another request inserted first (the same village's
    schedule, the same session) is a 409 with ``clash``, not an error."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise TeaHouseError(409, clash) from None


def schedule_of(session: Session, village: str) -> TeaHouseSchedule | None:
    """The village's schedule, if it has one."""
    query = select(TeaHouseSchedule).where(col(TeaHouseSchedule.unit_code) == village)
    return session.exec(query).first()


def list_schedules(
    session: Session, kernel: Kernel, actor: Actor, scope: Scope
) -> list[TeaHouseSchedule]:
    """The schedules the actor may read under the request's unit, by village."""
    query = select(TeaHouseSchedule).where(
        *visible(session, kernel, actor, scope, TeaHouseSchedule)
    )
    return list(session.exec(query.order_by(col(TeaHouseSchedule.unit_code))))


def next_fixed_day(schedule: TeaHouseSchedule, earliest: date) -> date:
    """The first of the schedule's days on or after ``earliest``."""
    day = earliest.replace(day=schedule.day_of_month)
    if day >= earliest:
        return day
    following = (earliest.replace(day=1) + timedelta(days=32)).replace(day=1)
    return following.replace(day=schedule.day_of_month)


# -- sessions ------------------------------------------------------------------------------


def announce(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    body: SessionIn,
    now: datetime | None = None,
) -> TeaHouseSession:
    """Announce a session at the request's village (公告), at least 3 days ahead."""
    village = require_village(scope)
    require(kernel, actor, MANAGE, village)
    return announce_at(session, kernel, village, body, actor.label, actor, now)


def announce_at(
    session: Session,
    kernel: Kernel,
    village: str,
    body: SessionIn,
    by: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> TeaHouseSession:
    """Announce a session at ``village`` on behalf of ``by`` (the job's path: no actor).

    The 3-day notice rule: a 422 naming ``held_on`` when the day is sooner. The same kind on
    the same day at the same village is a 409.
    """
    today = local_day(kernel, now_of(kernel, now))
    earliest = today + timedelta(days=NOTICE_DAYS)
    if body.held_on < earliest:
        raise FieldProblem(
            ("held_on",),
            f"沟通日须至少提前 {NOTICE_DAYS} 天公告：今天（{today}）公告的场次最早安排在 "
            f"{earliest} / a session must be announced at least {NOTICE_DAYS} days ahead",
        )
    if body.held_on > today + timedelta(days=LATEST_AHEAD_DAYS):
        raise FieldProblem(("held_on",), "最多提前一年安排 / at most a year ahead")
    clash = select(TeaHouseSession.id).where(
        col(TeaHouseSession.unit_code) == village,
        col(TeaHouseSession.kind) == body.kind,
        col(TeaHouseSession.held_on) == body.held_on,
    )
    taken = f"held_on: 本村社 {body.held_on} 已有{KINDS[body.kind]} / already announced"
    if session.exec(clash).first() is not None:
        raise TeaHouseError(409, taken)
    row = TeaHouseSession(
        unit_code=village,
        township_code=township_of(village),
        announced_by=by,
        announced_at=now_of(kernel, now),
        **body.model_dump(),
    )
    session.add(row)
    _flush(session, taken)
    audited(session, by, "session.announce", row, {"held_on": row.held_on.isoformat()})
    emit(
        session,
        "tea_house.session_announced",
        village,
        subject=f"tea_house_session:{row.id}",
        actor_id=actor.id if actor is not None and actor.kind == "account" else None,
        payload={"session_id": row.id, "held_on": row.held_on.isoformat(), "kind": row.kind},
    )
    return row


def list_sessions(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    *,
    status: str | None = None,
    upcoming: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[TeaHouseSession]:
    """Sessions the actor may read under the request's unit, latest day first; or, with
    ``upcoming``, those announced or being held, soonest day first (the next one leads)."""
    query = select(TeaHouseSession).where(*visible(session, kernel, actor, scope, TeaHouseSession))
    if status is not None:
        query = query.where(col(TeaHouseSession.status) == status)
    if upcoming:
        query = query.where(col(TeaHouseSession.status).in_(UPCOMING))
        query = query.order_by(col(TeaHouseSession.held_on), col(TeaHouseSession.id))
    else:
        query = query.order_by(col(TeaHouseSession.held_on).desc(), col(TeaHouseSession.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def get_session(
    session: Session, kernel: Kernel, actor: Actor, scope: Scope, session_id: int
) -> TeaHouseSession:
    """One session the actor may read under the request's unit; 404 otherwise."""
    query = select(TeaHouseSession).where(
        col(TeaHouseSession.id) == session_id,
        *visible(session, kernel, actor, scope, TeaHouseSession),
    )
    found = session.exec(query).first()
    if found is None:
        raise TeaHouseError(404, f"场次{NOT_FOUND}")
    return found


def open_session(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    row: TeaHouseSession,
    body: OpenIn,
    now: datetime | None = None,
) -> TeaHouseSession:
    """开场: from announced to held, on the session's day or later."""
    require(kernel, actor, MANAGE, row.unit_code)
    in_status(row, "announced")
    moment = now_of(kernel, now)
    if local_day(kernel, moment) < row.held_on:
        raise TeaHouseError(409, f"held_on: 未到沟通日（{row.held_on}），不能开场 / not yet")
    bump(session, row, body.version)
    row.status, row.opened_at = "held", moment
    session.add(row)
    session.flush()
    audited(session, actor.label, "session.open", row)
    return row


def close_session(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    row: TeaHouseSession,
    body: CloseIn,
    now: datetime | None = None,
) -> TeaHouseSession:
    """会后汇总: close a held session once every issue is answered or transferred, with its
    attendance. The report-back list of this session is settled: each earlier transferred
    issue whose ticket is final now counts as reported back here."""
    require(kernel, actor, MANAGE, row.unit_code)
    in_status(row, "held")
    pending = session.exec(
        select(func.count())
        .select_from(TeaHouseIssue)
        .where(col(TeaHouseIssue.session_id) == row.id, col(TeaHouseIssue.outcome) == "pending")
    ).one()
    if pending:
        raise TeaHouseError(
            409, f"issues: 尚有 {pending} 个问题未答复或转办 / {pending} issue(s) still pending"
        )
    moment = now_of(kernel, now)
    bump(session, row, body.version)
    row.status, row.closed_at = "closed", moment
    row.attendance, row.leaders, row.summary = body.attendance, body.leaders, body.summary
    session.add(row)
    settled = [
        issue.id
        for issue, _ in report_back(session, row)
        if issue.ticket_state in FINAL_STATES and issue.reported_session_id is None
    ]
    if settled:
        session.execute(
            update(TeaHouseIssue)
            .where(col(TeaHouseIssue.id).in_(settled))
            .values(reported_session_id=row.id, reported_at=moment)
        )
    session.flush()
    audited(
        session,
        actor.label,
        "session.close",
        row,
        {"attendance": row.attendance, "leaders": row.leaders, "reported": len(settled)},
    )
    emit(
        session,
        "tea_house.session_closed",
        row.unit_code,
        subject=f"tea_house_session:{row.id}",
        actor_id=actor.id if actor.kind == "account" else None,
        payload={"session_id": row.id, "attendance": row.attendance, "reported": len(settled)},
    )
    return row


def cancel_session(
    session: Session, kernel: Kernel, actor: Actor, row: TeaHouseSession, body: CancelIn
) -> TeaHouseSession:
    """Cancel an announced session, with the reason (shown on the notice)."""
    require(kernel, actor, MANAGE, row.unit_code)
    in_status(row, "announced")
    bump(session, row, body.version)
    row.status, row.cancel_reason = "cancelled", body.reason
    session.add(row)
    session.flush()
    audited(session, actor.label, "session.cancel", row, {"reason": body.reason})
    return row


# -- the duty roster -----------------------------------------------------------------------


def roster_role(actor: Actor, village: str) -> str | None:
    """The plugin role (民情馆长 or 馆员) ``actor`` holds at ``village`` or above, if any."""
    for held in actor.roles:
        if held.role in ROSTER_ROLES and village.startswith(held.path):
            return held.role
    return None


def sign_duty(
    session: Session, kernel: Kernel, actor: Actor, row: TeaHouseSession
) -> tuple[TeaHouseDuty, bool]:
    """The actor, a 馆长 or 馆员 of the village, signs on for the session (值班签到); signing
    twice keeps the first entry. Returns the entry and whether it is new."""
    role = roster_role(actor, row.unit_code)
    if role is None:
        raise TeaHouseError(403, "只有本村社的民情馆长、馆员可以值班签到 / roster roles only")
    in_status(row, "announced", "held")
    query = select(TeaHouseDuty).where(
        col(TeaHouseDuty.session_id) == row.id, col(TeaHouseDuty.actor) == actor.label
    )
    found = session.exec(query).first()
    if found is not None:
        return found, False
    duty = TeaHouseDuty(
        session_id=row.id,  # type: ignore[arg-type]
        actor=actor.label,
        name=actor.display_name or actor.name,
        role=role,
        signed_at=now_of(kernel),
    )
    session.add(duty)
    session.flush()
    return duty, True


def roster(session: Session, row: TeaHouseSession) -> list[TeaHouseDuty]:
    """Who is on duty at the session, in the order they signed on."""
    query = select(TeaHouseDuty).where(col(TeaHouseDuty.session_id) == row.id)
    return list(session.exec(query.order_by(col(TeaHouseDuty.id))))
