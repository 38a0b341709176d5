"""JSON API of special groups and care levels: ``/api/v1/archives/care/...``.

Reads need ``archive.read`` at the person's unit (in the query; 404 outside), writes
``archive.write``; approving an override needs ``archives.care_approve`` (网格长/村社干部 and
above) and another account than the proposer's; county thresholds need
``archives.care_configure`` at the county. Every write that changes a care input re-assesses
the person (:func:`assess`) in the same transaction; every write is audited.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import and_, case, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.archives.care import (
    ADL,
    CHILDREN,
    ECON,
    LEVELS,
    TAGS,
    ArchiveCareAssessment,
    ArchiveCareOverride,
    ArchiveCareProfile,
    ArchiveCareThreshold,
    ArchivePersonTag,
    CareInputs,
    CareResult,
    Thresholds,
    evaluate,
)
from core.archives.disclosure import reveal
from core.archives.models import ArchivePerson
from core.archives.service import READ, STALE, WRITE, age_on, invalid, not_found, versioned_update
from core.audit.service import record
from core.db.types import utcnow
from core.identity.access import Actor, Permission, scope_clause
from core.identity.web import require_actor
from core.jobs.spec import Job, JobContext
from core.kernel import Kernel
from core.units.codes import Level, parse_code
from core.web.inputs import RowId

APPROVE, CONFIGURE = "archives.care_approve", "archives.care_configure"
PERMISSIONS = [
    Permission(
        APPROVE,
        "审批关爱等级调整",
        granted_to=(
            "village_cadre",
            "township_admin",
            "county_admin",
            "city_admin",
            "system_admin",
        ),
    ),
    Permission(
        CONFIGURE, "设置关爱等级阈值", granted_to=("county_admin", "city_admin", "system_admin")
    ),
]
router = APIRouter(prefix="/archives/care", tags=["archives"])
Reader = Annotated[Actor, Depends(require_actor)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Level3 = Literal["red", "yellow", "green"]
Age = Annotated[int, Field(ge=40, le=120)]
Days = Annotated[int, Field(ge=1, le=366)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ProfileIn(BaseModel):
    children: Literal["same_city", "away", "none", "bereaved"]
    adl: Literal["self", "partial", "disabled", "dementia"]
    risk: bool = False
    econ: Literal["extreme", "low", "marginal", "general"] = "general"
    version: Version | None = None  # the profile's version as read; omitted for a new one


class TagIn(BaseModel):
    tag: str = Field(description="标签代码 / a key of the catalog")
    reason: Reason


class OverrideIn(BaseModel):
    level: Level3
    reason: Reason


class ThresholdsIn(BaseModel):
    elderly_age: Age = 60
    red_alone_age: Age = 80
    yellow_alone_age: Age = 70
    red_visit_days: Days = 7
    yellow_visit_days: Days = 30
    green_visit_days: Days = 90
    version: Version | None = None


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine, expire_on_commit=False)


def _insert(session: Session, row: Any, field: str) -> None:
    """Add ``row`` and flush: a concurrent writer that inserted the same key first is a 409
    naming ``field``, with nothing written."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise HTTPException(409, f"{field}: {STALE.split(': ', 1)[1]}") from None


def _person(session: Session, kernel: Kernel, actor: Actor, pid: int, perm: str) -> ArchivePerson:
    """Person ``pid`` if ``actor`` holds ``perm`` at its unit (in the query), else 404."""
    found = session.exec(
        select(ArchivePerson).where(
            col(ArchivePerson.id) == pid,
            scope_clause(actor, kernel.access, perm, col(ArchivePerson.unit_code)),
        )
    ).first()
    if found is None:
        raise not_found()
    return found


def _county(unit_code: str) -> str:
    county = parse_code(unit_code).ancestor_at(Level.county)
    return county or parse_code(unit_code).code


def thresholds_for(session: Session, unit_code: str) -> Thresholds:
    """The thresholds of the county of ``unit_code`` (defaults when none were set)."""
    row = session.get(ArchiveCareThreshold, _county(unit_code))
    if row is None:
        return Thresholds()
    return Thresholds(**{k: getattr(row, k) for k in Thresholds.__dataclass_fields__})


def _refine(kernel: Kernel, person: ArchivePerson, computed: CareResult) -> CareResult | None:
    """The first refinement of a plugin enabled in the person's township, if any."""
    answers = kernel.scope(person.unit_code).hooks.care_level_refine(
        person=person, assessment=computed
    )
    return next((a for a in answers if isinstance(a, CareResult) and a.level in LEVELS), None)


