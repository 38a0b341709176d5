"""JSON API of 民情直通车, mounted under ``/api/v1/p/mobile_office/``.

The kernel's township guard runs first: a signed-in actor, a unit inside the actor's units
(404 otherwise) in a township where the plugin is on (404 naming the plugin otherwise). Each
query then keeps to the actor's scope; a record outside it is a 404, like an unknown one.
Bad input is a 422 whose ``loc`` names the field; a stale ``version`` or a step the record's
state does not allow is a 409; closing a day with calls still open is a 409 naming them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from sqlmodel import Session

from core import Actor, Kernel

from . import calls, ledger, trips, views
from .access import DISPATCH, INTAKE, READ
from .deps import DbSession, ScopeDep, SignedActor, as_validation_errors, kernel_of, require
from .errors import Refusal
from .models import Trip
from .schemas import DB_INT_MAX, CallIn, CloseIn, FeedbackIn, MoveIn, RecordIn, TriageIn, TripIn
from .scoping import local_day, now_of, request_township
from .workflows import CALL_STATES, TRIP_STATES

api = APIRouter()

RowId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="编号 / id")]
Limit = Annotated[int, Query(ge=1, le=200, description="每页条数 / page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="跳过的条数 / rows to skip")]
Day = Annotated[date | None, Query(description="日期 YYYY-MM-DD（本地日）/ a local day")]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=200, description="重试时使用同一个键")
]


def _states(value: str | None, known: dict[str, str], field: str = "state") -> tuple[str, ...]:
    if value is None:
        return ()
    if value not in known:
        with as_validation_errors("query"):
            raise Refusal(422, f"应为以下之一 / one of: {', '.join(known)}", field)
    return (value,)


def _page(items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "next_offset": offset + limit if len(items) == limit else None}


# -- calls ---------------------------------------------------------------------------------


@api.get("/calls", summary="来电列表 / calls")
def list_calls(
    request: Request,
    actor: SignedActor,
    scope: ScopeDep,
    session: DbSession,
    state: Annotated[str | None, Query(max_length=20, description="状态 / state")] = None,
    day: Day = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Calls at the request's unit: newest first, or one day's, oldest first."""
    kernel = kernel_of(request)
    found = calls.list_calls(
        session,
        kernel,
        actor,
        scope,
        states=_states(state, CALL_STATES),
        day=day,
        limit=limit,
        offset=offset,
    )
    return _page([views.call_view(kernel, actor, c) for c in found], limit, offset)


