"""Trips of the 民情直通车 (出车单) and what the crew records on site.

A trip is an instance of the ``trip`` workflow (待出发 → 已出发 → 已到场 → 已返回); the duty
leader sends it with a crew of the township's staff accounts, the calls it goes for (which
move to 已派车) and the tickets it handles. Its arrival sets each call's arrival time, from
which the metric 平均到场时间 is computed. On site the crew writes a 现场处置记录 per matter:
当场办结, 约期协调 (with the agreed date) or 转办 (a core ticket). Each function commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import (
    Actor,
    Kernel,
    Scope,
    get_ticket,
    list_accounts,
    start_workflow,
    transition_workflow,
)

from . import referral
from .access import DISPATCH, PLUGIN
from .calls import check_moment, check_unit, step
from .errors import Refusal, fields_under
from .models import Call, OnSiteRecord, Trip, TripCrew, TripTicket
from .schemas import MoveIn, RecordIn, TripIn
from .scoping import (
    day_bounds,
    end_of_day,
    is_account,
    local_day,
    now_of,
    readable,
    readable_row,
    request_township,
    shown_name,
    township_of,
    townships_on,
    within,
)
from .workflows import (
    DISPATCHED,
    ON_SITE_TRIP_STATES,
    OWNED,
    RECEIVED,
    TRIP,
)

NOT_FOUND = "出车单不存在或不在您的范围内 / no such trip in your scope"
CANDIDATES = 500  # staff accounts of a township offered as crew
PROMISE_DAYS = 30  # 约期协调 within a month
MOVE_STAMPS = {"depart": "departed_at", "arrive": "arrived_at", "finish": "returned_at"}


def visible(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """SQL: trips ``actor`` may read."""
    return readable(kernel, actor, col(Trip.unit_code))


def get_trip(session: Session, kernel: Kernel, actor: Actor, trip_id: int) -> Trip:
    """A trip ``actor`` may read, in a township where the plugin is on; 404 otherwise."""
    return readable_row(session, kernel, actor, Trip, trip_id, NOT_FOUND)


def list_trips(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    *,
    states: tuple[str, ...] = (),
    day: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Trip]:
    """Trips at the request's unit that ``actor`` may read, newest first."""
    query = select(Trip).where(
        col(Trip.township_code).in_(townships_on(session, kernel, scope)),
        within(col(Trip.unit_code), scope.unit.code),
        visible(kernel, actor),
    )
    if states:
        query = query.where(col(Trip.state).in_(states))
    if day is not None:
        start, end = day_bounds(kernel, day)
        query = query.where(col(Trip.created_at) >= start, col(Trip.created_at) < end)
    query = query.order_by(col(Trip.created_at).desc(), col(Trip.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def crew_candidates(session: Session, kernel: Kernel, actor: Actor, township: str) -> list[Any]:
    """The township's active staff accounts ``actor`` may see: who may ride on a trip."""
    with fields_under("crew"):
        return list_accounts(
            session, actor, kernel.access, under=township, active=True, limit=CANDIDATES
        )


def crew_of(session: Session, trip_id: int) -> list[TripCrew]:
    """A trip's crew, by account id."""
    return list(
        session.exec(
            select(TripCrew)
            .where(col(TripCrew.trip_id) == trip_id)
            .order_by(col(TripCrew.account_id))
        )
    )


def ticket_ids_of(session: Session, trip_id: int) -> list[int]:
    """The tickets a trip goes to handle."""
    return list(
        session.exec(
            select(TripTicket.ticket_id)
            .where(col(TripTicket.trip_id) == trip_id)
            .order_by(col(TripTicket.ticket_id))
        )
    )


def calls_of(session: Session, kernel: Kernel, actor: Actor, trip_id: int) -> list[Call]:
    """The calls a trip went for that ``actor`` may read, oldest first."""
    return list(
        session.exec(
            select(Call)
            .where(col(Call.trip_id) == trip_id, readable(kernel, actor, col(Call.unit_code)))
            .order_by(col(Call.received_at), col(Call.id))
        )
    )


def records_of(session: Session, trip_id: int) -> list[OnSiteRecord]:
    """A trip's on-site records, in the order they were written."""
    return list(
        session.exec(
            select(OnSiteRecord)
            .where(col(OnSiteRecord.trip_id) == trip_id)
            .order_by(col(OnSiteRecord.recorded_at), col(OnSiteRecord.id))
        )
    )


def on_crew(session: Session, actor: Actor, trip: Trip) -> bool:
    """Whether ``actor`` rides on ``trip``."""
    if not is_account(actor):
        return False
    found = session.get(TripCrew, (trip.id, actor.id))
    return found is not None


def check_rider(session: Session, kernel: Kernel, actor: Actor, trip: Trip) -> None:
    """Only the trip's crew and the duty leader move a trip or write its records (403)."""
    if not (on_crew(session, actor, trip) or kernel.allowed(actor, DISPATCH, trip.unit_code)):
        raise Refusal(403, "只有本车随车人员或值班领导可以办理 / only the crew or the duty leader")


def create_trip(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    scope: Scope,
    body: TripIn,
    *,
    now: datetime | None = None,
) -> Trip:
    """派车: a trip of the request's township, with its crew, calls and tickets."""
    now = now or now_of(kernel)
    township = request_township(scope)
    unit_code = check_unit(session, township, body.unit_code, "unit_code")
    if not kernel.allowed(actor, DISPATCH, unit_code):
        raise Refusal(403, f"派车须由值班领导办理（需要 {DISPATCH}）/ permission required")
    staff = {a.id: a for a in crew_candidates(session, kernel, actor, township)}
    for index, account_id in enumerate(body.crew):
        if account_id not in staff:
            raise Refusal(
                422, f"账号 #{account_id} 不是本乡镇在岗工作人员 / not staff here", f"crew.{index}"
            )
    if len(set(body.crew)) != len(body.crew):
        raise Refusal(422, "随车人员重复 / listed twice", "crew")
    calls = linkable_calls(session, kernel, actor, township, body.call_ids)
    for index, ticket_id in enumerate(body.ticket_ids):
        with fields_under(f"ticket_ids.{index}"):
            ticket = get_ticket(session, kernel, actor, ticket_id)
        if township_of(ticket.unit_code) != township:
            raise Refusal(
                422, "不是本乡镇的工单 / not a ticket of this township", f"ticket_ids.{index}"
            )
    instance = start_workflow(session, kernel, actor, PLUGIN, TRIP.name, unit_code, now=now)
    trip = Trip(
        instance_id=instance.id,
        unit_code=unit_code,
        township_code=township,
        destination=body.destination,
        vehicle=body.vehicle,
        note=body.note,
        leader=actor.label,
        leader_name=shown_name(actor),
        state=instance.state,
        version=instance.version,
        created_at=now,
        updated_at=now,
    )
    session.add(trip)
    session.flush()
    assert trip.id is not None
    for account_id in dict.fromkeys(body.crew):
        member = staff[account_id]
        session.add(
            TripCrew(
                trip_id=trip.id,
                account_id=account_id,
                username=member.username,
                display_name=member.display_name,
            )
        )
    for ticket_id in dict.fromkeys(body.ticket_ids):
        session.add(TripTicket(trip_id=trip.id, ticket_id=ticket_id))
    for call in calls:
        step(
            session,
            kernel,
            actor,
            call,
            "dispatch",
            call.version,
            {"trip": trip.id},
            now=now,
            due_at=call.due_at,
        )
        call.trip_id = trip.id
        call.triaged_at, call.triaged_by = call.triaged_at or now, call.triaged_by or actor.label
    session.commit()
    return trip


def linkable_calls(
    session: Session, kernel: Kernel, actor: Actor, township: str, call_ids: list[int]
) -> list[Call]:
    """The calls a new trip goes for: the township's, still waiting for triage (422 naming
    the one that is not)."""
    found = []
    for index, call_id in enumerate(dict.fromkeys(call_ids)):
        call = session.exec(
            select(Call).where(
                col(Call.id) == call_id,
                col(Call.township_code) == township,
                readable(kernel, actor, col(Call.unit_code)),
            )
        ).first()
        if call is None:
            raise Refusal(422, "本乡镇没有这件来电 / no such call here", f"call_ids.{index}")
        if call.state != RECEIVED:
            raise Refusal(422, f"来电 #{call_id} 已研判 / already triaged", f"call_ids.{index}")
        found.append(call)
    return found


def move_trip(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    trip: Trip,
    move: str,
    body: MoveIn,
    *,
    now: datetime | None = None,
) -> Trip:
    """出发, 到场 or 返回, at the moment given (now by default). Arrival sets the arrival
    time of every call the trip went for."""
    if move not in MOVE_STAMPS:
        raise Refusal(404, f"出车单没有「{move}」这一步 / no such step")
    check_rider(session, kernel, actor, trip)
    now = now or now_of(kernel)
    at = check_moment(kernel, body.at, now, "at")
    before = {"depart": trip.created_at, "arrive": trip.departed_at, "finish": trip.arrived_at}
    earliest = before[move]
    if earliest is not None and at < earliest - timedelta(minutes=1):
        raise Refusal(422, "不能早于上一步的时间 / earlier than the previous step", "at")
    going = calls_of(session, kernel, actor, trip.id) if move == "arrive" else []
    for call in going:
        if call.arrived_at is None and at < call.received_at:
            raise Refusal(422, f"到场时间早于来电 #{call.id} 的时间 / before the call", "at")
    with OWNED.step(), fields_under(""):
        moved = transition_workflow(
            session,
            kernel,
            actor,
            trip.instance_id,
            move,
            body.version,
            {},
            plugin=PLUGIN,
            workflow=TRIP.name,
            now=now,
        )
    trip.state, trip.version, trip.updated_at = moved.state, moved.version, now
    setattr(trip, MOVE_STAMPS[move], at)
    session.add(trip)
    for call in going:
        if call.arrived_at is None:
            call.arrived_at = at
            call.arrival_minutes = round((at - call.received_at).total_seconds() / 60, 1)
            session.add(call)
    session.commit()
    return trip


def add_record(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    trip: Trip,
    body: RecordIn,
    *,
    now: datetime | None = None,
) -> OnSiteRecord:
    """现场处置记录 of a trip that has arrived; with ``call_id`` it gives that call its
    outcome (当场办结, 约期协调 or 现场转办)."""
    check_rider(session, kernel, actor, trip)
    if trip.state not in ON_SITE_TRIP_STATES:
        raise Refusal(409, "尚未到场，不能填写现场处置记录 / the trip has not arrived", "state")
    now = now or now_of(kernel)
    call = on_site_call(session, kernel, actor, trip, body.call_id)
    check_outcome(kernel, body, now)
    record = OnSiteRecord(
        trip_id=trip.id,
        call_id=call.id if call else None,
        unit_code=call.unit_code if call else trip.unit_code,
        township_code=trip.township_code,
        findings=body.findings,
        parties=body.parties,
        actions=body.actions,
        result=body.result,
        promised_on=body.promised_on,
        meeting_place=body.meeting_place,
        recorded_at=now,
        recorded_by=actor.label,
        recorder_name=shown_name(actor),
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:  # another record for this call was written first
        session.rollback()
        raise Refusal(
            409, "该来电已有现场处置记录 / the call has a record already", "call_id"
        ) from None
    if call is not None:
        settle_call(session, kernel, actor, call, record, now)
    if body.result == "referred":
        assert body.ticket is not None  # checked by check_outcome
        ticket = referral.open_ticket(
            session,
            kernel,
            actor,
            body.ticket,
            unit_code=record.unit_code,
            description="\n".join(t for t in (body.findings, body.actions) if t),
            channel=referral.ON_SITE,
            call=call,
            address=call.address if call else trip.destination,
            key=f"mobile_office:record:{record.id}",
            now=now,
        )
        record.ticket_id = ticket.id
        session.add(record)
        if call is not None:
            call.ticket_id = ticket.id
            session.add(call)
    session.commit()
    return record


def on_site_call(
    session: Session, kernel: Kernel, actor: Actor, trip: Trip, call_id: int | None
) -> Call | None:
    """The call a record settles: one the trip went for, still without an outcome."""
    if call_id is None:
        return None
    call = session.exec(
        select(Call).where(
            col(Call.id) == call_id,
            col(Call.trip_id) == trip.id,
            readable(kernel, actor, col(Call.unit_code)),
        )
    ).first()
    if call is None:
        raise Refusal(422, "本次出车没有这件来电 / not a call of this trip", "call_id")
    if call.state != DISPATCHED:
        raise Refusal(422, "该来电已有处置结果 / the call has an outcome already", "call_id")
    return call


def check_outcome(kernel: Kernel, body: RecordIn, now: datetime) -> None:
    """约期协调 needs a date within a month; 转办 needs the ticket."""
    if body.result == "scheduled":
        if body.promised_on is None:
            raise Refusal(422, "约期协调须填写约定日期 / required", "promised_on")
        today = local_day(kernel, now)
        if not today <= body.promised_on <= today + timedelta(days=PROMISE_DAYS):
            raise Refusal(
                422, f"应在今天到 {PROMISE_DAYS} 天之内 / within {PROMISE_DAYS} days", "promised_on"
            )
    if body.result == "referred" and body.ticket is None:
        raise Refusal(422, "转办须填写工单类型 / required", "ticket")


def settle_call(
    session: Session, kernel: Kernel, actor: Actor, call: Call, record: OnSiteRecord, now: datetime
) -> None:
    """The call's outcome from the record (its workflow step and the mirrored fields)."""
    inputs: dict[str, Any] = {"record": record.id}
    due = None
    if record.result == "scheduled":
        assert record.promised_on is not None
        inputs["promised_on"] = record.promised_on.isoformat()
        due = end_of_day(kernel, record.promised_on)
        call.promised_on = record.promised_on
    transition = {"resolved": "resolve", "scheduled": "schedule", "referred": "refer"}
    step(
        session,
        kernel,
        actor,
        call,
        transition[record.result],
        call.version,
        inputs,
        now=now,
        due_at=due,
    )
    call.outcome_at = now
    session.add(call)
