"""Matters (议题): proposing one, reading them within scope, and moving them along their
workflow — the rules the API, the pages, the job and the demo share.

Every step goes through the workflow engine (``core.apply_transition``), which owns the
state, the version check (409 when stale), the history, the audit entry and the event; this
service decides what the engine cannot know, and mirrors the instance onto the matter row
in the same transaction:

* 公示 (``publish``): voting may open no sooner than :data:`NOTICE_DAYS` days later; the
  electorate is frozen now (:mod:`plugins.deliberation.electorate`);
* 开始投票 / 截止投票 (``open`` / ``close``): not before the published times (the job
  :mod:`plugins.deliberation.jobs` takes both on time); closing erases the ballot key;
* 计票 (``count``): the tally from the stored ballots (:func:`ballots.count_matter`);
* 组织执行 only for a matter that passed, 结束 only for one that did not;
* the 四议 steps of a village matter record their meeting with its attendance; a meeting
  short of its quorum cannot decide (422), one that does not approve rejects the matter.

Functions take the caller's session and never commit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from core import (
    Actor,
    Kernel,
    Level,
    ServiceOnly,
    Transition,
    apply_transition,
    clean_transition_inputs,
    parse_code,
    record_audit,
    scope_clause,
    start_workflow,
)

from . import ballots, electorate
from .access import MANAGE, PROPOSE, READ, subtree, village_of
from .errors import NOT_FOUND, DeliberationError, invalid
from .inputs import Optional, Required, RowId
from .models import Candidate, Estate, Matter, Meeting, Voter
from .registers import local_unit, require
from .rules import OPTIONS, OWNER_TYPES, STEP_RULES, VILLAGE_TOPICS, Weight, decide, rule_for
from .workflows import (
    MEETING_STEPS,
    NOTICE_DAYS,
    OPEN_STATES,
    PLUGIN,
    PUBLIC_STATES,
    STEP_LABELS,
    WORKFLOWS,
    workflow_of,
)

MAX_VOTING_DAYS = 60
SYSTEM = Actor("system", 0, PLUGIN, (), display_name="民主议事")

# matters move only through this service (the plugin's workflow_guard)
OWNED = ServiceOnly(
    PLUGIN,
    WORKFLOWS,
    "议题请通过民主议事办理（/api/v1/p/deliberation/matters）/ use the deliberation API",
)


class CandidateIn(BaseModel):
    """A candidate of an election (业委会选举)."""

    name: Required = Field(max_length=50, title="候选人姓名")
    person_id: RowId | None = Field(None, title="民情档案人员编号")
    statement: Optional = Field(None, max_length=500, title="候选人简介")


class MatterIn(BaseModel):
    """A new matter (议题征集): the API's body; the page builds the same."""

    kind: Literal["owners", "village"] = Field(title="议事类别")
    matter_type: str = Field(max_length=30, title="事项类型")
    title: Required = Field(max_length=100, title="议题")
    description: Required = Field(max_length=2000, title="议题内容")
    estate_id: RowId | None = Field(None, title="小区")
    meeting: Literal["villagers_meeting", "representatives_meeting"] | None = Field(
        None, title="决议会议"
    )
    secret: bool = Field(False, title="无记名投票")
    allow_change: bool = Field(False, title="截止前允许改票")
    seats: int = Field(0, ge=0, le=15, title="应选名额")
    candidates: list[CandidateIn] = Field(default_factory=list, max_length=30, title="候选人")


# -- the guard -------------------------------------------------------------------------------


# -- time ------------------------------------------------------------------------------------


def local(kernel: Kernel, moment: datetime | None) -> str:
    """A moment in local time, as messages and pages show it."""
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(kernel.settings.timezone)).strftime("%Y-%m-%d %H:%M")


def _moment(kernel: Kernel, text: str, field: str) -> datetime:
    """``2030-03-10 09:00`` (or ``2030-03-10T09:00``) in local time; 422 naming ``field``."""
    try:
        naive = datetime.strptime(text.strip().replace("T", " "), "%Y-%m-%d %H:%M")
    except ValueError:
        raise invalid(field, "格式应为 2030-03-10 09:00 / use YYYY-MM-DD HH:MM") from None
    return naive.replace(tzinfo=ZoneInfo(kernel.settings.timezone))