@api.post("/calls", status_code=201, summary="来电登记 / register a call")
def register_call(
    body: CallIn,
    request: Request,
    response: Response,
    actor: SignedActor,
    scope: ScopeDep,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """A call received in the request's township (201); with an ``Idempotency-Key`` used
    before, the call that request registered (200)."""
    kernel = kernel_of(request)
    with as_validation_errors("query"):
        request_township(scope)
    require(kernel, actor, INTAKE, scope.unit.code)
    with as_validation_errors():
        call, created = calls.register_call(
            session, kernel, actor, scope, body, key=idempotency_key
        )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return views.call_view(kernel, actor, call)


@api.get("/calls/{call_id}", summary="来电详情 / a call")
def get_call(
    call_id: RowId, request: Request, actor: SignedActor, session: DbSession
) -> dict[str, Any]:
    """One call, the caller's phone masked unless the caller may see it."""
    kernel = kernel_of(request)
    return views.call_view(kernel, actor, calls.get_call(session, kernel, actor, call_id))


@api.post("/calls/{call_id}/triage", summary="研判 / triage a call")
def triage_call(
    call_id: RowId, body: TriageIn, request: Request, actor: SignedActor, session: DbSession
) -> dict[str, Any]:
    """值班领导研判: ``answer`` (with ``answer``), ``trip`` (with ``trip_id``), ``transfer``
    (with ``ticket``: its type, extra fields, title, priority) or ``settle`` a scheduled
    coordination (with ``answer``, the result). 409 when ``version`` is stale."""
    kernel = kernel_of(request)
    call = calls.get_call(session, kernel, actor, call_id)
    require(kernel, actor, DISPATCH, call.unit_code)
    with as_validation_errors():
        calls.triage(session, kernel, actor, call, body)
    return views.call_view(kernel, actor, call)


@api.post("/calls/{call_id}/feedback", summary="回访评价 / the caller's rating")
def call_feedback(
    call_id: RowId, body: FeedbackIn, request: Request, actor: SignedActor, session: DbSession
) -> dict[str, Any]:
    """The caller's rating of the ticket the call became, taken by phone at the visit
    back; 不满意 reopens the ticket."""
    kernel = kernel_of(request)
    call = calls.get_call(session, kernel, actor, call_id)
    with as_validation_errors():
        ticket = calls.record_feedback(session, kernel, actor, call, body)
    return {
        **views.call_view(kernel, actor, call),
        "ticket": {
            "id": ticket.id,
            "state": ticket.state,
            "rating": ticket.rating,
            "satisfaction": ticket.satisfaction,
            "reopens": ticket.reopens,
        },
    }


# -- trips ---------------------------------------------------------------------------------


@api.get("/crew", summary="可派随车人员 / staff who may ride")
def crew_candidates(
    request: Request, actor: SignedActor, scope: ScopeDep, session: DbSession
) -> list[dict[str, Any]]:
    """The township's active staff accounts a trip's crew is chosen from."""
    kernel = kernel_of(request)
    with as_validation_errors("query"):
        township = request_township(scope)
    require(kernel, actor, DISPATCH, township)
    return [
        {"account_id": a.id, "username": a.username, "display_name": a.display_name}
        for a in trips.crew_candidates(session, kernel, actor, township)
    ]


@api.get("/trips", summary="出车单列表 / trips")
def list_trips(
    request: Request,
    actor: SignedActor,
    scope: ScopeDep,
    session: DbSession,
    state: Annotated[str | None, Query(max_length=20, description="状态 / state")] = None,
    day: Day = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Trips at the request's unit, newest first; ``day`` keeps one day's."""
    kernel = kernel_of(request)
    found = trips.list_trips(
        session,
        kernel,
        actor,
        scope,
        states=_states(state, TRIP_STATES),
        day=day,
        limit=limit,
        offset=offset,
    )
    return _page([views.trip_view(t) for t in found], limit, offset)


@api.post("/trips", status_code=201, summary="派车 / send a trip")
def create_trip(
    body: TripIn, request: Request, actor: SignedActor, scope: ScopeDep, session: DbSession
) -> dict[str, Any]:
    """An 出车单 with its crew (staff account ids, see ``/crew``), the calls it goes for
    (waiting for triage) and the tickets it handles."""
    kernel = kernel_of(request)
    with as_validation_errors("query"):
        request_township(scope)
    with as_validation_errors():
        trip = trips.create_trip(session, kernel, actor, scope, body)
    return trip_detail(session, kernel, actor, trip)


def trip_detail(session: Session, kernel: Kernel, actor: Actor, trip: Trip) -> dict[str, Any]:
    """A trip with its crew, calls, tickets and records."""
    assert trip.id is not None
    shown = views.trip_view(
        trip,
        trips.crew_of(session, trip.id),
        [c.id for c in trips.calls_of(session, kernel, actor, trip.id)],
        trips.ticket_ids_of(session, trip.id),
    )
    shown["records"] = [views.record_view(r) for r in trips.records_of(session, trip.id)]
    return shown


@api.get("/trips/{trip_id}", summary="出车单 / a trip")
def get_trip(
    trip_id: RowId, request: Request, actor: SignedActor, session: DbSession
) -> dict[str, Any]:
    """A trip sheet with its crew, calls, tickets and on-site records."""
    kernel = kernel_of(request)
    return trip_detail(session, kernel, actor, trips.get_trip(session, kernel, actor, trip_id))


@api.post("/trips/{trip_id}/records", status_code=201, summary="现场处置记录 / on-site record")
def add_record(
    trip_id: RowId, body: RecordIn, request: Request, actor: SignedActor, session: DbSession
) -> dict[str, Any]:
    """What the crew found and did on site: 当场办结 (resolved), 约期协调 (scheduled, with
    ``promised_on``) or 转办 (referred, with ``ticket``); with ``call_id`` it is that call's
    outcome."""
    kernel = kernel_of(request)
    trip = trips.get_trip(session, kernel, actor, trip_id)
    with as_validation_errors():
        record = trips.add_record(session, kernel, actor, trip, body)
    return views.record_view(record)


# declared after ``…/records``, which ``{move}`` would otherwise match
@api.post("/trips/{trip_id}/{move}", summary="出发、到场、返回 / move a trip")
def move_trip(
    trip_id: RowId,
    move: Annotated[
        str, Path(pattern="^(depart|arrive|finish)$", description="depart | arrive | finish")
    ],
    body: MoveIn,
    request: Request,
    actor: SignedActor,
    session: DbSession,
) -> dict[str, Any]:
    """出发 (depart), 到场 (arrive: sets the calls' arrival time) or 返回 (finish), by the
    trip's crew or the duty leader; 409 when ``version`` is stale."""
    kernel = kernel_of(request)
    trip = trips.get_trip(session, kernel, actor, trip_id)
    with as_validation_errors():
        trips.move_trip(session, kernel, actor, trip, move, body)
    return trip_detail(session, kernel, actor, trip)


# -- the day -------------------------------------------------------------------------------


@api.get("/ledger", summary="日清日结台账 / the day's ledger")
def day_ledger(
    request: Request, actor: SignedActor, scope: ScopeDep, session: DbSession, day: Day = None
) -> dict[str, Any]:
    """The township's day (today by default): calls, trips, records, what is still open,
    and whether the duty leader has closed it."""
    kernel = kernel_of(request)
    require(kernel, actor, READ, scope.unit.code)
    with as_validation_errors("query"):
        township = request_township(scope)
    found = ledger.load_day(
        session, kernel, actor, township, day or local_day(kernel, now_of(kernel))
    )
    return views.day_view(kernel, actor, found)


@api.post("/ledger/close", summary="日清日结 / close the day")
def close_day(
    body: CloseIn, request: Request, actor: SignedActor, scope: ScopeDep, session: DbSession
) -> dict[str, Any]:
    """Close the township's day: refused (409, naming them) while a call of the day has no
    outcome; a day closed already is returned as it is."""
    kernel = kernel_of(request)
    with as_validation_errors("query"):
        township = request_township(scope)
    with as_validation_errors():
        found = ledger.close_day(session, kernel, actor, township, body.day, body.note)
    return views.day_view(kernel, actor, found)
