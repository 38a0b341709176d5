"""JSON API of 民主议事, mounted under ``/api/v1/p/deliberation/`` (the kernel's guard: a
signed-in actor, the request's unit within its units, the plugin on in that township).

* ``/rules``: the matter types and the rule each is decided by;
* ``/estates`` (GET, POST), ``/estates/{id}`` and ``/estates/{id}/parcels`` (POST): the
  owners' registers; ``/representatives`` (GET, POST): the village's 村民代表;
* ``/matters``: 议题征集 (POST), lists (``state``, ``mine``), one matter, a step (POST
  ``/matters/{id}/transitions/{name}`` with ``{version, inputs}``: 409 when stale);
* ``/matters/{id}/ballots``: vote (POST; 403 unverified or not on the roll, 409 closed or
  already voted); ``/matters/{id}/ballots/in-person``: an officer records an in-person vote;
  GET lists who chose what, for open (记名) matters only;
* ``/matters/{id}/roll``: the roll with who has voted; ``/matters/{id}/recount``: the tally
  counted again from the stored ballots, and whether it matches the published one;
* ``/board``: the public board of the request's village.

Refused input answers 422 in FastAPI's shape (``detail: [{loc, msg, type}]``) with ``loc``
naming the field; a matter outside the caller's reach answers 404, like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from core import Actor, Kernel, Scope, actor_of, current_scope, fields_named, kernel_of, session_of

from . import ballots, matters, registers, views
from .access import READ
from .inputs import DB_INT_MAX, RowId
from .models import Matter
from .rules import MEETINGS, OWNER_TYPES, STEP_RULES, VILLAGE_TOPICS

api = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
MatterId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="议题编号 / matter id")]
EstateId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="小区编号 / estate id")]
Limit = Annotated[int, Query(ge=1, le=100, description="条数 / page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="跳过的条数 / rows to skip")]


def staff_only(kernel: Kernel, actor: Actor, matter: Matter) -> None:
    """403 unless ``actor`` reads deliberations at the matter's unit (the roll, recounts)."""
    registers.require(kernel, actor, READ, matter.unit_code)


def rules_catalogue() -> dict[str, Any]:
    """Every matter type and meeting with the rule that decides it."""
    return {
        "owners": [
            {
                "code": t.code,
                "title": f"{t.item}{t.title}",
                "election": t.election,
                "rule": t.rule.code,
                "quorum": t.rule.quorum.encode(),
                "approval": t.rule.approval.encode(),
                "summary": t.rule.summary(),
            }
            for t in OWNER_TYPES.values()
        ],
        "village_topics": [
            {"code": code, "title": title} for code, title in VILLAGE_TOPICS.items()
        ],
        "meetings": [
            {
                "code": code,
                "title": rule.title,
                "quorum": rule.quorum.encode(),
                "approval": rule.approval.encode(),
                "summary": rule.summary(),
            }
            for code, rule in MEETINGS.items()
        ],
        "steps": [
            {"step": step, "title": rule.title, "summary": rule.summary()}
            for step, rule in STEP_RULES.items()
        ],
    }


@api.get("/rules", summary="事项类型与表决规则 / matter types and their rules")
def list_rules() -> dict[str, Any]:
    """Every matter type and meeting with the rule that decides it."""
    return rules_catalogue()


# -- registers -------------------------------------------------------------------------------


@api.get("/estates", summary="小区（业主名册）/ estates")
def list_estates(request: Request, scope: ScopeDep) -> list[dict[str, Any]]:
    """The estates at the request's unit and below that the caller may read."""
    with session_of(request) as session:
        found = registers.list_estates(
            session, kernel_of(request), actor_of(request), scope.unit.code
        )
        return [registers.estate_view(e) for e in found]


