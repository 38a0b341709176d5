"""Plans and visits as the pages and the API use them: list, read, record, review.

Every read puts the actor's scope in the query (:mod:`.scoping`); a plan or visit outside
it, or in a township where the plugin is off, is a 404 like an unknown one. Recording a
visit saves the plugin's rows, its ``knock_door.visit_recorded`` event and the 入户问需记录
(through the forms service, which validates, audits and emits ``form.submitted``) in one
transaction, then files the tickets at once (:mod:`.needs`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException
from sqlalchemy import ColumnElement, and_, or_, update
from sqlmodel import Session, col, select

from core import (
    Actor,
    ArchiveHousehold,
    ArchivePerson,
    FormSubmission,
    InvalidSubmission,
    Kernel,
    emit,
    submit_form,
    validate_form_data,
)

from .access import PLUGIN, REVIEW
from .forms import VISIT, VisitRecordForm
from .models import Member, Need, Plan, Visit
from .needs import RECORDED_EVENT, SAFETY, transfer_now
from .schedule import OPEN, week_of
from .scoping import enabled_under, plans_seen_by, subtree, visits_seen_by

PLAN_NOT_FOUND = "探访计划不存在或不在您的范围内 / no such visit plan in your scope"
VISIT_NOT_FOUND = "走访记录不存在或不在您的范围内 / no such visit in your scope"
STALE = "该计划已被他人更新或已记录走访，请刷新后再试 / the plan changed meanwhile: reload it"
KEY_REUSED = "Idempotency-Key 已用于另一计划的走访 / the key was used for another plan's visit"

_recording: ContextVar[bool] = ContextVar("knock_door_recording", default=False)


def recording() -> bool:
    """Whether this service is submitting a record now (``permission_allowed`` asks)."""
    return _recording.get()


@contextmanager
def _as_service() -> Iterator[None]:
    token = _recording.set(True)
    try:
        yield
    finally:
        _recording.reset(token)


def today(kernel: Kernel, now: datetime | None = None) -> date:
    """The local date (``SANMIN_TIMEZONE``) of ``now`` (default: the workflows' clock)."""
    moment = now or kernel.workflows.clock()
    return moment.astimezone(ZoneInfo(kernel.settings.timezone)).date()


# -- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """A plan with the name and address of the person to visit, and the name of the
    volunteer it is assigned to."""

    plan: Plan
    name: str
    address: str
    volunteer_name: str | None = None


def _plans(kernel: Kernel, actor: Actor) -> Any:
    assigned = and_(col(Member.team_id) == Plan.team_id, col(Member.username) == Plan.volunteer)
    return (
        select(Plan, ArchivePerson.name, ArchiveHousehold.address, Member.display_name)
        .join(ArchivePerson, col(ArchivePerson.id) == Plan.person_id)
        .join(ArchiveHousehold, col(ArchiveHousehold.id) == Plan.household_id)
        .outerjoin(Member, assigned)
        .where(plans_seen_by(kernel, actor))
    )


def list_plans(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    under: str,
    *,
    conditions: tuple[ColumnElement[bool], ...] = (),
    limit: int = 100,
    offset: int = 0,
) -> list[PlanRow]:
    """The plans under ``under`` that ``actor`` may see, overdue first, then by due date."""
    query = _plans(kernel, actor).where(subtree(col(Plan.unit_code), under), *conditions)
    enabled = enabled_under(session, kernel, col(Plan.unit_code), under)
    if enabled is not None:
        query = query.where(enabled)
    query = (
        query.order_by(col(Plan.status) != "overdue", col(Plan.due_on), col(Plan.id))
        .limit(limit)
        .offset(offset)
    )
    return [PlanRow(*row) for row in session.exec(query)]


def this_week(
    session: Session, kernel: Kernel, actor: Actor, under: str, *, limit: int
) -> tuple[date, date, list[PlanRow]]:
    """This week's list under ``under``: the open plans whose period has begun by Sunday
    (a monthly or quarterly visit is on the list all along) and those visited since Monday,
    overdue first, then by due day; with the week's Monday and Sunday."""
    monday, sunday = week_of(today(kernel))
    since = datetime.combine(monday, time(), tzinfo=ZoneInfo(kernel.settings.timezone))
    shown = or_(
        col(Plan.status).in_(OPEN) & (col(Plan.period_start) <= sunday),
        col(Plan.visited_at) >= since,  # visited (or reviewed) since Monday
    )
    return (
        monday,
        sunday,
        list_plans(session, kernel, actor, under, conditions=(shown,), limit=limit),
    )


def get_plan(session: Session, kernel: Kernel, actor: Actor, plan_id: int) -> PlanRow:
    """One plan ``actor`` may see, in a township where the plugin is on; else 404."""
    found = session.exec(_plans(kernel, actor).where(col(Plan.id) == plan_id)).first()
    if found is None:
        raise HTTPException(404, PLAN_NOT_FOUND)
    kernel.require(PLUGIN, kernel.scope(found[0].unit_code))
    return PlanRow(*found)


def review_plan(kernel: Kernel, actor: Actor, plan_id: int, version: int) -> Plan:
    """复核: a grid worker (or cadre) confirms a recorded visit. 403 without
    ``knock_door.review`` there, 409 on a stale version or a plan not yet visited."""
    with Session(kernel.engine, expire_on_commit=False) as session:
        plan = get_plan(session, kernel, actor, plan_id).plan
        if not kernel.allowed(actor, REVIEW, plan.unit_code):
            raise HTTPException(
                403, f"没有复核权限（需要 {REVIEW}）/ permission {REVIEW!r} required"
            )
        moved = session.execute(
            update(Plan)
            .where(
                col(Plan.id) == plan_id, col(Plan.version) == version, col(Plan.status) == "visited"
            )
            .values(
                status="reviewed",
                reviewed_by=actor.label,
                reviewed_at=kernel.workflows.clock(),
                version=Plan.version + 1,
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise HTTPException(409, STALE)
        emit(
            session,
            "knock_door.visit_reviewed",
            plan.unit_code,
            subject=f"knock_door_plan:{plan_id}",
            actor_id=actor.id if actor.kind == "account" else None,
            payload={"plan_id": plan_id, "visit_id": plan.visit_id},
        )
        session.commit()
        session.refresh(plan)
        return plan


# -- recording a visit ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What recording a visit did: the visit, its plan, the form record and the tickets."""

    visit: Visit
    plan: Plan
    created: bool
    tickets: list[int]


def _earlier(session: Session, actor: Actor, key: str) -> Visit | None:
    return session.exec(
        select(Visit).where(col(Visit.visitor) == actor.label, col(Visit.submission_key) == key)
    ).first()


def _needs(
    visit: Visit,
    plan: Plan,
    form: VisitRecordForm,
    person: ArchivePerson,
    address: str,
    now: datetime,
) -> list[Need]:
    """The visit's needs, and an urgent one for an abnormal safety observation."""
    found = f"（敲门嫂{visit.visitor_name}于{form.visited_on.isoformat()}{form.method}走访时发现）"
    common = {
        "visit_id": visit.id,
        "unit_code": plan.unit_code,
        "household_id": plan.household_id,
        "reporter_name": person.name,
        "address": address,
        "found_at": now,
    }
    needs = [
        Need(
            kind=kind,
            title=f"敲门问需：{kind}",
            description=f"{form.need_note or kind}{found}",
            urgent=form.need_urgent,
            transfer=form.transfer,
            **common,
        )
        for kind in form.needs
    ]
    if form.safety == "异常":
        needs.append(
            Need(
                kind=SAFETY,
                title="居家安全异常，须当天上门处置",
                description=f"{form.safety_note}{found}",
                urgent=True,
                transfer=True,
                **common,
            )
        )
    return needs


def record_visit(
    kernel: Kernel, actor: Actor, plan_id: int, data: dict[str, Any], *, key: str | None = None
) -> Recorded:
    """Record the visit of a plan from the 入户问需记录's values and file its tickets.

    :param key: the caller's ``Idempotency-Key``: a retry with it returns the first visit.
    :raises InvalidSubmission: bad values, each naming its field (422).
    :raises HTTPException: 404 (plan not seen), 403 (may not record), 409 (the plan was
        visited or changed meanwhile, or the key was used for another plan).
    """
    with Session(kernel.engine, expire_on_commit=False) as session:
        row = get_plan(session, kernel, actor, plan_id)
        plan = row.plan
        key = key or secrets.token_urlsafe(16)
        earlier = _earlier(session, actor, key)
        if earlier is not None:
            return _replayed(session, kernel, earlier, plan)
        values = validate_form_data(VISIT, data)
        form = VisitRecordForm.model_validate(values)
        now = kernel.workflows.clock()
        if form.visited_on < plan.period_start:
            raise _invalid("visited_on", f"走访日期早于本计划周期（{plan.period_start} 起）")
        moved = session.execute(
            update(Plan)
            .where(
                col(Plan.id) == plan.id,
                col(Plan.version) == plan.version,
                col(Plan.status).in_(OPEN),
            )
            .values(status="visited", visited_at=now, version=Plan.version + 1)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            earlier = _earlier(session, actor, key)  # a concurrent retry got there first
            if earlier is not None:
                return _replayed(session, kernel, earlier, plan)
            raise HTTPException(409, STALE)
        person = session.get(ArchivePerson, plan.person_id)
        assert person is not None  # joined by get_plan
        visit = Visit(
            plan_id=plan.id,
            person_id=plan.person_id,
            unit_code=plan.unit_code,
            visitor=actor.label,
            visitor_name=actor.display_name or actor.name,
            submission_key=key,
            visited_on=form.visited_on,
            method=form.method,
            minutes=form.minutes,
            abnormal=bool(form.abnormal()),
            created_at=now,
        )
        session.add(visit)
        session.flush()
        session.add_all(_needs(visit, plan, form, person, row.address, now))
        session.execute(update(Plan).where(col(Plan.id) == plan.id).values(visit_id=visit.id))
        emit(
            session,
            RECORDED_EVENT,
            plan.unit_code,
            subject=f"knock_door_visit:{visit.id}",
            actor_id=actor.id if actor.kind == "account" else None,
            payload={"visit_id": visit.id, "plan_id": plan.id, "abnormal": visit.abnormal},
        )
        submission = FormSubmission(str(plan.person_id), values, key)
        with _as_service():
            record, created = submit_form(session, kernel, actor, PLUGIN, VISIT, submission)
        if not created:  # only after a lost race on the key: nothing of ours was kept
            session.rollback()
            raise HTTPException(409, STALE)
        visit.record_id = record.id  # the record and our rows are committed: link them
        session.commit()
        assert visit.id is not None
        transfer_now(kernel, visit.id)
        session.refresh(plan)
        return Recorded(visit, plan, True, _tickets(session, visit.id))


def _replayed(session: Session, kernel: Kernel, earlier: Visit, plan: Plan) -> Recorded:
    """The visit a first request with the same key recorded (409 for another plan)."""
    if earlier.plan_id != plan.id:
        raise HTTPException(409, KEY_REUSED)
    assert earlier.id is not None
    transfer_now(kernel, earlier.id)  # in case the first request's transfer failed
    session.refresh(plan)
    return Recorded(earlier, plan, False, _tickets(session, earlier.id))


def _tickets(session: Session, visit_id: int) -> list[int]:
    found = session.exec(
        select(Need.ticket_id).where(col(Need.visit_id) == visit_id).order_by(col(Need.id))
    )
    return [ticket for ticket in found if ticket is not None]


def _invalid(field: str, message: str) -> InvalidSubmission:
    return InvalidSubmission([(("data", field), f"{message} / not in the plan's period")])


# -- visits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitRow:
    """A visit with the person's name and its needs."""

    visit: Visit
    name: str
    needs: list[Need]


def list_visits(
    session: Session, kernel: Kernel, actor: Actor, under: str, *, limit: int = 50, offset: int = 0
) -> list[VisitRow]:
    """Visits under ``under`` that ``actor`` may see, newest first, with their needs."""
    query = (
        select(Visit, ArchivePerson.name)
        .join(ArchivePerson, col(ArchivePerson.id) == Visit.person_id)
        .where(visits_seen_by(kernel, actor), subtree(col(Visit.unit_code), under))
    )
    enabled = enabled_under(session, kernel, col(Visit.unit_code), under)
    if enabled is not None:
        query = query.where(enabled)
    query = query.order_by(col(Visit.id).desc()).limit(limit).offset(offset)
    rows = list(session.exec(query))
    needs: dict[int, list[Need]] = {}
    if rows:
        ids = [v.id for v, _ in rows]
        for need in session.exec(
            select(Need).where(col(Need.visit_id).in_(ids)).order_by(col(Need.id))
        ):
            needs.setdefault(need.visit_id, []).append(need)
    return [VisitRow(v, name, needs.get(v.id or 0, [])) for v, name in rows]


def get_visit(session: Session, kernel: Kernel, actor: Actor, visit_id: int) -> VisitRow:
    """One visit ``actor`` may see, in a township where the plugin is on; else 404."""
    found = session.exec(
        select(Visit, ArchivePerson.name)
        .join(ArchivePerson, col(ArchivePerson.id) == Visit.person_id)
        .where(col(Visit.id) == visit_id, visits_seen_by(kernel, actor))
    ).first()
    if found is None:
        raise HTTPException(404, VISIT_NOT_FOUND)
    visit, name = found
    kernel.require(PLUGIN, kernel.scope(visit.unit_code))
    needs = session.exec(select(Need).where(col(Need.visit_id) == visit_id).order_by(col(Need.id)))
    return VisitRow(visit, name, list(needs))
