"""How records are shown, one shape for the JSON API and the pages.

Staff see an issue with its reporter (the phone masked); the public notice board and the
report-back list never show who raised an issue, only its category and summary.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from core import mask_phone

from .models import TeaHouseDuty, TeaHouseIssue, TeaHouseSchedule, TeaHouseSession
from .service import KINDS, OUTCOMES, ROSTER_ROLES, STATUSES
from .tickets import FINAL_STATES, result_label


def schedule_view(row: TeaHouseSchedule) -> dict[str, Any]:
    """A village's fixed day."""
    return {
        "id": row.id,
        "unit_code": row.unit_code,
        "day_of_month": row.day_of_month,
        "start_time": row.start_time,
        "venue": row.venue,
        "lead_days": row.lead_days,
        "active": row.active,
        "updated_at": row.updated_at,
    }


def notice_view(row: TeaHouseSession) -> dict[str, Any]:
    """What the village's notice board shows of a session (公告)."""
    return {
        "id": row.id,
        "unit_code": row.unit_code,
        "kind": row.kind,
        "kind_label": KINDS[row.kind],
        "held_on": row.held_on,
        "start_time": row.start_time,
        "venue": row.venue,
        "topics": row.topics,
        "status": row.status,
        "status_label": STATUSES[row.status],
        "cancel_reason": row.cancel_reason,
    }


def session_view(row: TeaHouseSession) -> dict[str, Any]:
    """A session as staff see it."""
    return {
        **notice_view(row),
        "township_code": row.township_code,
        "host": row.host,
        "recorder": row.recorder,
        "cadres": row.cadres,
        "attendance": row.attendance,
        "leaders": row.leaders,
        "summary": row.summary,
        "version": row.version,
        "announced_at": row.announced_at,
        "opened_at": row.opened_at,
        "closed_at": row.closed_at,
    }


def duty_view(row: TeaHouseDuty) -> dict[str, Any]:
    """One entry of a session's duty roster."""
    return {
        "name": row.name,
        "role": row.role,
        "role_label": ROSTER_ROLES.get(row.role, row.role),
        "signed_at": row.signed_at,
    }


def overdue(issue: TeaHouseIssue, today: date) -> bool:
    """Transferred, past its promised deadline, and its ticket not final."""
    return (
        issue.outcome == "transferred"
        and issue.promised_by is not None
        and issue.promised_by < today
        and issue.ticket_state not in FINAL_STATES
    )


def issue_view(issue: TeaHouseIssue, today: date) -> dict[str, Any]:
    """An issue as staff see it: the reporter's phone masked."""
    return {
        "id": issue.id,
        "session_id": issue.session_id,
        "unit_code": issue.unit_code,
        "category": issue.category,
        "summary": issue.summary,
        "description": issue.description,
        "reporter_name": issue.reporter_name,
        "reporter_phone": mask_phone(issue.reporter_phone) if issue.reporter_phone else None,
        "outcome": issue.outcome,
        "outcome_label": OUTCOMES[issue.outcome],
        "answer": issue.answer,
        "responsible": issue.responsible,
        "promised_by": issue.promised_by,
        "ticket_id": issue.ticket_id,
        "ticket_state": issue.ticket_state,
        "result_label": result_label(issue.ticket_state)
        if issue.outcome == "transferred"
        else OUTCOMES[issue.outcome],
        "overdue": overdue(issue, today),
        "solved": issue.solved_at is not None,
        "reported_at": issue.reported_at,
        "raised_at": issue.raised_at,
        "version": issue.version,
    }


def report_item(issue: TeaHouseIssue, raised_at: TeaHouseSession, today: date) -> dict[str, Any]:
    """One line of the public report-back list: no reporter, no details."""
    return {
        "issue_id": issue.id,
        "session_id": raised_at.id,
        "raised_on": raised_at.held_on,
        "category": issue.category,
        "summary": issue.summary,
        "promised_by": issue.promised_by,
        "ticket_id": issue.ticket_id,
        "state": issue.ticket_state,
        "result": result_label(issue.ticket_state),
        "overdue": overdue(issue, today),
        "reported": issue.reported_session_id is not None,
    }