@api.post("/estates", status_code=201, summary="登记小区 / register an estate")
def create_estate(request: Request, scope: ScopeDep, body: registers.EstateIn) -> dict[str, Any]:
    """Register an estate at the request's village or grid (201; 409 for a name taken)."""
    with session_of(request) as session, fields_named():
        estate = registers.create_estate(
            session, kernel_of(request), actor_of(request), scope.unit.code, body
        )
        session.commit()
        return registers.estate_view(estate, [])


@api.get("/estates/{estate_id}", summary="小区与专有部分 / an estate and its parcels")
def get_estate(request: Request, estate_id: EstateId) -> dict[str, Any]:
    """One estate with its 专有部分, their areas and owners."""
    with session_of(request) as session:
        estate = registers.get_estate(session, kernel_of(request), actor_of(request), estate_id)
        return registers.estate_view(estate, registers.parcels_of(session, estate))


@api.post(
    "/estates/{estate_id}/parcels", summary="登记专有部分 / register a parcel (upsert by label)"
)
def save_parcel(request: Request, estate_id: EstateId, body: registers.ParcelIn) -> dict[str, Any]:
    """Register or correct a 专有部分 (upsert by label); the estate as it is now."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        estate = registers.get_estate(session, kernel, actor, estate_id)
        with fields_named():
            registers.save_parcel(session, kernel, actor, estate, body)
        session.commit()
        return registers.estate_view(estate, registers.parcels_of(session, estate))


@api.get("/representatives", summary="村民代表名册 / the village's representatives")
def list_representatives(request: Request, scope: ScopeDep) -> list[dict[str, Any]]:
    """The village's 村民代表."""
    with session_of(request) as session, fields_named("query"):
        return registers.representatives_of(
            session, kernel_of(request), actor_of(request), scope.unit.code
        )


@api.post("/representatives", summary="登记村民代表 / register a representative")
def save_representative(
    request: Request, scope: ScopeDep, body: registers.RepresentativeIn
) -> list[dict[str, Any]]:
    """Register or update a 村民代表; the village's list as it is now."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session, fields_named():
        registers.save_representative(session, kernel, actor, scope.unit.code, body)
        session.commit()
        return registers.representatives_of(session, kernel, actor, scope.unit.code)


# -- matters ---------------------------------------------------------------------------------


def detail(session: Session, request: Request, matter: Matter) -> dict[str, Any]:
    """The matter as the caller may see it, now."""
    kernel = kernel_of(request)
    return views.matter_detail(session, kernel, actor_of(request), matter, kernel.workflows.clock())


@api.post("/matters", status_code=201, summary="提出议题 / propose a matter")
def propose(request: Request, scope: ScopeDep, body: matters.MatterIn) -> dict[str, Any]:
    """议题征集 at the request's village or grid (201)."""
    with session_of(request) as session:
        with fields_named():
            matter = matters.propose(
                session, kernel_of(request), actor_of(request), scope.unit.code, body
            )
        session.commit()
        return detail(session, request, matter)


