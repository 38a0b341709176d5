"""How calls, trips, records and days are shown — the same for the JSON API and the pages.

The caller's phone is shown in full only to actors holding ``mobile_office.phone`` at the
call's unit (operators, duty leaders, crews); everyone else who may read the call sees it
masked (``138****5678``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core import Actor, Kernel, mask_phone

from .access import PHONE
from .ledger import Day
from .models import Call, OnSiteRecord, Trip, TripCrew
from .schemas import RESULTS, SOURCES, URGENCIES
from .workflows import CALL_STATES, OPEN_CALL_STATES, TRIP_STATES


def sees_phone(kernel: Kernel, actor: Actor, call: Call) -> bool:
    """Whether ``actor`` sees the caller's phone unmasked."""
    return kernel.allowed(actor, PHONE, call.unit_code)


def call_view(
    kernel: Kernel, actor: Actor, call: Call, now: datetime | None = None
) -> dict[str, Any]:
    """A call as ``actor`` may see it."""
    now = now or kernel.workflows.clock()
    full = sees_phone(kernel, actor, call)
    waiting = call.state in OPEN_CALL_STATES
    return {
        "id": call.id,
        "unit_code": call.unit_code,
        "township_code": call.township_code,
        "caller_name": call.caller_name,
        "caller_phone": call.caller_phone if full else mask_phone(call.caller_phone),
        "phone_masked": not full,
        "address": call.address,
        "category": call.category,
        "question": call.question,
        "urgency": call.urgency,
        "urgency_label": URGENCIES.get(call.urgency, call.urgency),
        "source": call.source,
        "source_label": SOURCES.get(call.source, call.source),
        "also_12345": call.also_12345,
        "repeat_of": call.repeat_of_id,
        "first_time": call.repeat_of_id is None,
        "received_at": call.received_at,
        "operator_name": call.operator_name,
        "state": call.state,
        "state_label": CALL_STATES.get(call.state, call.state),
        "has_outcome": not waiting,
        "version": call.version,
        "due_at": call.due_at,
        "overdue": waiting and call.due_at is not None and now > call.due_at,
        "triaged_at": call.triaged_at,
        "answer": call.answer,
        "trip_id": call.trip_id,
        "ticket_id": call.ticket_id,
        "arrived_at": call.arrived_at,
        "arrival_minutes": call.arrival_minutes,
        "outcome_at": call.outcome_at,
        "promised_on": call.promised_on,
    }


def crew_view(member: TripCrew) -> dict[str, Any]:
    """A crew member as the trip sheet shows it."""
    return {
        "account_id": member.account_id,
        "username": member.username,
        "display_name": member.display_name,
    }


def trip_view(
    trip: Trip,
    crew: list[TripCrew] | None = None,
    call_ids: list[int] | None = None,
    ticket_ids: list[int] | None = None,
) -> dict[str, Any]:
    """A trip sheet (出车单); crew, calls and tickets when given."""
    shown: dict[str, Any] = {
        "id": trip.id,
        "unit_code": trip.unit_code,
        "township_code": trip.township_code,
        "destination": trip.destination,
        "vehicle": trip.vehicle,
        "note": trip.note,
        "leader_name": trip.leader_name,
        "state": trip.state,
        "state_label": TRIP_STATES.get(trip.state, trip.state),
        "version": trip.version,
        "created_at": trip.created_at,
        "departed_at": trip.departed_at,
        "arrived_at": trip.arrived_at,
        "returned_at": trip.returned_at,
    }
    if crew is not None:
        shown["crew"] = [crew_view(m) for m in crew]
    if call_ids is not None:
        shown["call_ids"] = call_ids
    if ticket_ids is not None:
        shown["ticket_ids"] = ticket_ids
    return shown


def record_view(record: OnSiteRecord) -> dict[str, Any]:
    """A 现场处置记录."""
    return {
        "id": record.id,
        "trip_id": record.trip_id,
        "call_id": record.call_id,
        "unit_code": record.unit_code,
        "findings": record.findings,
        "parties": record.parties,
        "actions": record.actions,
        "result": record.result,
        "result_label": RESULTS.get(record.result, record.result),
        "promised_on": record.promised_on,
        "meeting_place": record.meeting_place,
        "ticket_id": record.ticket_id,
        "recorded_at": record.recorded_at,
        "recorder_name": record.recorder_name,
    }


def day_view(kernel: Kernel, actor: Actor, day: Day) -> dict[str, Any]:
    """A township's day (日清日结台账)."""
    ledger = day.ledger
    return {
        "township_code": day.township_code,
        "day": day.day,
        "closed": day.closed,
        "closed_at": ledger.closed_at if ledger else None,
        "closer_name": ledger.closer_name if ledger and ledger.closed_at else None,
        "note": ledger.note if ledger and ledger.closed_at else None,
        "reopened_at": ledger.reopened_at if ledger else None,
        "counts": day.counts,
        "open_call_ids": [c.id for c in day.open_calls],
        "calls": [call_view(kernel, actor, c) for c in day.calls],
        "trips": [trip_view(t) for t in day.trips],
        "records": [record_view(r) for r in day.records],
    }
