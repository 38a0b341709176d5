"""Pages of 民情直通车 under ``/p/mobile_office/``: usable without JavaScript, on a desk or a
phone, in the shared layout.

* ``/`` — the practice and today's figures; ``/calls/new`` — 来电登记 (operator);
* ``/board`` — 研判看板: calls waiting for triage, on the way, waiting for coordination,
  and the trips out (duty leader);
* ``/calls/{id}`` — a call with what the viewer may do now (answer, send on a trip,
  transfer, settle, record the caller's rating) and its history;
  ``/calls/{id}/transfer`` — 转办 to a ticket, with the chosen type's fields;
* ``/trips``, ``/trips/new``, ``/trips/{id}`` — 出车单 (crew, departure, arrival, records);
  ``/trips/{id}/records/new`` — 现场处置记录;
* ``/ledger`` — 日清日结台账 of a day, and closing it.

Each form posts back, carries the CSRF token, and on refusal is shown again with the
message next to its field; a stale version (409) is shown on the page.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from core import Level, TicketType, get_ticket, list_units, workflow_history

from . import calls, ledger, referral, trips, views
from .access import DISPATCH, INTAKE, READ, RECORD
from .deps import kernel_of
from .schemas import (
    CATEGORIES,
    DB_INT_MAX,
    MOVES,
    RATINGS,
    CallIn,
    CloseIn,
    FeedbackIn,
    MoveIn,
    RecordIn,
    TriageIn,
    TripIn,
)
from .scoping import local_day, now_of
from .webforms import (
    attempt,
    blank_ticket,
    ids_of,
    need,
    new_key,
    optional_of,
    page,
    page_actor,
    page_session,
    page_township,
    parse,
    redirect,
    text_of,
    ticket_choice,
    ticket_from_form,
    ticket_state_label,
    unit_name,
)
from .workflows import (
    CALL,
    DISPATCHED,
    LINKABLE_TRIP_STATES,
    ON_SITE_TRIP_STATES,
    RECEIVED,
    SCHEDULED,
)

pages = APIRouter()

RowId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="编号 / id")]
KEY_FIELD = "submission_key"
NEXT_MOVE = {"planned": "depart", "departed": "arrive", "arrived": "finish"}
TYPE_FOR_CATEGORY = {
    "矛盾纠纷": "legal_dispute",
    "安全隐患": "public_repair",
    "道路水电": "public_repair",
    "环境卫生": "estate",
}
DEFAULT_TYPE = "complaint"

# -- the practice --------------------------------------------------------------------------


@pages.get("/", response_class=HTMLResponse, summary="民情直通车")
async def index(request: Request) -> Response:
    """The practice, and today's figures at the request's unit."""
    kernel, actor = kernel_of(request), page_actor(request)
    scope = request.state.scope

    def load() -> dict[str, Any]:
        today = local_day(kernel, now_of(kernel))
        with page_session(request) as session:
            return {
                "today": today,
                "calls_today": calls.count_calls(session, kernel, actor, scope, day=today),
                "waiting": calls.count_calls(
                    session, kernel, actor, scope, states=(RECEIVED, DISPATCHED)
                ),
                "out": len(
                    trips.list_trips(session, kernel, actor, scope, states=LINKABLE_TRIP_STATES)
                ),
            }

    return await page(request, "index.html", await run_in_threadpool(load))


# -- calls ---------------------------------------------------------------------------------


def _places(request: Request) -> list[tuple[str, str]]:
    """The township and its villages, for the unit choices of a form."""
    township = page_township(request)
    with page_session(request) as session:
        units = list_units(session, township, level=Level.village)
        own = list_units(session, township, level=Level.township)
    return [(u.code, u.name) for u in (*own, *units)]


async def _intake_form(
    request: Request, values: dict[str, Any], key: str, errors: dict[str, str], status: int = 200
) -> Response:
    places = await run_in_threadpool(_places, request)
    return await page(
        request,
        "intake.html",
        {
            "values": values,
            "errors": errors,
            "key": key,
            "key_field": KEY_FIELD,
            "places": places,
            "categories": CATEGORIES,
        },
        status,
    )


@pages.get("/calls/new", response_class=HTMLResponse, summary="来电登记")
async def intake_page(request: Request) -> Response:
    """来电登记: the empty form (operators and duty leaders)."""
    need(request, INTAKE)
    blank = {"unit_code": page_township(request), "urgency": "normal", "source": "hotline"}
    return await _intake_form(request, blank, new_key(), {})


@pages.post("/calls/new", response_class=HTMLResponse, summary="来电登记")
async def intake_submit(request: Request) -> Response:
    """Register the call and go to it; a refusal shows the form again."""
    need(request, INTAKE)
    kernel, actor, scope = kernel_of(request), page_actor(request), request.state.scope
    form = await request.form()
    names = ("caller_name", "caller_phone", "unit_code", "address", "category", "question")
    values: dict[str, Any] = {name: text_of(form, name) for name in names}
    values |= {
        "urgency": text_of(form, "urgency") or "normal",
        "source": text_of(form, "source") or "hotline",
        "also_12345": text_of(form, "also_12345") == "1",
        "repeat_of": optional_of(form, "repeat_of"),
        "received_at": optional_of(form, "received_at"),
    }
    key = text_of(form, KEY_FIELD)[:200] or None

    def work() -> int:
        body = parse(CallIn, {k: v for k, v in values.items() if v is not None})
        with page_session(request) as session:
            call, _ = calls.register_call(session, kernel, actor, scope, body, key=key)
            return call.id  # type: ignore[return-value]

    call_id, errors, status = await attempt(work)
    if errors:
        return await _intake_form(request, values, key or new_key(), errors, status)
    return redirect(request, f"/calls/{call_id}", done="call")


@pages.get("/board", response_class=HTMLResponse, summary="研判看板")
async def board_page(request: Request) -> Response:
    """Calls waiting for triage (urgent and oldest first), on the way, waiting for the
    agreed coordination, and the trips out."""
    kernel, actor, scope = kernel_of(request), page_actor(request), request.state.scope
    need(request, READ)

    def load() -> dict[str, Any]:
        now = now_of(kernel)
        with page_session(request) as session:

            def shown(states: tuple[str, ...], urgent_first: bool = False) -> list[dict[str, Any]]:
                found = calls.list_calls(
                    session,
                    kernel,
                    actor,
                    scope,
                    states=states,
                    urgent_first=urgent_first,
                    limit=200,
                )
                rows = found if urgent_first else reversed(found)
                return [views.call_view(kernel, actor, c, now) for c in rows]

            waiting = shown((RECEIVED,), urgent_first=True)
            out = trips.list_trips(
                session, kernel, actor, scope, states=(*LINKABLE_TRIP_STATES, "arrived")
            )
            return {
                "waiting": waiting,
                "dispatched": shown((DISPATCHED,)),
                "scheduled": shown((SCHEDULED,)),
                "trips": [views.trip_view(t) for t in out],
            }

    return await page(request, "board.html", await run_in_threadpool(load))


def _call_context(request: Request, call_id: int) -> dict[str, Any]:
    """A call as the viewer may see it, what it may do now, and the call's history."""
    kernel, actor = kernel_of(request), page_actor(request)
    with page_session(request) as session:
        call = calls.get_call(session, kernel, actor, call_id)
        shown = views.call_view(kernel, actor, call)
        dispatcher = kernel.allowed(actor, DISPATCH, call.unit_code)
        open_trips = []
        if dispatcher and call.state == RECEIVED:
            found = trips.list_trips(
                session, kernel, actor, request.state.scope, states=LINKABLE_TRIP_STATES
            )
            open_trips = [
                views.trip_view(t) for t in found if t.township_code == call.township_code
            ]
        ticket = None
        if call.ticket_id is not None:
            try:
                found_ticket = get_ticket(session, kernel, actor, call.ticket_id)
                ticket = {
                    "id": found_ticket.id,
                    "state": found_ticket.state,
                    "state_label": ticket_state_label(kernel, found_ticket.state),
                    "rating": found_ticket.rating,
                    "title": found_ticket.title,
                }
            except HTTPException:  # the viewer may not read tickets: the link only
                ticket = {"id": call.ticket_id, "state": None, "rating": None, "title": None}
        place = unit_name(session, call.unit_code)
        try:
            history = workflow_history(session, kernel, actor, call.instance_id)
        except HTTPException:
            history = []
    steps = {t.name: t.label for t in CALL.transitions}
    return {
        "call": shown,
        "place": place,
        "dispatcher": dispatcher,
        "open_trips": open_trips,
        "ticket": ticket,
        "history": [
            {"at": h.at, "label": steps.get(h.transition or "", "来电受理"), "inputs": h.inputs}
            for h in history
        ],
        "ratings": RATINGS,
    }


