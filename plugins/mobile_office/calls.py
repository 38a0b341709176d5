"""Hotline calls: intake by the operator, triage by the duty leader, the caller's rating.

Every call is an instance of the ``call`` workflow (:mod:`.workflows`): the engine checks
who may take each step and the version seen (409 when someone moved it first), writes the
history, the audit entry and the event; the ``mobile_office_call`` row mirrors its state and
version in the same transaction. Each function commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import (
    Actor,
    Deadline,
    Kernel,
    Scope,
    UnitCodeError,
    UnitNotFound,
    get_ticket,
    get_unit,
    parse_code,
    rate_ticket,
    start_workflow,
    transition_workflow,
)

from . import ledger, referral
from .access import DISPATCH, PLUGIN
from .errors import Refusal, fields_under
from .models import Call, Trip
from .schemas import CallIn, FeedbackIn, TriageIn
from .scoping import (
    as_local,
    day_bounds,
    local_day,
    now_of,
    readable,
    readable_row,
    request_township,
    shown_name,
    townships_on,
    within,
)
from .workflows import CALL, LINKABLE_TRIP_STATES, OWNED

NOT_FOUND = "来电不存在或不在您的范围内 / no such call in your scope"
BACKDATE_DAYS = 7  # a call may be entered late, within a week
FUTURE_SLACK = timedelta(minutes=5)  # clocks of phones and servers differ a little
ON_SITE_CLOCK = {"urgent": Deadline(hours=4), "normal": Deadline(working_days=1)}


def check_unit(session: Session, township: str, raw: str | None, field: str) -> str:
    """A unit of the township (the township itself when none is given), or a 422."""
    if not raw:
        return township
    try:
        code = parse_code(raw).code
        get_unit(session, code)
    except (UnitCodeError, UnitNotFound) as exc:
        raise Refusal(422, f"单位无效 / {exc}", field) from None
    if not code.startswith(parse_code(township).path):
        raise Refusal(422, "应为本乡镇内的村社 / must be a unit of this township", field)
    return code


def check_moment(kernel: Kernel, value: datetime | None, now: datetime, field: str) -> datetime:
    """A moment that has happened (now when none is given), not later than now."""
    if value is None:
        return now
    moment = as_local(kernel, value)
    if moment > now + FUTURE_SLACK:
        raise Refusal(422, "不能晚于现在 / must not be in the future", field)
    return moment


def visible(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """SQL: calls ``actor`` may read."""
    return readable(kernel, actor, col(Call.unit_code))


def get_call(session: Session, kernel: Kernel, actor: Actor, call_id: int) -> Call:
    """A call ``actor`` may read, in a township where the plugin is on; 404 otherwise."""
    return readable_row(session, kernel, actor, Call, call_id, NOT_FOUND)


def _at_unit(
    query: Any,
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    states: tuple[str, ...],
    day: date | None,
) -> Any:
    """``query`` kept to the calls at the request's unit (its townships where the plugin is
    on) that ``actor`` may read, in ``states`` and received on ``day`` when given."""
    query = query.where(
        col(Call.township_code).in_(townships_on(session, kernel, scope)),
        within(col(Call.unit_code), scope.unit.code),
        visible(kernel, actor),
    )
    if states:
        query = query.where(col(Call.state).in_(states))
    if day is not None:
        start, end = day_bounds(kernel, day)
        query = query.where(col(Call.received_at) >= start, col(Call.received_at) < end)
    return query


def list_calls(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    *,
    states: tuple[str, ...] = (),
    day: date | None = None,
    urgent_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Call]:
    """Calls at the request's unit that ``actor`` may read: newest first, or of one local
    day, oldest first; ``urgent_first``: as the duty leader takes them, the urgent first,
    then those waiting longest."""
    query = _at_unit(select(Call), session, kernel, actor, scope, states, day)
    if urgent_first:
        urgent = case((col(Call.urgency) == "urgent", 0), else_=1)
        query = query.order_by(urgent, col(Call.received_at), col(Call.id))
    elif day is not None:
        query = query.order_by(col(Call.received_at), col(Call.id))
    else:
        query = query.order_by(col(Call.received_at).desc(), col(Call.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def count_calls(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    *,
    states: tuple[str, ...] = (),
    day: date | None = None,
) -> int:
    """How many calls :func:`list_calls` would list, in one ``count``."""
    query = select(func.count()).select_from(Call)
    return int(session.exec(_at_unit(query, session, kernel, actor, scope, states, day)).one())


def register_call(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    body: CallIn,
    *,
    key: str | None = None,
    now: datetime | None = None,
) -> tuple[Call, bool]:
    """来电受理: a call received in the request's township (any of its villages); returns
    it and whether it is new. A retry with the same ``key`` (per actor: an API client's
    ``Idempotency-Key``, a page's hidden submission key) returns the call the first one
    registered, even when both arrive at once."""
    intake_key = f"{actor.label}:{key}" if key else None
    if intake_key is not None and (found := by_key(session, intake_key)) is not None:
        return found, False
    now = now or now_of(kernel)
    township = request_township(scope)
    unit_code = check_unit(session, township, body.unit_code, "unit_code")
    received_at = check_moment(kernel, body.received_at, now, "received_at")
    if received_at < now - timedelta(days=BACKDATE_DAYS):
        raise Refusal(
            422,
            f"只能补登 {BACKDATE_DAYS} 日内的来电 / at most {BACKDATE_DAYS} days ago",
            "received_at",
        )
    if body.repeat_of is not None:
        earlier = session.exec(
            select(Call.id).where(
                col(Call.id) == body.repeat_of,
                col(Call.township_code) == township,
                col(Call.received_at) <= received_at,
                visible(kernel, actor),
            )
        ).first()
        if earlier is None:
            raise Refusal(422, "本乡镇没有这件此前的来电 / no such earlier call", "repeat_of")
    due = ON_SITE_CLOCK[body.urgency].due(received_at)
    instance = start_workflow(
        session, kernel, actor, PLUGIN, CALL.name, unit_code, now=now, due_at=due
    )
    call = Call(
        instance_id=instance.id,
        intake_key=intake_key,
        unit_code=unit_code,
        township_code=township,
        caller_name=body.caller_name,
        caller_phone=body.caller_phone,
        address=body.address,
        category=body.category,
        question=body.question,
        urgency=body.urgency,
        source=body.source,
        also_12345=body.also_12345,
        repeat_of_id=body.repeat_of,
        received_at=received_at,
        received_by=actor.label,
        operator_name=shown_name(actor),
        state=instance.state,
        version=instance.version,
        due_at=due,
        updated_at=now,
    )
    session.add(call)
    ledger.reopen(session, township, local_day(kernel, received_at), now)
    try:
        session.commit()
    except IntegrityError:  # the same key, registered at the same moment by a retry
        session.rollback()
        if intake_key is not None and (found := by_key(session, intake_key)) is not None:
            return found, False
        raise
    return call, True


def by_key(session: Session, intake_key: str) -> Call | None:
    """The call registered with this actor's key, if any."""
    return session.exec(select(Call).where(col(Call.intake_key) == intake_key)).first()


def step(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    call: Call,
    transition: str,
    version: int,
    inputs: dict[str, Any],
    *,
    now: datetime,
    due_at: datetime | None = None,
) -> None:
    """Take a step of the call's workflow and mirror it on the row (not committed)."""
    renamed = {f"inputs.{name}": name for name in inputs}
    with OWNED.step(), fields_under("", renamed):
        moved = transition_workflow(
            session,
            kernel,
            actor,
            call.instance_id,
            transition,
            version,
            inputs,
            plugin=PLUGIN,
            workflow=CALL.name,
            now=now,
            due_at=due_at,
        )
    call.state, call.version, call.updated_at = moved.state, moved.version, now
    call.due_at = moved.due_at or call.due_at  # an end state keeps the last deadline
    session.add(call)


def open_trip(session: Session, kernel: Kernel, actor: Actor, call: Call, trip_id: int) -> Trip:
    """A trip of the call's township that has not arrived yet, or a 422 naming ``trip_id``."""
    trip = session.exec(
        select(Trip).where(
            col(Trip.id) == trip_id,
            col(Trip.township_code) == call.township_code,
            readable(kernel, actor, col(Trip.unit_code)),
        )
    ).first()
    if trip is None:
        raise Refusal(422, "本乡镇没有这张出车单 / no such trip here", "trip_id")
    if trip.state not in LINKABLE_TRIP_STATES:
        raise Refusal(422, "该车已到场，请另派一车 / the trip has arrived already", "trip_id")
    return trip


def triage(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    call: Call,
    body: TriageIn,
    *,
    now: datetime | None = None,
) -> Call:
    """值班领导研判: answer directly, send on a trip, transfer to a ticket, or settle a
    coordination the crew scheduled on site."""
    now = now or now_of(kernel)
    call.triaged_at = call.triaged_at or now
    call.triaged_by = call.triaged_by or actor.label
    if body.decision in ("answer", "settle"):
        if not body.answer:
            raise Refusal(422, "请填写答复内容 / required", "answer")
        transition, name = (
            ("answer", "answer") if body.decision == "answer" else ("settle", "result")
        )
        step(session, kernel, actor, call, transition, body.version, {name: body.answer}, now=now)
        call.answer, call.outcome_at = body.answer, now
    elif body.decision == "trip":
        if body.trip_id is None:
            raise Refusal(422, "请选择出车单 / required", "trip_id")
        trip = open_trip(session, kernel, actor, call, body.trip_id)
        inputs = {"trip": trip.id}
        step(
            session,
            kernel,
            actor,
            call,
            "dispatch",
            body.version,
            inputs,
            now=now,
            due_at=call.due_at,
        )
        call.trip_id = trip.id
    else:
        transfer(session, kernel, actor, call, body, now=now)
    session.add(call)
    session.commit()
    return call


def transfer(
    session: Session, kernel: Kernel, actor: Actor, call: Call, body: TriageIn, *, now: datetime
) -> None:
    """转办: the step and the ticket commit together; the ticket's id is linked after."""
    if body.ticket is None:
        raise Refusal(422, "请填写转办工单 / required", "ticket")
    step(session, kernel, actor, call, "transfer", body.version, {}, now=now)
    call.outcome_at = now
    ticket = referral.open_ticket(
        session,
        kernel,
        actor,
        body.ticket,
        unit_code=call.unit_code,
        description=call.question,
        channel=referral.HOTLINE,
        call=call,
        address=call.address,
        key=f"mobile_office:call:{call.id}",
        now=now,
    )
    call.ticket_id = ticket.id


def record_feedback(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    call: Call,
    body: FeedbackIn,
    *,
    now: datetime | None = None,
) -> Any:
    """回访评价: the duty leader records the caller's rating, given by phone, on the ticket
    the call became. As when a reporter rates online, 不满意 reopens the ticket (at most
    twice). Returns the ticket."""
    if not kernel.allowed(actor, DISPATCH, call.unit_code):
        raise Refusal(403, f"没有权限 {DISPATCH} / permission {DISPATCH!r} required")
    if call.ticket_id is None:
        raise Refusal(409, "该来电没有转办工单 / the call has no ticket", "ticket")
    ticket = get_ticket(session, kernel, actor, call.ticket_id)
    if ticket.state not in ("resolved", "visited"):
        raise Refusal(409, "工单办结后才能回访评价 / the ticket is not resolved yet", "ticket")
    now = now or now_of(kernel)
    with fields_under(""):
        # the duty leader relays the caller's own rating; 不满意 reopens, as online
        rate_ticket(
            session,
            kernel,
            actor,
            ticket,
            ticket.version,
            body.rating,
            body.comment,
            relayed=True,
            now=now,
        )
    session.commit()
    return ticket