def _day(kernel: Kernel, now: datetime) -> date:
    return now.astimezone(ZoneInfo(kernel.settings.timezone)).date()


# -- proposing -------------------------------------------------------------------------------


def _kind_checks(session: Session, body: MatterIn, village: str) -> bool:
    """Check the matter's kind, type, estate or meeting and candidates; returns whether it
    is an election. 422 naming the field."""
    if body.kind == "owners":
        if body.matter_type not in OWNER_TYPES:
            raise invalid("matter_type", f"应为 {'、'.join(OWNER_TYPES)} 之一 / unknown type")
        if body.meeting is not None:
            raise invalid("meeting", "业主共同决定事项不设村民会议 / owners' matters have none")
        estate = session.get(Estate, body.estate_id) if body.estate_id else None
        if estate is None or village_of(estate.unit_code) != village:
            raise invalid(
                "estate_id", "请选择本村社已登记的小区 / choose an estate registered here"
            )
        election = OWNER_TYPES[body.matter_type].election
    else:
        if body.matter_type not in VILLAGE_TOPICS:
            raise invalid("matter_type", f"应为 {'、'.join(VILLAGE_TOPICS)} 之一 / unknown type")
        if body.meeting is None:
            raise invalid("meeting", "请选择村民会议或村民代表会议 / choose the deciding meeting")
        if body.estate_id is not None:
            raise invalid("estate_id", "村级事项不选小区 / village matters have no estate")
        election = False
    if election:
        if not body.candidates:
            raise invalid("candidates", "选举须有候选人 / an election needs candidates")
        if not 1 <= body.seats <= len(body.candidates):
            raise invalid("seats", "应选名额应在 1 到候选人数之间 / 1 to the number of candidates")
    elif body.candidates or body.seats:
        raise invalid("candidates", "只有选举事项设候选人与名额 / only elections have candidates")
    return election


def propose(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    unit_code: str,
    body: MatterIn,
    *,
    now: datetime | None = None,
) -> Matter:
    """议题征集 at ``unit_code`` (a village or grid): a resident, party member or cadre holding
    ``deliberation.propose`` there proposes an owners' matter of one of the village's
    estates, or a village matter decided by the villagers' or representatives' meeting."""
    code = local_unit(unit_code)
    village = village_of(code)
    assert village is not None, "a village or grid has a village"
    election = _kind_checks(session, body, village)
    require(kernel, actor, PROPOSE, code)
    rule = rule_for(body.kind, body.matter_type, body.meeting)
    now = now or kernel.workflows.clock()
    workflow = "owners_matter" if body.kind == "owners" else "village_matter"
    instance = start_workflow(session, kernel, actor, PLUGIN, workflow, code, now=now)
    parsed = parse_code(code)
    matter = Matter(
        instance_id=instance.id,
        kind=body.kind,
        matter_type=body.matter_type,
        title=body.title,
        description=body.description,
        unit_code=code,
        village_code=village,
        township_code=instance.township_code,
        county_code=parsed.ancestor_at(Level.county) or code,
        estate_id=body.estate_id if body.kind == "owners" else None,
        meeting=body.meeting,
        rule=rule.code,
        quorum=rule.quorum.encode(),
        approval=rule.approval.encode(),
        approval_base=rule.approval_base,
        by_area=rule.by_area,
        secret=body.secret,
        allow_change=body.allow_change,
        election=election,
        seats=body.seats,
        options=[] if election else list(OPTIONS),
        state=instance.state,
        version=instance.version,
        due_at=instance.due_at,
        proposer=actor.label,
        proposer_account=actor.name if actor.kind == "account" else None,
        proposed_at=now,
        updated_at=now,
    )
    session.add(matter)
    session.flush()
    for position, candidate in enumerate(body.candidates, 1):
        session.add(
            Candidate(
                matter_id=matter.id,  # type: ignore[arg-type]
                position=position,
                name=candidate.name,
                person_id=candidate.person_id,
                statement=candidate.statement or "",
            )
        )
    session.flush()
    record_audit(
        session,
        actor=actor.label,
        action=f"{PLUGIN}.matter.propose",
        target_type="deliberation_matter",
        target_id=str(matter.id),
        unit_code=code,
        after=body.model_dump(mode="json"),
    )
    return matter


# -- reading ---------------------------------------------------------------------------------


