"""How a matter is shown, by the API and the pages alike, and to whom what is shown.

Everyone who may read a matter sees what it is, its rule, its dates, its 四议 meetings and,
once counted, its tally with turnout by headcount and area and whether the quorum was met.
During voting only the turnout shows, never a running tally. Staff (``deliberation.read``)
also see the steps' history and may open the roll with who has voted; how each voter chose
is shown for open (记名) matters only. A voter sees their own roll entry, whether they have
voted and, on an open matter, their choice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlmodel import Session, col, func, select

from core import Actor, Kernel, WorkflowError, workflow_history

from . import ballots, electorate, matters
from .access import READ, RECORD
from .inputs import square_metres
from .models import Estate, Matter, Turnout, Voter
from .rules import MEETINGS, OWNER_TYPES, RULES, STEP_RULES, VILLAGE_TOPICS, DecisionRule
from .workflows import STEP_LABELS, state_label, workflow_of

KINDS = {"owners": "业主共同决定", "village": "村级重大事项"}
CHANNELS = {"online": "网上投票", "in_person": "现场投票"}


def percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with two decimals (rounded half up), ``—`` for 0."""
    if whole <= 0:
        return "—"
    value = Decimal(Fraction(part * 100, whole).numerator) / Decimal(
        Fraction(part * 100, whole).denominator
    )
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def rule_shown(matter: Matter) -> DecisionRule:
    """The rule the matter is decided by, with its title and legal basis."""
    stored = ballots.rule_of(matter)
    known = RULES.get(matter.rule)
    return replace(stored, title=known.title, basis=known.basis) if known else stored


def type_label(matter: Matter) -> str:
    """The matter type in Chinese (with its 民法典 item for owners)."""
    if matter.kind == "owners":
        found = OWNER_TYPES.get(matter.matter_type)
        return f"{found.item}{found.title}" if found else matter.matter_type
    return VILLAGE_TOPICS.get(matter.matter_type, matter.matter_type)


def matter_summary(kernel: Kernel, matter: Matter) -> dict[str, Any]:
    """One line of a list or the board."""
    rule = rule_shown(matter)
    return {
        "id": matter.id,
        "kind": matter.kind,
        "kind_label": KINDS[matter.kind],
        "matter_type": matter.matter_type,
        "type_label": type_label(matter),
        "title": matter.title,
        "unit_code": matter.unit_code,
        "village_code": matter.village_code,
        "estate_id": matter.estate_id,
        "meeting": matter.meeting,
        "meeting_label": MEETINGS[matter.meeting].title if matter.meeting else None,
        "state": matter.state,
        "state_label": state_label(matter.kind, matter.state),
        "version": matter.version,
        "secret": matter.secret,
        "allow_change": matter.allow_change,
        "election": matter.election,
        "seats": matter.seats,
        "rule": rule.code,
        "rule_title": rule.title,
        "rule_summary": rule.summary(),
        "proposed_at": matter.proposed_at,
        "published_at": matter.published_at,
        "opens_at": matter.opens_at,
        "closes_at": matter.closes_at,
        "due_at": matter.due_at,
        "opens_label": matters.local(kernel, matter.opens_at),
        "closes_label": matters.local(kernel, matter.closes_at),
        "quorum_met": matter.quorum_met,
        "passed": matter.passed,
    }