@api.get("/matters", summary="议题列表 / matters")
def list_matters(
    request: Request,
    scope: ScopeDep,
    state: Annotated[str | None, Query(max_length=20, description="状态、open 或 public")] = None,
    mine: Annotated[bool, Query(description="我在表决名册中的议题")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Matters the caller may read at the unit (a grid's village), or ``mine``."""
    kernel = kernel_of(request)
    with session_of(request) as session, fields_named("query"):
        found = matters.list_matters(
            session,
            kernel,
            actor_of(request),
            scope.unit.code,
            state=state,
            mine=mine,
            limit=limit,
            offset=offset,
        )
        return [views.matter_summary(kernel, m) for m in found]


@api.get("/matters/{matter_id}", summary="议题详情 / one matter")
def get_matter(request: Request, matter_id: MatterId) -> dict[str, Any]:
    """One matter; 404 outside the caller's reach."""
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel_of(request), actor_of(request), matter_id)
        return detail(session, request, matter)


class StepIn(BaseModel):
    """A step: the version seen and the step's inputs."""

    version: RowId = Field(description="所见版本 / the version you saw")
    inputs: dict[str, str | int | None] = Field(default_factory=dict, description="输入项")


@api.post(
    "/matters/{matter_id}/transitions/{name}",
    summary="审核、公示、开始投票、截止、计票、公示结果、执行… / take a step",
)
def take_step(
    request: Request, matter_id: MatterId, name: Annotated[str, Path(max_length=40)], body: StepIn
) -> dict[str, Any]:
    """The matter after the step; 409 when ``version`` is stale (reload and retry)."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        with fields_named():
            matters.transition(session, kernel, actor, matter, name, body.version, body.inputs)
        session.commit()
        return detail(session, request, matter)


@api.post("/matters/{matter_id}/ballots", summary="投票 / vote (a verified voter on the roll)")
def vote(
    request: Request, response: Response, matter_id: MatterId, body: ballots.BallotIn
) -> dict[str, Any]:
    """201 for a first vote, 200 for a change (where the matter allows it)."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        with fields_named():
            cast = ballots.cast_online(
                session, kernel, actor, matter, body, kernel.workflows.clock()
            )
        session.commit()
        response.status_code = 200 if cast.changed else 201
        return {
            "matter_id": matter.id,
            "voted": True,
            "changed": cast.changed,
            "matter": detail(session, request, matter),
        }


@api.post(
    "/matters/{matter_id}/ballots/in-person", summary="登记现场投票 / record an in-person vote"
)
def vote_in_person(
    request: Request, response: Response, matter_id: MatterId, body: ballots.InPersonIn
) -> dict[str, Any]:
    """An in-person vote recorded by an officer (201; 200 for a change)."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        with fields_named():
            cast = ballots.cast_in_person(
                session, kernel, actor, matter, body, kernel.workflows.clock()
            )
        session.commit()
        response.status_code = 200 if cast.changed else 201
        return {
            "matter_id": matter.id,
            "voter_id": body.voter_id,
            "voted": True,
            "changed": cast.changed,
        }


@api.get(
    "/matters/{matter_id}/ballots", summary="记名投票的个人选择 / who chose what (open ballots)"
)
def list_ballots(request: Request, matter_id: MatterId) -> list[dict[str, Any]]:
    """Who chose what, for staff, on open (记名) matters only (409 for a secret one)."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        staff_only(kernel, actor, matter)
        return [
            {
                "voter_id": voter.id,
                "name": voter.name,
                "choice": ballot.choice,
                "cast_at": ballot.cast_at,
            }
            for voter, ballot in ballots.open_ballots(session, matter)
        ]


@api.get("/matters/{matter_id}/roll", summary="表决名册与投票登记 / the roll and who has voted")
def roll(request: Request, matter_id: MatterId) -> list[dict[str, Any]]:
    """The roll with who has voted, for staff: never how."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        staff_only(kernel, actor, matter)
        return views.roll_view(session, matter)


@api.get("/matters/{matter_id}/recount", summary="重新计票 / count again from the stored ballots")
def recount(request: Request, matter_id: MatterId) -> dict[str, Any]:
    """The tally counted again from the stored ballots, and whether it matches."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        staff_only(kernel, actor, matter)
        again = ballots.recount(session, matter)
        return {"matter_id": matter.id, "matches": again.matches, "tally": again.tally}


@api.get("/board", summary="议事公示栏 / the public board")
def board(
    request: Request, scope: ScopeDep, limit: Limit = 30, offset: Offset = 0
) -> list[dict[str, Any]]:
    """The public board of the request's village: published matters and results."""
    kernel = kernel_of(request)
    with session_of(request) as session:
        found = matters.board(session, kernel, scope.unit.code, limit=limit, offset=offset)
        return [{**views.matter_summary(kernel, m), "tally": views.tally_view(m)} for m in found]
