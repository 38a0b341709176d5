"""Plans, visits, needs and teams as the API answers them and the pages show them."""

from __future__ import annotations

from datetime import date
from typing import Any

from .models import Member, Need, Plan
from .schedule import FREQUENCIES, STATES
from .service import PlanRow, VisitRow
from .teams import TeamRow

NEED_STATES = {"found": "已发现", "transferred": "已转办", "solved": "已办结"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def plan_view(row: PlanRow, today: date) -> dict[str, Any]:
    """A plan: whom to visit, by when, and whether it is late (``overdue``: flagged by the
    job, or past its due day and still not visited)."""
    plan: Plan = row.plan
    late = plan.status == "overdue" or (plan.status == "planned" and plan.due_on < today)
    return {
        "id": plan.id,
        "person_id": plan.person_id,
        "household_id": plan.household_id,
        "name": row.name,
        "address": row.address,
        "unit_code": plan.unit_code,
        "team_id": plan.team_id,
        "volunteer": plan.volunteer,
        "volunteer_name": row.volunteer_name,
        "frequency": plan.frequency,
        "frequency_label": FREQUENCIES[plan.frequency],
        "period_start": plan.period_start.isoformat(),
        "due_on": plan.due_on.isoformat(),
        "status": plan.status,
        "status_label": STATES[plan.status],
        "overdue": late,
        "was_overdue": plan.overdue_at is not None,
        "visit_id": plan.visit_id,
        "visited_at": _iso(plan.visited_at),
        "reviewed_by": plan.reviewed_by,
        "version": plan.version,
    }


def need_state(need: Need) -> str:
    """found, transferred (a ticket was filed) or solved (its ticket was resolved)."""
    if need.solved_at is not None:
        return "solved"
    return "transferred" if need.ticket_id is not None else "found"


def need_view(need: Need) -> dict[str, Any]:
    state = need_state(need)
    return {
        "id": need.id,
        "kind": need.kind,
        "title": need.title,
        "urgent": need.urgent,
        "transfer": need.transfer,
        "state": state,
        "state_label": NEED_STATES[state],
        "ticket_id": need.ticket_id,
        "ticket_state": need.ticket_state,
    }


def visit_view(row: VisitRow) -> dict[str, Any]:
    """A visit with its needs; the full record is the form record ``record_id``."""
    visit = row.visit
    return {
        "id": visit.id,
        "record_id": visit.record_id,
        "plan_id": visit.plan_id,
        "person_id": visit.person_id,
        "name": row.name,
        "unit_code": visit.unit_code,
        "visitor": visit.visitor_name,
        "visited_on": visit.visited_on.isoformat(),
        "method": visit.method,
        "minutes": visit.minutes,
        "abnormal": visit.abnormal,
        "needs": [need_view(n) for n in row.needs],
        "tickets": [n.ticket_id for n in row.needs if n.ticket_id is not None],
    }


def member_view(member: Member) -> dict[str, Any]:
    return {
        "username": member.username,
        "display_name": member.display_name,
        "role": member.role,
        "role_label": "队长" if member.role == "leader" else "队员",
    }


def team_view(row: TeamRow) -> dict[str, Any]:
    return {
        "id": row.team.id,
        "name": row.team.name,
        "unit_code": row.team.unit_code,
        "unit_name": row.unit_name,
        "members": [member_view(m) for m in row.members],
        "open_plans": row.open_plans,
        "overdue_plans": row.overdue_plans,
    }