def tally_view(matter: Matter) -> dict[str, Any] | None:
    """The counted tally with turnout percentages and areas in m²; ``None`` before 计票."""
    counted = matter.tally
    if counted is None:
        return None
    electorate_, participants = counted["electorate"], counted["participants"]

    def measure(row: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        return {
            **row,
            "area_m2": square_metres(row["area"]),
            "heads_share": percent(row["heads"], base["heads"]),
            "area_share": percent(row["area"], base["area"]),
        }

    view = {
        **counted,
        "electorate": measure(electorate_, electorate_),
        "participants": measure(participants, electorate_),
    }
    if "options" in counted:
        view["options"] = [measure(o, participants) for o in counted["options"]]
    if "candidates" in counted:
        view["candidates"] = [measure(c, participants) for c in counted["candidates"]]
    return view


def turnout_now(session: Session, matter: Matter) -> dict[str, Any]:
    """How many on the roll have voted so far, by headcount and area (no choices)."""
    heads, area = session.exec(
        select(func.coalesce(func.sum(Voter.heads), 0), func.coalesce(func.sum(Voter.area), 0))
        .join(Turnout, col(Turnout.voter_id) == col(Voter.id))
        .where(col(Voter.matter_id) == matter.id)
    ).one()
    total_heads, total_area = matter.electorate_heads or 0, matter.electorate_area or 0
    return {
        "heads": int(heads),
        "area_m2": square_metres(int(area)),
        "electorate_heads": total_heads,
        "electorate_area_m2": square_metres(total_area),
        "heads_share": percent(int(heads), total_heads),
        "area_share": percent(int(area), total_area),
    }


def meeting_view(meeting: Any) -> dict[str, Any]:
    """A 四议 meeting with its attendance and the rule it was held under."""
    rule = STEP_RULES[meeting.step]
    return {
        "step": meeting.step,
        "label": STEP_LABELS[meeting.step],
        "held_on": meeting.held_on.isoformat(),
        "form": meeting.form,
        "due": meeting.due,
        "present": meeting.present,
        "attendance": percent(meeting.present, meeting.due),
        "agree": meeting.agree,
        "against": meeting.against,
        "abstain": meeting.abstain,
        "content": meeting.content,
        "attendees": meeting.attendees,
        "township_attendees": meeting.township_attendees,
        "passed": meeting.passed,
        "rule": rule.summary(),
    }


def mine_view(
    session: Session, kernel: Kernel, actor: Actor, matter: Matter, now: datetime
) -> dict[str, Any] | None:
    """The actor's own roll entry and vote, or ``None`` when it is not on the roll."""
    if actor.kind != "account" or actor.person_id is None:
        return None
    voter = electorate.voter_of(session, matter.id, actor.person_id)  # type: ignore[arg-type]
    if voter is None:
        return None
    voted = ballots.has_voted(session, matter.id, voter.id)  # type: ignore[arg-type]
    choice = ballots.own_ballot(session, matter, voter)
    if choice is not None and matter.election:
        names = {str(c.id): c.name for c in ballots.candidates_of(session, matter.id)}  # type: ignore[arg-type]
        choice = [names.get(key, key) for key in choice]
    window = (
        matter.state == "voting"
        and matter.opens_at is not None
        and matter.closes_at is not None
        and matter.opens_at <= now < matter.closes_at
    )
    return {
        "voter_id": voter.id,
        "parcels": voter.parcels,
        "area_m2": square_metres(voter.area),
        "voted": voted,
        "choice": choice,
        "may_vote": window and (not voted or matter.allow_change),
    }


def _timeline(
    session: Session, kernel: Kernel, actor: Actor, matter: Matter
) -> list[dict[str, Any]]:
    workflow = workflow_of(matter.kind)
    try:
        rows = workflow_history(session, kernel, actor, matter.instance_id)
    except WorkflowError:  # not staff: the public milestones
        return [
            {"at": at, "label": label, "actor": "", "inputs": []}
            for at, label in (
                (matter.proposed_at, "议题征集"),
                (matter.published_at, "公示议题"),
                (matter.opened_at, "开始投票"),
                (matter.closed_at, "截止投票"),
                (matter.counted_at, "计票"),
                (matter.results_published_at, "公示结果"),
                (matter.implemented_at, "公示执行结果"),
            )
            if at is not None
        ]
    labels = {t.name: t.label for t in workflow.transitions}

    def named(transition: str | None, name: str) -> str:
        step = workflow.transition(transition) if transition else None
        found = step.input(name) if step else None
        return found.label if found else name

    return [
        {
            "at": row.at,
            "label": labels.get(row.transition, row.transition) if row.transition else "议题征集",
            "state_label": state_label(matter.kind, row.to_state),
            "actor": row.actor.partition(":")[2] or row.actor,
            "inputs": [
                {"name": named(row.transition, name), "value": value}
                for name, value in row.inputs.items()
            ],
        }
        for row in rows
    ]


def actions_view(
    kernel: Kernel, actor: Actor, matter: Matter, now: datetime
) -> list[dict[str, Any]]:
    """The steps ``actor`` may take now, with the inputs each asks for."""
    return [
        {
            "name": step.name,
            "label": step.label,
            "inputs": [
                {
                    "name": i.name,
                    "label": i.label,
                    "kind": i.kind,
                    "required": i.required,
                    "choices": list(i.choices),
                    "max_length": i.max_length,
                    "help": i.help,
                }
                for i in step.inputs
            ],
        }
        for step in matters.available(kernel, actor, matter, now)
    ]


def matter_detail(
    session: Session, kernel: Kernel, actor: Actor, matter: Matter, now: datetime
) -> dict[str, Any]:
    """The whole matter as ``actor`` may see it."""
    estate = session.get(Estate, matter.estate_id) if matter.estate_id else None
    staff = kernel.allowed(actor, READ, matter.unit_code)
    return {
        **matter_summary(kernel, matter),
        "description": matter.description,
        "estate_name": estate.name if estate else None,
        "options": list(matter.options),
        "candidates": [
            {"id": c.id, "position": c.position, "name": c.name, "statement": c.statement}
            for c in ballots.candidates_of(session, matter.id)  # type: ignore[arg-type]
        ],
        "meetings": [meeting_view(m) for m in matters.meetings_of(session, matter.id)],  # type: ignore[arg-type]
        "turnout": turnout_now(session, matter) if matter.published_at else None,
        "tally": tally_view(matter),
        "implementation_note": matter.implementation_note,
        "implementation_days": matter.implementation_days,
        "mine": mine_view(session, kernel, actor, matter, now),
        "staff": staff,
        "may_record": matter.state == "voting" and kernel.allowed(actor, RECORD, matter.unit_code),
        "actions": actions_view(kernel, actor, matter, now),
        "timeline": _timeline(session, kernel, actor, matter),
    }


def roll_view(session: Session, matter: Matter) -> list[dict[str, Any]]:
    """The roll with who has voted and how (channel, time): for staff. No choices."""
    return [
        {
            "voter_id": voter.id,
            "name": voter.name,
            "parcels": voter.parcels,
            "area_m2": square_metres(voter.area),
            "voted": turnout is not None,
            "channel": CHANNELS.get(turnout.channel) if turnout else None,
            "cast_at": turnout.cast_at if turnout else None,
            "changes": turnout.changes if turnout else 0,
        }
        for voter, turnout in ballots.turnout_of(session, matter.id)  # type: ignore[arg-type]
    ]