def _store(session: Session, person_id: int, result: CareResult, origin: str, actor: str) -> None:
    session.execute(
        update(ArchiveCareAssessment)
        .where(col(ArchiveCareAssessment.person_id) == person_id)
        .values(current=False)
    )
    session.add(
        ArchiveCareAssessment(
            person_id=person_id,
            level=result.level,
            rule=result.rule[:64],
            reason=result.reason[:200],
            origin=origin,
            actor=actor,
        )
    )


def assess(
    session: Session, kernel: Kernel, person: ArchivePerson, actor: str, *, inputs_changed: bool
) -> None:
    """Re-assess ``person`` from its care profile (nothing without one, or under the county's
    elderly age) and store the level when it or its rule changed; the caller commits.

    An approved override stands until the person's care inputs change (``inputs_changed``)."""
    profile = session.exec(
        select(ArchiveCareProfile).where(col(ArchiveCareProfile.person_id) == person.id)
    ).first()
    thresholds = thresholds_for(session, person.unit_code)
    age = age_on(person.birth_date, date.today())
    if profile is None or age < thresholds.elderly_age:
        return
    size = session.exec(
        select(func.count()).where(col(ArchivePerson.household_id) == person.household_id)
    ).one()
    inputs = CareInputs(age, size == 1, profile.children, profile.adl, profile.risk, profile.econ)
    result = evaluate(inputs, thresholds)
    origin = "rule"
    refined = _refine(kernel, person, result)
    if refined is not None:
        result, origin = refined, "plugin"
    now = _current(session, person.id)  # type: ignore[arg-type]
    if now is not None and now.origin == "override" and not inputs_changed:
        return
    if now is not None and (now.level, now.rule, now.origin) == (result.level, result.rule, origin):
        return
    _store(session, person.id, result, origin, actor)  # type: ignore[arg-type]


def _current(session: Session, pid: int) -> ArchiveCareAssessment | None:
    query = select(ArchiveCareAssessment).where(
        col(ArchiveCareAssessment.person_id) == pid, col(ArchiveCareAssessment.current)
    )
    return session.exec(query).first()


def _assessment_out(row: ArchiveCareAssessment, thresholds: Thresholds) -> dict[str, Any]:
    return {
        "level": row.level,
        "level_label": LEVELS[row.level],
        "rule": row.rule,
        "reason": row.reason,
        "origin": row.origin,
        "actor": row.actor,
        "visit_every_days": getattr(thresholds, f"{row.level}_visit_days"),
        "assessed_at": row.created_at.isoformat(),
    }


def _override_out(row: ArchiveCareOverride) -> dict[str, Any]:
    return {
        "id": row.id,
        "person_id": row.person_id,
        "level": row.level,
        "reason": row.reason,
        "status": row.status,
        "proposed_by": row.proposed_by,
        "proposed_at": row.proposed_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "version": row.version,
    }


def profile_out(profile: ArchiveCareProfile) -> dict[str, Any]:
    """A person's care inputs (SPI: only for ``archive.read_sensitive``, audited), labelled."""
    return {
        "children": profile.children,
        "children_label": CHILDREN[profile.children],
        "adl": profile.adl,
        "adl_label": ADL[profile.adl],
        "risk": profile.risk,
        "econ": profile.econ,
        "econ_label": ECON[profile.econ],
    }


def _care_out(session: Session, person: ArchivePerson, sensitive: bool) -> dict[str, Any]:
    """The care file; the care inputs (health, welfare, family: sensitive personal data)
    only when ``sensitive`` (the caller audited that read), else ``profile_masked``."""
    pid = person.id
    thresholds = thresholds_for(session, person.unit_code)
    history = session.exec(
        select(ArchiveCareAssessment)
        .where(col(ArchiveCareAssessment.person_id) == pid)
        .order_by(col(ArchiveCareAssessment.id).desc())
    ).all()
    profile = session.exec(
        select(ArchiveCareProfile).where(col(ArchiveCareProfile.person_id) == pid)
    ).first()
    tags = session.exec(
        select(ArchivePersonTag)
        .where(col(ArchivePersonTag.person_id) == pid)
        .order_by(col(ArchivePersonTag.id))
    ).all()
    overrides = session.exec(
        select(ArchiveCareOverride)
        .where(col(ArchiveCareOverride.person_id) == pid)
        .order_by(col(ArchiveCareOverride.id).desc())
    ).all()
    current = next((h for h in history if h.current), None)
    return {
        "person_id": pid,
        "name": person.name,
        "unit_code": person.unit_code,
        "care": _assessment_out(current, thresholds) if current else None,
        "profile_masked": profile is not None and not sensitive,
        "profile_version": profile.version if profile is not None else None,
        "profile": None
        if profile is None or not sensitive
        else profile_out(profile) | {"version": profile.version},
        "tags": [
            {
                "tag": t.tag,
                "label": TAGS[t.tag].label,
                "visit_every_days": TAGS[t.tag].visit_days,
                "reason": t.reason,
                "assigned_by": t.assigned_by,
                "assigned_at": t.assigned_at.isoformat(),
            }
            for t in tags
        ],
        "history": [_assessment_out(h, thresholds) for h in history],
        "overrides": [_override_out(o) for o in overrides],
    }