def _villages(actor: Actor) -> list[str]:
    """The villages of the actor's roles held at a village or grid."""
    return sorted({v for r in actor.roles if (v := village_of(r.unit_code)) is not None})


def readable(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """Matters ``actor`` may read: at units where it holds ``deliberation.read`` (staff);
    published ones of its own villages (the board); those whose roll holds it; its own
    proposals."""
    clauses = []
    staff = scope_clause(actor, kernel.access, READ, col(Matter.unit_code))
    if staff is not false():
        clauses.append(staff)
    villages = _villages(actor)
    if villages:
        clauses.append(and_(col(Matter.public).is_(True), col(Matter.village_code).in_(villages)))
    if actor.kind == "account":
        clauses.append(col(Matter.proposer_account) == actor.name)
        if actor.person_id is not None:
            on_roll = select(Voter.matter_id).where(col(Voter.person_id) == actor.person_id)
            clauses.append(col(Matter.id).in_(on_roll))
    return or_(*clauses) if clauses else false()


def get_matter(session: Session, kernel: Kernel, actor: Actor, matter_id: int) -> Matter:
    """The matter if ``actor`` may read it and the plugin is on in its township; 404
    otherwise (the same answer as for an unknown matter)."""
    found = session.exec(
        select(Matter).where(col(Matter.id) == matter_id, readable(kernel, actor))
    ).first()
    if found is None:
        raise DeliberationError(404, NOT_FOUND)
    kernel.require(PLUGIN, kernel.scope(found.township_code))
    return found


def board_unit(unit_code: str) -> str:
    """The unit whose matters a page of ``unit_code`` lists: a grid's village, else itself."""
    parsed = parse_code(unit_code)
    if parsed.level is Level.grid:
        return parsed.ancestor_at(Level.village)  # type: ignore[return-value]
    return parsed.code


def enabled_only(session: Session, kernel: Kernel, conditions: list[Any]) -> list[Any]:
    """``conditions`` plus one leaving out matters of townships where the plugin is off (a
    county-wide list skips them, as the kernel's metrics do)."""
    townships = session.exec(select(Matter.township_code).where(*conditions).distinct()).all()
    off = [code for code in townships if PLUGIN not in kernel.scope(code).enabled]
    return [*conditions, col(Matter.township_code).not_in(off)] if off else conditions


LIST_STATES = (
    "open",
    "public",
    *dict.fromkeys(s.name for workflow in WORKFLOWS.values() for s in workflow.states),
)


def list_matters(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    under: str,
    *,
    state: str | None = None,
    mine: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Matter]:
    """Matters ``actor`` may read at ``under`` (a grid's village) and below, newest first; or
    the matters whose roll holds the actor (``mine``: voting first). ``state`` is a state's
    name, ``open`` (not yet decided) or ``public`` (on the board); 422 for another."""
    conditions: list[Any] = [readable(kernel, actor)]
    if mine:
        person = actor.person_id if actor.kind == "account" else None
        if person is None:
            return []
        conditions.append(
            col(Matter.id).in_(select(Voter.matter_id).where(col(Voter.person_id) == person))
        )
    else:
        conditions.append(subtree(col(Matter.unit_code), board_unit(under)))
    if state is not None and state not in LIST_STATES:
        raise invalid("state", f"应为以下之一 / one of: {', '.join(LIST_STATES)}")
    if state == "open":
        conditions.append(col(Matter.state).in_(OPEN_STATES))
    elif state == "public":
        conditions.append(col(Matter.state).in_(PUBLIC_STATES))
    elif state is not None:
        conditions.append(col(Matter.state) == state)
    query = select(Matter).where(*enabled_only(session, kernel, conditions))
    order = (
        [col(Matter.state) != "voting", col(Matter.id).desc()] if mine else [col(Matter.id).desc()]
    )
    return list(session.exec(query.order_by(*order).offset(offset).limit(limit)))


def board(
    session: Session, kernel: Kernel, unit_code: str, *, limit: int = 30, offset: int = 0
) -> list[Matter]:
    """The public board (公示栏) of ``unit_code``'s village (or everything below a township):
    published matters, newest first. The guard has checked the unit is the reader's."""
    conditions = [
        col(Matter.public).is_(True),
        col(Matter.state).in_(PUBLIC_STATES),
        subtree(col(Matter.unit_code), board_unit(unit_code)),
    ]
    query = select(Matter).where(*enabled_only(session, kernel, conditions))
    query = query.order_by(col(Matter.published_at).desc(), col(Matter.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def meetings_of(session: Session, matter_id: int) -> list[Meeting]:
    """A village matter's 四议 meetings, in the order they were held."""
    query = select(Meeting).where(col(Meeting.matter_id) == matter_id).order_by(col(Meeting.id))
    return list(session.exec(query))


# -- steps -----------------------------------------------------------------------------------


def blocked(kernel: Kernel, matter: Matter, name: str, now: datetime) -> str | None:
    """Why step ``name`` cannot be taken on ``matter`` now (besides state and permission),
    or ``None``."""
    if name == "open" and matter.opens_at is not None and now < matter.opens_at:
        return f"公示期未满，投票将于 {local(kernel, matter.opens_at)} 开始 / too early"
    if name == "close" and matter.closes_at is not None and now < matter.closes_at:
        return f"投票截止时间为 {local(kernel, matter.closes_at)}，尚未截止 / not yet closed"
    if name == "implement" and not matter.passed:
        return "表决未通过，不能组织执行 / the matter did not pass"
    if name == "conclude" and matter.passed:
        return "表决已通过，应组织执行并公示执行结果 / the matter passed"
    return None


def available(kernel: Kernel, actor: Actor, matter: Matter, now: datetime) -> list[Transition]:
    """The steps ``actor`` may take on ``matter`` now, in the workflow's order."""
    if not kernel.allowed(actor, MANAGE, matter.unit_code):
        return []
    steps = workflow_of(matter.kind).outgoing(matter.state)
    return [s for s in steps if blocked(kernel, matter, s.name, now) is None]


def _publish(
    session: Session, kernel: Kernel, matter: Matter, values: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], datetime]:
    opens = _moment(kernel, values["opens_at"], "inputs.opens_at")
    closes = _moment(kernel, values["closes_at"], "inputs.closes_at")
    earliest = now + timedelta(days=NOTICE_DAYS)
    if opens < earliest:
        raise invalid(
            "inputs.opens_at",
            f"议题须至少公示 {NOTICE_DAYS} 天：最早 {local(kernel, earliest)} 开始投票 / "
            f"the notice period is at least {NOTICE_DAYS} days",
        )
    if closes <= opens:
        raise invalid("inputs.closes_at", "截止时间应晚于开始时间 / must be after the opening")
    if closes > opens + timedelta(days=MAX_VOTING_DAYS):
        raise invalid(
            "inputs.closes_at", f"投票期最长 {MAX_VOTING_DAYS} 天 / at most {MAX_VOTING_DAYS} days"
        )
    total = electorate.freeze(session, matter, _day(kernel, now))
    if total.heads == 0:
        raise invalid(
            "electorate", "表决名册为空：请先登记业主或村民代表 / the electorate is empty"
        )
    changes = {
        "published_at": now,
        "public": True,
        "opens_at": opens,
        "closes_at": closes,
        "electorate_heads": total.heads,
        "electorate_area": total.area,
    }
    return changes, opens


def _meeting(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    matter: Matter,
    step: str,
    values: dict[str, Any],
    now: datetime,
) -> Meeting:
    """Record a 四议 meeting; 422 naming the input that is wrong, or ``inputs.present`` when
    the meeting was short of its quorum (it could not decide)."""
    try:
        held_on = date.fromisoformat(values["held_on"])
    except ValueError:
        raise invalid("inputs.held_on", "日期格式应为 2030-03-10 / use YYYY-MM-DD") from None
    if held_on > _day(kernel, now):
        raise invalid("inputs.held_on", "会议日期不能晚于今天 / not in the future")
    due, present = values["due"], values["present"]
    agree, against, abstain = values["agree"], values["against"], values["abstain"]
    if present > due:
        raise invalid("inputs.present", "实到人数不能多于应到人数 / more present than due")
    if agree + against + abstain > present:
        raise invalid(
            "inputs.agree", "同意、反对、弃权之和不能多于实到人数 / more votes than present"
        )
    rule = STEP_RULES[step]
    decision = decide(rule, Weight(due), Weight(present), Weight(agree))
    if not decision.quorum_met:
        raise invalid(
            "inputs.present",
            f"实到人数须达到应到人数的{rule.quorum.label}，会议不能作出决定 / short of the quorum",
        )
    meeting = Meeting(
        matter_id=matter.id,  # type: ignore[arg-type]
        step=step,
        held_on=held_on,
        form=values["form"],
        due=due,
        present=present,
        agree=agree,
        against=against,
        abstain=abstain,
        content=values["content"],
        attendees=values["attendees"],
        township_attendees=values.get("township_attendees"),
        passed=decision.approved,
        recorded_by=actor.label,
        recorded_at=now,
    )
    session.add(meeting)
    session.flush()
    return meeting


def _prepare(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    matter: Matter,
    name: str,
    values: dict[str, Any],
    now: datetime,
) -> tuple[str, dict[str, Any], dict[str, Any], datetime | None]:
    """What step ``name`` needs and sets: the step actually taken (a 四议 meeting that does not
    approve rejects the matter), its inputs, the fields it sets on the matter, its deadline."""
    refusal = blocked(kernel, matter, name, now)
    if refusal is not None:
        raise DeliberationError(409, refusal)
    if name == "publish":
        changes, due = _publish(session, kernel, matter, values, now)
        return name, values, changes, due
    if matter.kind == "village" and name in MEETING_STEPS:
        step = MEETING_STEPS[name]
        meeting = _meeting(session, kernel, actor, matter, step, values, now)
        if not meeting.passed:
            return "reject", {"reason": f"{STEP_LABELS[step]}未通过"}, {}, None
        return name, values, {}, None
    if name == "open":
        key = ballots.new_key(kernel) if matter.secret and matter.allow_change else None
        return name, values, {"opened_at": now, "ballot_key": key}, matter.closes_at
    if name == "close":
        ballots.unlink(session, matter)
        return name, values, {"closed_at": now}, None
    if name == "count":
        counted = ballots.count_matter(session, matter)
        return (
            name,
            values,
            {
                "counted_at": now,
                "tally": counted,
                "quorum_met": counted["quorum_met"],
                "passed": counted["passed"],
                "participant_heads": counted["participants"]["heads"],
                "participant_area": counted["participants"]["area"],
            },
            None,
        )
    if name == "announce":
        return name, values, {"results_published_at": now}, None
    if name == "implement":
        return name, values, {"implementation_started_at": now}, None
    if name == "report":
        started = matter.results_published_at or now
        days = round((now - started).total_seconds() / 86400, 2)
        changes = {
            "implemented_at": now,
            "implementation_note": values["note"],
            "implementation_days": days,
        }
        return name, values, changes, None
    return name, values, {}, None


def transition(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    matter: Matter,
    name: str,
    version: int,
    inputs: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
    vouched: bool = False,
) -> Matter:
    """Take step ``name`` on ``matter`` (as :func:`get_matter` read it), last seen at
    ``version``: 404 for an unknown step, 403 without ``deliberation.manage`` at the
    matter's unit, 409 when stale, not allowed from the current state or not yet due, 422
    naming ``inputs.<name>``. ``vouched``: the plugin's own job (the engine then checks no
    permission). Mirrors the instance onto the matter; the caller commits."""
    step = workflow_of(matter.kind).transition(name)
    if step is None:
        raise DeliberationError(404, f"transition: 议题没有「{name}」这一步 / no such transition")
    if not vouched:
        require(kernel, actor, MANAGE, matter.unit_code)
    values = clean_transition_inputs(step, dict(inputs or {}))
    now = now or kernel.workflows.clock()
    changes: dict[str, Any] = {}
    due = None
    if version == matter.version and matter.state in step.sources:
        name, values, changes, due = _prepare(session, kernel, actor, matter, name, values, now)
    with OWNED.step():
        moved, _ = apply_transition(
            session,
            kernel,
            actor,
            matter.instance_id,
            name,
            version,
            values,
            plugin=PLUGIN,
            workflow=workflow_of(matter.kind).name,
            now=now,
            due_at=due,
            vouched=vouched,
        )
    changes |= {
        "state": moved.state,
        "version": moved.version,
        "due_at": moved.due_at,
        "updated_at": now,
    }
    for field, value in changes.items():
        setattr(matter, field, value)
    session.add(matter)
    session.flush()
    return matter