async def _call_page(
    request: Request,
    call_id: int,
    errors: dict[str, str] | None = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> Response:
    context = await run_in_threadpool(_call_context, request, call_id)
    return await page(
        request, "call.html", {**context, "errors": errors or {}, "values": values or {}}, status
    )


@pages.get("/calls/{call_id}", response_class=HTMLResponse, summary="来电")
async def call_page(request: Request, call_id: RowId) -> Response:
    """A call, what the viewer may do with it now, and its history."""
    return await _call_page(request, call_id)


@pages.post("/calls/{call_id}/triage", response_class=HTMLResponse, summary="研判")
async def triage_submit(request: Request, call_id: RowId) -> Response:
    """研判: answer, send on a trip or settle a coordination."""
    kernel, actor = kernel_of(request), page_actor(request)
    form = await request.form()
    values = {
        "version": text_of(form, "version"),
        "decision": text_of(form, "decision"),
        "answer": optional_of(form, "answer"),
        "trip_id": optional_of(form, "trip_id"),
    }

    def work() -> None:
        with page_session(request) as session:
            call = calls.get_call(session, kernel, actor, call_id)
            need(request, DISPATCH, call.unit_code)
            body = parse(TriageIn, {k: v for k, v in values.items() if v is not None})
            calls.triage(session, kernel, actor, call, body)

    _, errors, status = await attempt(work)
    if errors:
        return await _call_page(request, call_id, errors, status, values)
    return redirect(request, f"/calls/{call_id}", done=values["decision"])


@pages.post("/calls/{call_id}/feedback", response_class=HTMLResponse, summary="回访评价")
async def feedback_submit(request: Request, call_id: RowId) -> Response:
    """回访评价: record the caller's rating of the call's ticket."""
    kernel, actor = kernel_of(request), page_actor(request)
    form = await request.form()
    values = {"rating": text_of(form, "rating"), "comment": optional_of(form, "comment")}

    def work() -> None:
        with page_session(request) as session:
            call = calls.get_call(session, kernel, actor, call_id)
            body = parse(FeedbackIn, {k: v for k, v in values.items() if v not in (None, "")})
            calls.record_feedback(session, kernel, actor, call, body)

    _, errors, status = await attempt(work)
    if errors:
        return await _call_page(request, call_id, errors, status, values)
    return redirect(request, f"/calls/{call_id}", done="feedback")


# -- transfer to a ticket ------------------------------------------------------------------


async def _transfer_page(
    request: Request,
    call_id: int,
    wanted: str | None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), page_actor(request)

    def load() -> dict[str, Any]:
        with page_session(request) as session:
            call = calls.get_call(session, kernel, actor, call_id)
        need(request, DISPATCH, call.unit_code)
        fallback = TYPE_FOR_CATEGORY.get(call.category, DEFAULT_TYPE)
        choice = ticket_choice(kernel, call.unit_code, wanted, fallback)
        return {"call": views.call_view(kernel, actor, call), **choice}

    context = await run_in_threadpool(load)
    call = context["call"]
    blank = blank_ticket(
        context["kind"],
        referral.default_title_of(call["category"], call["question"]),
        call["urgency"],
    )
    shown = values or blank
    if values and context["kind"] and values.get("type") != context["kind"].code:
        shown = {**blank, "title": values.get("title") or blank["title"]}
    return await page(
        request,
        "transfer.html",
        {**context, "ticket": shown, "errors": errors or {}, "version": call["version"]},
        status,
    )


@pages.get("/calls/{call_id}/transfer", response_class=HTMLResponse, summary="转办")
async def transfer_page(
    request: Request, call_id: RowId, type: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    """转办: the ticket form, with the fields of the chosen type."""
    return await _transfer_page(request, call_id, type)


@pages.post("/calls/{call_id}/transfer", response_class=HTMLResponse, summary="转办")
async def transfer_submit(request: Request, call_id: RowId) -> Response:
    """Transfer the call to a ticket; a refusal shows the form again."""
    kernel, actor = kernel_of(request), page_actor(request)
    form = await request.form()
    wanted = text_of(form, "ticket.type")
    kind = await run_in_threadpool(_call_type, request, call_id, wanted)
    ticket_body, ticket_values = ticket_from_form(kind, form)
    version = text_of(form, "version")

    def work() -> None:
        with page_session(request) as session:
            call = calls.get_call(session, kernel, actor, call_id)
            need(request, DISPATCH, call.unit_code)
            body = parse(
                TriageIn, {"version": version, "decision": "transfer", "ticket": ticket_body}
            )
            calls.triage(session, kernel, actor, call, body)

    _, errors, status = await attempt(work)
    if errors:
        return await _transfer_page(request, call_id, wanted, ticket_values, errors, status)
    return redirect(request, f"/calls/{call_id}", done="transfer")


def _call_type(request: Request, call_id: int, wanted: str) -> TicketType | None:
    """The ticket type asked for, if offered at the call's unit."""
    kernel, actor = kernel_of(request), page_actor(request)
    with page_session(request) as session:
        call = calls.get_call(session, kernel, actor, call_id)
    return referral.find_type(kernel, call.unit_code, wanted)


# -- trips ---------------------------------------------------------------------------------


@pages.get("/trips", response_class=HTMLResponse, summary="出车单")
async def trips_page(request: Request) -> Response:
    """出车单: the trips at the request's unit, the viewer's own marked."""
    kernel, actor, scope = kernel_of(request), page_actor(request), request.state.scope
    need(request, READ)

    def load() -> dict[str, Any]:
        with page_session(request) as session:
            found = trips.list_trips(session, kernel, actor, scope, limit=100)
            mine = {t.id for t in found if trips.on_crew(session, actor, t)}
        return {"trips": [views.trip_view(t) for t in found], "mine": mine}

    return await page(request, "trips.html", await run_in_threadpool(load))


def _trip_form_context(request: Request) -> dict[str, Any]:
    kernel, actor, scope = kernel_of(request), page_actor(request), request.state.scope
    township = page_township(request)
    with page_session(request) as session:
        staff = trips.crew_candidates(session, kernel, actor, township)
        waiting = calls.list_calls(session, kernel, actor, scope, states=(RECEIVED,), limit=200)
    return {
        "staff": [(a.id, a.display_name or a.username, a.username) for a in staff],
        "waiting": [views.call_view(kernel, actor, c) for c in waiting],
        "places": _places(request),
    }


async def _trip_form(
    request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    context = await run_in_threadpool(_trip_form_context, request)
    return await page(
        request, "trip_new.html", {**context, "values": values, "errors": errors}, status
    )


@pages.get("/trips/new", response_class=HTMLResponse, summary="派车")
async def trip_new_page(
    request: Request, call: Annotated[list[int] | None, Query(description="来电编号")] = None
) -> Response:
    """派车: the trip form, with the calls given in ``call`` ticked."""
    need(request, DISPATCH)
    values = {
        "destination": "",
        "unit_code": page_township(request),
        "vehicle": "",
        "crew": [],
        "call_ids": [str(c) for c in call or ()],
        "ticket_ids": "",
        "note": "",
    }
    return await _trip_form(request, values, {})


@pages.post("/trips/new", response_class=HTMLResponse, summary="派车")
async def trip_new_submit(request: Request) -> Response:
    """Send the trip and go to its sheet; a refusal shows the form again."""
    need(request, DISPATCH)
    kernel, actor, scope = kernel_of(request), page_actor(request), request.state.scope
    form = await request.form()
    values = {
        "destination": text_of(form, "destination"),
        "unit_code": text_of(form, "unit_code"),
        "vehicle": text_of(form, "vehicle"),
        "crew": ids_of(form, "crew"),
        "call_ids": ids_of(form, "call_ids"),
        "ticket_ids": text_of(form, "ticket_ids"),
        "note": text_of(form, "note"),
    }
    ticket_ids = [t for t in values["ticket_ids"].replace("，", ",").split(",") if t.strip()]

    def work() -> int:
        data = {
            **{k: values[k] or None for k in ("destination", "unit_code", "vehicle", "note")},
            "crew": values["crew"],
            "call_ids": values["call_ids"],
            "ticket_ids": [t.strip() for t in ticket_ids],
        }
        body = parse(TripIn, data)
        with page_session(request) as session:
            return trips.create_trip(session, kernel, actor, scope, body).id  # type: ignore[return-value]

    trip_id, errors, status = await attempt(work)
    if errors:
        return await _trip_form(request, values, errors, status)
    return redirect(request, f"/trips/{trip_id}", done="trip_new")


def _trip_context(request: Request, trip_id: int) -> dict[str, Any]:
    kernel, actor = kernel_of(request), page_actor(request)
    with page_session(request) as session:
        trip = trips.get_trip(session, kernel, actor, trip_id)
        crew = trips.crew_of(session, trip_id)
        going = trips.calls_of(session, kernel, actor, trip_id)
        rider = trips.on_crew(session, actor, trip) or kernel.allowed(
            actor, DISPATCH, trip.unit_code
        )
        return {
            "trip": views.trip_view(trip, crew, None, trips.ticket_ids_of(session, trip_id)),
            "place": unit_name(session, trip.unit_code),
            "calls": [views.call_view(kernel, actor, c) for c in going],
            "records": [views.record_view(r) for r in trips.records_of(session, trip_id)],
            "rider": rider,
            "next_move": NEXT_MOVE.get(trip.state),
            "moves": MOVES,
            "on_site": trip.state in ON_SITE_TRIP_STATES,
        }


async def _trip_page(
    request: Request, trip_id: int, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context = await run_in_threadpool(_trip_context, request, trip_id)
    return await page(request, "trip.html", {**context, "errors": errors or {}}, status)


@pages.get("/trips/{trip_id}", response_class=HTMLResponse, summary="出车单")
async def trip_page(request: Request, trip_id: RowId) -> Response:
    """A trip sheet: crew, times, calls, tickets, records and the next step."""
    return await _trip_page(request, trip_id)


@pages.post("/trips/{trip_id}/move", response_class=HTMLResponse, summary="出发、到场、返回")
async def trip_move_submit(request: Request, trip_id: RowId) -> Response:
    """出发, 到场 or 返回, at the time given (now by default)."""
    kernel, actor = kernel_of(request), page_actor(request)
    form = await request.form()
    move = text_of(form, "move")
    data = {"version": text_of(form, "version"), "at": optional_of(form, "at")}

    def work() -> None:
        body = parse(MoveIn, {k: v for k, v in data.items() if v is not None})
        with page_session(request) as session:
            trip = trips.get_trip(session, kernel, actor, trip_id)
            trips.move_trip(session, kernel, actor, trip, move, body)

    _, errors, status = await attempt(work)
    if errors:
        return await _trip_page(request, trip_id, errors, status)
    return redirect(request, f"/trips/{trip_id}", done=move)


def _record_context(request: Request, trip_id: int, wanted: str | None) -> dict[str, Any]:
    kernel, actor = kernel_of(request), page_actor(request)
    with page_session(request) as session:
        trip = trips.get_trip(session, kernel, actor, trip_id)
        going = [
            views.call_view(kernel, actor, c)
            for c in trips.calls_of(session, kernel, actor, trip_id)
            if c.state == DISPATCHED
        ]
    return {
        "trip": views.trip_view(trip),
        "calls": going,
        **ticket_choice(kernel, trip.unit_code, wanted, DEFAULT_TYPE),
    }


async def _record_form(
    request: Request,
    trip_id: int,
    wanted: str | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = await run_in_threadpool(_record_context, request, trip_id, wanted)
    kind = context["kind"]
    ticket = values.get("ticket") or blank_ticket(kind, "", "normal")
    if kind is not None and ticket.get("type") != kind.code:
        ticket = blank_ticket(kind, ticket.get("title", ""), ticket.get("priority") or "normal")
    return await page(
        request,
        "record_new.html",
        {**context, "values": values, "ticket": ticket, "errors": errors},
        status,
    )


@pages.get("/trips/{trip_id}/records/new", response_class=HTMLResponse, summary="现场处置记录")
async def record_new_page(
    request: Request,
    trip_id: RowId,
    call: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    type: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """现场处置记录: the form, for a call of the trip when ``call`` is given."""
    need(request, RECORD)
    values = {"call_id": str(call) if call else "", "result": "resolved"}
    return await _record_form(request, trip_id, type, values, {})


@pages.post("/trips/{trip_id}/records/new", response_class=HTMLResponse, summary="现场处置记录")
async def record_new_submit(request: Request, trip_id: RowId) -> Response:
    """Save the record and go back to the trip; a refusal shows the form again."""
    need(request, RECORD)
    kernel, actor = kernel_of(request), page_actor(request)
    form = await request.form()
    names = ("call_id", "findings", "parties", "actions", "result", "promised_on", "meeting_place")
    values: dict[str, Any] = {name: text_of(form, name) for name in names}
    wanted = text_of(form, "ticket.type")
    kind = await run_in_threadpool(_trip_type, request, trip_id, wanted)
    ticket_body, values["ticket"] = ticket_from_form(kind, form)

    def work() -> None:
        data = {k: values[k] for k in names if values[k]}
        if values["result"] == "referred":
            data["ticket"] = ticket_body
        body = parse(RecordIn, data)
        with page_session(request) as session:
            trip = trips.get_trip(session, kernel, actor, trip_id)
            trips.add_record(session, kernel, actor, trip, body)

    _, errors, status = await attempt(work)
    if errors:
        return await _record_form(request, trip_id, wanted, values, errors, status)
    return redirect(request, f"/trips/{trip_id}", done="record")


def _trip_type(request: Request, trip_id: int, wanted: str) -> TicketType | None:
    kernel, actor = kernel_of(request), page_actor(request)
    with page_session(request) as session:
        trip = trips.get_trip(session, kernel, actor, trip_id)
    return referral.find_type(kernel, trip.unit_code, wanted)


# -- the day -------------------------------------------------------------------------------


def _day_context(request: Request, day: date) -> dict[str, Any]:
    kernel, actor = kernel_of(request), page_actor(request)
    township = page_township(request)
    with page_session(request) as session:
        found = ledger.load_day(session, kernel, actor, township, day)
    return {
        "day": views.day_view(kernel, actor, found),
        "open_calls": [views.call_view(kernel, actor, c) for c in found.open_calls],
        "scheduled": [views.call_view(kernel, actor, c) for c in found.scheduled],
        "transferred": [views.call_view(kernel, actor, c) for c in found.transferred],
        "closer": kernel.allowed(actor, DISPATCH, township),
        "today": local_day(kernel, now_of(kernel)),
    }


async def _ledger_page(
    request: Request, day: date, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context = await run_in_threadpool(_day_context, request, day)
    return await page(request, "ledger.html", {**context, "errors": errors or {}}, status)


@pages.get("/ledger", response_class=HTMLResponse, summary="日清日结")
async def ledger_page(
    request: Request, day: Annotated[date | None, Query(description="日期")] = None
) -> Response:
    """日清日结台账 of a day (today by default)."""
    need(request, READ)
    kernel = kernel_of(request)
    return await _ledger_page(request, day or local_day(kernel, now_of(kernel)))


@pages.post("/ledger/close", response_class=HTMLResponse, summary="日清日结")
async def ledger_close_submit(request: Request) -> Response:
    """Close the day; a refusal names the calls still open."""
    kernel, actor = kernel_of(request), page_actor(request)
    form = await request.form()
    data = {"day": text_of(form, "day"), "note": optional_of(form, "note")}
    township = page_township(request)

    def work() -> date:
        body = parse(CloseIn, {k: v for k, v in data.items() if v is not None})
        with page_session(request) as session:
            ledger.close_day(session, kernel, actor, township, body.day, body.note)
        return body.day

    day, errors, status = await attempt(work)
    if errors:
        try:
            shown_day = date.fromisoformat(data["day"])
        except ValueError:
            shown_day = local_day(kernel, now_of(kernel))
        return await _ledger_page(request, shown_day, errors, status)
    return redirect(request, "/ledger", day=day.isoformat(), done="closed")