# -- routes --------------------------------------------------------------------------------


@router.get("/persons", summary="按关爱等级列出人员 / persons by care level")
def list_by_level(
    request: Request,
    actor: Reader,
    level: Annotated[Level3 | None, Query(description="红/黄/绿")] = None,
    unit: Annotated[str | None, Query(pattern=r"^\d{12}(\d{3})?$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[dict[str, Any]]:
    """The persons of the caller's scope with a care level in force, red first."""
    kernel = request.app.state.kernel
    query = (
        select(ArchivePerson, ArchiveCareAssessment)
        .join(ArchiveCareAssessment, col(ArchiveCareAssessment.person_id) == ArchivePerson.id)
        .where(
            col(ArchiveCareAssessment.current),
            scope_clause(actor, kernel.access, READ, col(ArchivePerson.unit_code)),
        )
    )
    if unit is not None:
        code = parse_code(unit)
        if not actor.role_allows(kernel.access, READ, code.code):
            raise HTTPException(404, "单位不存在或不在您的范围内 / no such unit in your scope")
        query = query.where(col(ArchivePerson.unit_code).startswith(code.path))
    if level is not None:
        query = query.where(col(ArchiveCareAssessment.level) == level)
    severity = case({"red": 0, "yellow": 1}, value=col(ArchiveCareAssessment.level), else_=2)
    query = query.order_by(severity, col(ArchivePerson.id)).limit(limit).offset(offset)
    with _session(request) as session:
        rows = session.exec(query).all()
        counties = {_county(p.unit_code) for p, _ in rows}
        thresholds = {c: thresholds_for(session, c) for c in counties}
        return [
            {"person_id": p.id, "name": p.name, "unit_code": p.unit_code}
            | _assessment_out(a, thresholds[_county(p.unit_code)])
            for p, a in rows
        ]


CARE_FIELDS = ["children", "adl", "risk", "econ"]  # care inputs: health, welfare, family


def _care_view(
    request: Request, session: Session, actor: Actor, person: ArchivePerson
) -> dict[str, Any]:
    """The care file as ``actor`` may see it: the inputs only with ``archive.read_sensitive``
    at the person's unit, that read audited first (as ID numbers are)."""
    assert person.id is not None
    sensitive = reveal(request, actor, "person", person.id, person.unit_code, CARE_FIELDS)
    return _care_out(session, person, sensitive)


@router.get("/persons/{person_id}", summary="关爱等级、理由与历史 / care level and history")
def get_care(person_id: RowId, request: Request, actor: Reader) -> dict[str, Any]:
    """A person's level in force with its reason, tags, history and overrides; the care
    inputs too for an actor holding ``archive.read_sensitive`` there (that read audited)."""
    with _session(request) as session:
        person = _person(session, request.app.state.kernel, actor, person_id, READ)
        return _care_view(request, session, actor, person)


@router.put("/persons/{person_id}/profile", summary="关爱评估要素 / care inputs")
def put_profile(
    person_id: RowId, body: ProfileIn, request: Request, actor: Reader
) -> dict[str, Any]:
    """Set the care inputs (``version`` as read once a profile exists; 409 when stale) and
    re-assess the person."""
    kernel = request.app.state.kernel
    values = body.model_dump(exclude={"version"})
    with _session(request) as session:
        person = _person(session, kernel, actor, person_id, WRITE)
        profile = session.exec(
            select(ArchiveCareProfile).where(col(ArchiveCareProfile.person_id) == person_id)
        ).first()
        if profile is None:
            _insert(session, ArchiveCareProfile(person_id=person_id, **values), "version")
        else:
            if body.version is None:
                raise invalid("version", "请提供读取时的版本 / version required")
            where = col(ArchiveCareProfile.id) == profile.id
            versioned_update(session, ArchiveCareProfile, where, body.version, values)
        session.flush()
        assess(session, kernel, person, actor.label, inputs_changed=True)
        record(
            session,
            actor=actor.label,
            action="archive.care.profile",
            target_type="person",
            target_id=str(person_id),
            unit_code=person.unit_code,
            after=values,
        )
        session.commit()
        return _care_view(request, session, actor, person)


@router.post("/persons/{person_id}/tags", status_code=201, summary="添加特殊人群标签 / add tag")
def add_tag(person_id: RowId, body: TagIn, request: Request, actor: Reader) -> dict[str, Any]:
    """Tag a person with a catalog tag and a reason (409 when it already has it)."""
    if body.tag not in TAGS:
        raise invalid("tag", f"未知标签，可选：{'、'.join(TAGS)} / unknown tag")
    with _session(request) as session:
        person = _person(session, request.app.state.kernel, actor, person_id, WRITE)
        taken = select(col(ArchivePersonTag.id)).where(
            col(ArchivePersonTag.person_id) == person_id, col(ArchivePersonTag.tag) == body.tag
        )
        if session.exec(taken).first() is not None:
            raise HTTPException(409, "tag: 该人员已有此标签 / the person already has this tag")
        tag = ArchivePersonTag(
            person_id=person_id, tag=body.tag, reason=body.reason, assigned_by=actor.label
        )
        _insert(session, tag, "tag")
        record(
            session,
            actor=actor.label,
            action="archive.care.tag_add",
            target_type="person",
            target_id=str(person_id),
            unit_code=person.unit_code,
            after=body.model_dump(),
        )
        session.commit()
        return _care_view(request, session, actor, person)


@router.delete("/persons/{person_id}/tags/{tag}", summary="移除标签 / remove a tag")
def remove_tag(person_id: RowId, tag: str, request: Request, actor: Reader) -> dict[str, Any]:
    """Remove a tag from a person (404 when the person does not have it)."""
    with _session(request) as session:
        person = _person(session, request.app.state.kernel, actor, person_id, WRITE)
        row = session.exec(
            select(ArchivePersonTag).where(
                col(ArchivePersonTag.person_id) == person_id, col(ArchivePersonTag.tag) == tag
            )
        ).first()
        if row is None:
            raise HTTPException(404, "该人员没有此标签 / the person has no such tag")
        session.delete(row)
        record(
            session,
            actor=actor.label,
            action="archive.care.tag_remove",
            target_type="person",
            target_id=str(person_id),
            unit_code=person.unit_code,
            before={"tag": tag, "reason": row.reason},
        )
        session.commit()
        return _care_view(request, session, actor, person)


@router.post(
    "/persons/{person_id}/overrides", status_code=201, summary="申请调整等级 / propose a level"
)
def propose_override(
    person_id: RowId, body: OverrideIn, request: Request, actor: Reader
) -> dict[str, Any]:
    """Propose a manual level with a reason; it takes effect once approved."""
    with _session(request) as session:
        person = _person(session, request.app.state.kernel, actor, person_id, WRITE)
        row = ArchiveCareOverride(
            person_id=person_id, level=body.level, reason=body.reason, proposed_by=actor.label
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor.label,
            action="archive.care.override_propose",
            target_type="care_override",
            target_id=str(row.id),
            unit_code=person.unit_code,
            after=body.model_dump(),
        )
        session.commit()
        return _override_out(row)


class DecisionIn(BaseModel):
    approve: bool
    version: Version


@router.post("/overrides/{override_id}/decision", summary="审批等级调整 / approve or reject")
def decide_override(
    override_id: RowId, body: DecisionIn, request: Request, actor: Reader
) -> dict[str, Any]:
    """Approve (the level takes effect, with the proposer's reason) or reject a proposal."""
    kernel = request.app.state.kernel
    with _session(request) as session:
        row = session.get(ArchiveCareOverride, override_id)
        if row is None:
            raise not_found()
        person = _person(session, kernel, actor, row.person_id, READ)
        if not kernel.allowed(actor, APPROVE, person.unit_code):
            raise HTTPException(403, "需要网格长或以上角色审批 / a higher role must approve")
        if row.proposed_by == actor.label:
            raise HTTPException(403, "不能审批本人的申请 / you cannot approve your own proposal")
        status = "approved" if body.approve else "rejected"
        still_proposed = and_(
            col(ArchiveCareOverride.id) == override_id,
            col(ArchiveCareOverride.status) == "proposed",
        )
        decision = {"status": status, "decided_by": actor.label, "decided_at": utcnow()}
        versioned_update(session, ArchiveCareOverride, still_proposed, body.version, decision)
        if body.approve:
            reason = f"人工调整：{row.reason}（{row.proposed_by} 申请，{actor.label} 批准）"
            result = CareResult(row.level, "override", reason)
            _store(session, person.id, result, "override", actor.label)  # type: ignore[arg-type]
        record(
            session,
            actor=actor.label,
            action=f"archive.care.override_{status}",
            target_type="care_override",
            target_id=str(override_id),
            unit_code=person.unit_code,
            after={"level": row.level, "status": status},
        )
        session.commit()
        session.refresh(row)
        return _override_out(row)


def _county_in_scope(kernel: Kernel, actor: Actor, county_code: str, perm: str) -> str:
    code = parse_code(county_code)
    if code.level is not Level.county or not actor.role_allows(kernel.access, perm, code.code):
        raise HTTPException(404, "单位不存在或不在您的范围内 / no such county in your scope")
    return code.code


@router.get("/thresholds/{county_code}", summary="县区关爱阈值 / a county's thresholds")
def get_thresholds(county_code: str, request: Request, actor: Reader) -> dict[str, Any]:
    """The county's care thresholds and visit frequencies (defaults when unset)."""
    code = _county_in_scope(request.app.state.kernel, actor, county_code, READ)
    with _session(request) as session:
        row = session.get(ArchiveCareThreshold, code)
        values = vars(thresholds_for(session, code))
    return {"county_code": code, **values, "version": row.version if row else None}


def set_thresholds(kernel: Kernel, actor: Actor, county_code: str, body: ThresholdsIn) -> str:
    """Set a county's thresholds as ``actor`` (``body.version`` as read once set) and
    re-assess the county's assessed persons, audited, in one transaction; returns the
    county's code. 404 for a county ``actor`` may not configure, 422 naming the field, 409
    when another administrator saved first: nothing is written on any of them. The API and
    the settings page both set them through this function."""
    code = _county_in_scope(kernel, actor, county_code, CONFIGURE)
    if body.yellow_alone_age > body.red_alone_age:
        raise invalid("yellow_alone_age", "不能高于红色独居年龄 / above red_alone_age")
    values = body.model_dump(exclude={"version"})
    with Session(kernel.engine, expire_on_commit=False) as session:
        row = session.get(ArchiveCareThreshold, code)
        if row is None:
            _insert(session, ArchiveCareThreshold(county_code=code, **values), "version")
        else:
            where = col(ArchiveCareThreshold.county_code) == code
            versioned_update(session, ArchiveCareThreshold, where, body.version or 0, values)
        session.flush()
        reassess_under(session, kernel, parse_code(code).path, actor.label)
        record(
            session,
            actor=actor.label,
            action="archive.care.thresholds",
            target_type="unit",
            target_id=code,
            unit_code=code,
            after=values,
        )
        session.commit()
    return code


@router.put("/thresholds/{county_code}", summary="设置县区关爱阈值 / set thresholds")
def put_thresholds(
    county_code: str, body: ThresholdsIn, request: Request, actor: Reader
) -> dict[str, Any]:
    """Set a county's thresholds (``version`` as read once set; 409 when stale); the
    county's assessed persons are re-assessed."""
    code = set_thresholds(request.app.state.kernel, actor, county_code, body)
    return get_thresholds(code, request, actor)


def reassess_households(
    session: Session, kernel: Kernel, household_ids: set[int], actor: str
) -> None:
    """Re-assess the persons with a care profile in these households, after a member came,
    went or had their birth date changed (living alone and the age band depend on those);
    the caller commits."""
    persons = session.exec(
        select(ArchivePerson)
        .join(ArchiveCareProfile, col(ArchiveCareProfile.person_id) == ArchivePerson.id)
        .where(col(ArchivePerson.household_id).in_(sorted(household_ids)))
    ).all()
    for person in persons:
        assess(session, kernel, person, actor, inputs_changed=False)


def reassess_under(session: Session, kernel: Kernel, path: str, actor: str) -> int:
    """Re-assess every person with a care profile under unit path ``path``; the count."""
    persons = session.exec(
        select(ArchivePerson)
        .join(ArchiveCareProfile, col(ArchiveCareProfile.person_id) == ArchivePerson.id)
        .where(col(ArchivePerson.unit_code).startswith(path))
    ).all()
    for person in persons:
        assess(session, kernel, person, actor, inputs_changed=False)
    return len(persons)


def reassess_township(ctx: JobContext) -> None:
    """The daily re-assessment of one township (ages passing a threshold, households that
    grew or shrank); approved overrides stand."""
    if ctx.township is None:
        return
    with Session(ctx.kernel.engine, expire_on_commit=False) as session:
        reassess_under(session, ctx.kernel, parse_code(ctx.township.code).path, f"job:{ctx.job}")
        session.commit()


REASSESS_JOB = Job("care_reassess", "关爱等级每日复评", timedelta(days=1), reassess_township)
