"""Pages of 民主议事 under ``/p/deliberation/``: Chinese, phone-first, no JavaScript needed.

* ``/``: the public board (公示栏) of the request's village: matters in notice, voting, and
  their results; and each role's way in;
* ``/mine``: the matters whose roll holds the signed-in resident, voting ones first;
* ``/manage``: the matters under the unit, for staff; ``/matters/new``: 议题征集;
* ``/matters/{id}``: one matter: its rule, dates, 四议 meetings, turnout and (once counted)
  the tally; the ballot for a voter while voting is open; a form for each step the viewer
  may take, and for recording an in-person vote; ``/matters/{id}/roll``: the roll with who
  has voted (staff);
* ``/registers``: the village's estates and representatives; ``/estates/{id}``: an
  estate's 专有部分 with their areas and owners.

The rules are the services'; a refusal shows the page again with the message next to the
field, and the status code of the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from core import (
    Level,
    Scope,
    actor_of,
    current_scope,
    field_errors,
    kernel_of,
    list_units,
    page_link,
    refusal_by_field,
    render,
)

from . import ballots, matters, registers, views
from .access import PROPOSE, READ, REGISTER, village_of
from .api import MatterId
from .inputs import DB_INT_MAX
from .rules import MEETINGS, OWNER_TYPES, VILLAGE_TOPICS

pages = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
EstateId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
PAGE_SIZE = 30
BASE = "/p/deliberation"
T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)
DONE = {
    "proposed": "议题已提交，等待审核。",
    "voted": "投票成功。",
    "changed": "已改票，以最后一次为准。",
    "recorded": "现场投票已登记。",
    "estate": "小区已登记。",
    "parcel": "专有部分已登记。",
    "representative": "村民代表已登记。",
}
# pydantic's error types as the forms say them in Chinese ({…} from the error's context)


def _with(request: Request, path: str, **params: object) -> str:
    """A page of the plugin at the request's unit, with ``params`` in the query."""
    link = page_link(request, f"{BASE}{path}")
    for name, value in params.items():
        link += f"{'&' if '?' in link else '?'}{name}={value}"
    return link


def _redirect(request: Request, path: str, **params: object) -> RedirectResponse:
    return RedirectResponse(_with(request, path, **params), 303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    kernel = kernel_of(request)
    return await render(
        request,
        f"deliberation/{template}",
        {"base": BASE, "when": lambda v: matters.local(kernel, v), **context},
        status_code=status_code,
    )


async def _load(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` with a session in the thread pool (the database is not async)."""

    def run() -> T:
        with Session(kernel_of(request).engine, expire_on_commit=False) as session:
            return work(session)

    return await run_in_threadpool(run)


def _parse(model: type[Model], values: dict[str, Any]) -> Model:
    """``values`` validated by ``model``; a refusal is a 422 naming each field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise Refused(422, field_errors(exc)) from None


class Refused(Exception):
    """A form the services refused: messages by field, and the status to answer with."""

    def __init__(self, status: int, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.status, self.errors = status, errors


async def _act(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` and commit; a refusal but 404 becomes :class:`Refused`."""

    def run(session: Session) -> T:
        result = work(session)
        session.commit()
        return result

    try:
        return await _load(request, run)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        raise Refused(exc.status_code, refusal_by_field(exc.detail)) from None


async def _choose(request: Request, scope: Scope, title: str, path: str) -> Response:
    """A page about one village opened above the village level: which village?"""
    villages = await _load(request, lambda s: list_units(s, scope.unit.code, level=Level.village))
    links = [{"name": v.name, "href": f"{BASE}{path}?unit={v.code}"} for v in villages]
    return await _page(request, "choose.html", {"title": title, "links": links})


# -- the board and the lists -----------------------------------------------------------------


@pages.get("/", response_class=HTMLResponse, summary="民主议事")
async def index(request: Request, scope: ScopeDep) -> Response:
    """The public board of the request's village, and each role's way in."""
    kernel, actor = kernel_of(request), actor_of(request)
    code = scope.unit.code
    rows = await _load(
        request,
        lambda s: [
            {**views.matter_summary(kernel, m), "tally": views.tally_view(m)}
            for m in matters.board(s, kernel, code, limit=PAGE_SIZE)
        ],
    )
    may = {
        "propose": kernel.allowed(actor, PROPOSE, code),
        "manage": kernel.allowed(actor, READ, code),
        "register": kernel.allowed(actor, REGISTER, code),
        "vote": actor.kind == "account" and actor.person_id is not None,
    }
    return await _page(request, "index.html", {"rows": rows, "may": may})


@pages.get("/mine", response_class=HTMLResponse)
async def mine(request: Request, scope: ScopeDep) -> Response:
    """我的表决: matters whose roll holds the signed-in resident, voting ones first."""
    kernel, actor = kernel_of(request), actor_of(request)
    rows = await _load(
        request,
        lambda s: [
            views.matter_summary(kernel, m)
            for m in matters.list_matters(
                s, kernel, actor, scope.unit.code, mine=True, limit=PAGE_SIZE
            )
        ],
    )
    verified = actor.kind == "account" and actor.person_id is not None
    return await _page(
        request,
        "list.html",
        {"title": "我的表决", "kind": "mine", "rows": rows, "verified": verified},
    )


@pages.get("/manage", response_class=HTMLResponse)
async def manage(
    request: Request, scope: ScopeDep, state: Annotated[str, Query(max_length=20)] = "open"
) -> Response:
    """议事管理: the matters under the unit, undecided ones by default."""
    kernel, actor = kernel_of(request), actor_of(request)
    if not kernel.allowed(actor, READ, scope.unit.code):
        raise HTTPException(403, f"议事管理须有查看权限（{READ}）/ {READ!r} required")
    error = None if state in matters.LIST_STATES else "state: 没有这一状态 / unknown state"
    rows = await _load(
        request,
        lambda s: (
            []
            if error
            else [
                views.matter_summary(kernel, m)
                for m in matters.list_matters(
                    s, kernel, actor, scope.unit.code, state=state, limit=PAGE_SIZE
                )
            ]
        ),
    )
    return await _page(
        request,
        "list.html",
        {
            "title": "议事管理",
            "kind": "manage",
            "rows": rows,
            "state": state,
            "error": error,
            "may_propose": kernel.allowed(actor, PROPOSE, scope.unit.code),
        },
        422 if error else 200,
    )


# -- 议题征集 --------------------------------------------------------------------------------


def _blank() -> dict[str, Any]:
    return {
        "kind": "owners",
        "matter_type": "",
        "title": "",
        "description": "",
        "estate_id": "",
        "meeting": "",
        "secret": False,
        "allow_change": False,
        "seats": "",
        "candidates": "",
    }


async def _new_form(
    request: Request,
    scope: Scope,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    village = registers.require_village(scope.unit.code)
    estates = await _load(
        request,
        lambda s: [registers.estate_view(e) for e in registers.estates_of_village(s, village)],
    )
    return await _page(
        request,
        "matter_new.html",
        {
            "values": values,
            "errors": errors or {},
            "estates": estates,
            "owner_types": OWNER_TYPES,
            "topics": VILLAGE_TOPICS,
            "meetings": MEETINGS,
        },
        status_code,
    )


@pages.get("/matters/new", response_class=HTMLResponse)
async def new_matter(request: Request, scope: ScopeDep) -> Response:
    """议题征集: the form (a village is chosen first above the village level)."""
    if village_of(scope.unit.code) is None:
        return await _choose(request, scope, "提出议题", "/matters/new")
    if not kernel_of(request).allowed(actor_of(request), PROPOSE, scope.unit.code):
        raise HTTPException(403, f"没有权限提出议题（需要 {PROPOSE}）")
    return await _new_form(request, scope, _blank())


def _matter_values(form: FormData) -> dict[str, Any]:
    names = (
        "kind",
        "matter_type",
        "title",
        "description",
        "estate_id",
        "meeting",
        "seats",
        "candidates",
    )
    values: dict[str, Any] = {name: _text(form, name) for name in names}
    values["matter_type"] = _text(form, f"matter_type_{values['kind']}") or values["matter_type"]
    for flag in ("secret", "allow_change"):
        values[flag] = _text(form, flag) == "1"
    return values


def _matter_body(values: dict[str, Any]) -> matters.MatterIn:
    lines = [line.strip() for line in values["candidates"].splitlines() if line.strip()]
    candidates = [
        {"name": name.strip(), "statement": statement.strip() or None}
        for name, _, statement in (line.partition("｜" if "｜" in line else "|") for line in lines)
    ]
    owners = values["kind"] == "owners"
    data = {
        "kind": values["kind"],
        "matter_type": values["matter_type"],
        "title": values["title"],
        "description": values["description"],
        "estate_id": (values["estate_id"] or None) if owners else None,
        "meeting": None if owners else (values["meeting"] or None),
        "secret": values["secret"],
        "allow_change": values["allow_change"],
        "seats": values["seats"] or 0,
        "candidates": candidates,
    }
    return _parse(matters.MatterIn, data)


@pages.post("/matters/new", response_class=HTMLResponse)
async def new_matter_submit(request: Request, scope: ScopeDep) -> Response:
    """Propose the matter; the form again with each refusal at its field."""
    kernel, actor = kernel_of(request), actor_of(request)
    values = _matter_values(await request.form())
    try:
        body = _matter_body(values)
        matter = await _act(
            request, lambda s: matters.propose(s, kernel, actor, scope.unit.code, body)
        )
    except Refused as refused:
        if refused.status == 403:
            raise HTTPException(403, refused.errors.get("", "没有权限")) from None
        return await _new_form(request, scope, values, refused.errors, refused.status)
    return _redirect(request, f"/matters/{matter.id}", done="proposed")


# -- one matter ------------------------------------------------------------------------------


async def _matter_page(
    request: Request,
    matter_id: int,
    *,
    error: dict[str, str] | None = None,
    chosen: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)

    def load(session: Session) -> dict[str, Any]:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        now = kernel.workflows.clock()
        detail = views.matter_detail(session, kernel, actor, matter, now)
        if detail["may_record"]:
            detail["unvoted"] = [r for r in views.roll_view(session, matter) if not r["voted"]]
        return detail

    matter = await _load(request, load)
    done = request.query_params.get("done", "")
    labels = {a["name"]: a["label"] for a in matter["actions"]}
    notice = DONE.get(done) or (f"已{labels[done]}。" if done in labels else None)
    if done and not notice:
        notice = "已完成。"
    return await _page(
        request,
        "matter.html",
        {
            "m": matter,
            "notice": None if error else notice,
            "error": error or {},
            "chosen": chosen,
            "values": values or {},
        },
        status_code,
    )


@pages.get("/matters/{matter_id}", response_class=HTMLResponse)
async def matter_page(request: Request, matter_id: MatterId) -> Response:
    """One matter: its ballot, steps, tally and history."""
    return await _matter_page(request, matter_id)


def _ballot_values(form: FormData) -> dict[str, Any]:
    chosen = [v for v in form.getlist("candidates") if isinstance(v, str) and v]
    return {"choice": _text(form, "choice") or None, "candidates": chosen or None}


async def _matter_act(
    request: Request,
    matter_id: int,
    chosen: str,
    values: dict[str, str],
    work: Callable[[Session, Any], T],
) -> T | Response:
    kernel, actor = kernel_of(request), actor_of(request)
    try:
        return await _act(
            request, lambda s: work(s, matters.get_matter(s, kernel, actor, matter_id))
        )
    except Refused as refused:
        return await _matter_page(
            request,
            matter_id,
            error=refused.errors,
            chosen=chosen,
            values=values,
            status_code=refused.status,
        )


@pages.post("/matters/{matter_id}/vote", response_class=HTMLResponse)
async def vote(request: Request, matter_id: MatterId) -> Response:
    """The voter's own ballot."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    values = _ballot_values(form)

    def cast(session: Session, matter: Any) -> bool:
        body = _parse(ballots.BallotIn, values)
        return ballots.cast_online(
            session, kernel, actor, matter, body, kernel.workflows.clock()
        ).changed

    result = await _matter_act(request, matter_id, "vote", {}, cast)
    if isinstance(result, Response):
        return result
    return _redirect(request, f"/matters/{matter_id}", done="changed" if result else "voted")


@pages.post("/matters/{matter_id}/in-person", response_class=HTMLResponse)
async def in_person(request: Request, matter_id: MatterId) -> Response:
    """An in-person vote recorded by an officer."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    values = {**_ballot_values(form), "voter_id": _text(form, "voter_id")}

    def cast(session: Session, matter: Any) -> None:
        body = _parse(ballots.InPersonIn, values)
        ballots.cast_in_person(session, kernel, actor, matter, body, kernel.workflows.clock())

    result = await _matter_act(
        request, matter_id, "in_person", {"voter_id": values["voter_id"]}, cast
    )
    if isinstance(result, Response):
        return result
    return _redirect(request, f"/matters/{matter_id}", done="recorded")


def _version(form: FormData) -> int:
    seen = _text(form, "version")
    if not (seen.isascii() and seen.isdigit()) or not 1 <= int(seen) <= DB_INT_MAX:
        raise Refused(422, {"version": "应为正整数 / must be a positive integer"})
    return int(seen)


@pages.post("/matters/{matter_id}/transitions/{name}", response_class=HTMLResponse)
async def step_submit(
    request: Request, matter_id: MatterId, name: Annotated[str, Path(max_length=40)]
) -> Response:
    """A step of the matter's course, with the version seen."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    inputs = {
        key.removeprefix("inputs."): value
        for key, value in form.items()
        if key.startswith("inputs.") and isinstance(value, str)
    }

    def take(session: Session, matter: Any) -> None:
        matters.transition(session, kernel, actor, matter, name, _version(form), inputs)

    result = await _matter_act(request, matter_id, name, inputs, take)
    if isinstance(result, Response):
        return result
    return _redirect(request, f"/matters/{matter_id}", done=name)


@pages.get("/matters/{matter_id}/roll", response_class=HTMLResponse)
async def roll(request: Request, matter_id: MatterId) -> Response:
    """The roll with who has voted (签到), for staff: never how."""
    kernel, actor = kernel_of(request), actor_of(request)

    def load(session: Session) -> dict[str, Any]:
        matter = matters.get_matter(session, kernel, actor, matter_id)
        registers.require(kernel, actor, READ, matter.unit_code)
        return {"m": views.matter_summary(kernel, matter), "rows": views.roll_view(session, matter)}

    return await _page(request, "roll.html", await _load(request, load))


# -- registers -------------------------------------------------------------------------------


async def _registers_page(
    request: Request,
    scope: Scope,
    errors: dict[str, str] | None = None,
    chosen: str = "",
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    village = registers.require_village(scope.unit.code)
    registers.require(kernel, actor, READ, village)

    def load(session: Session) -> dict[str, Any]:
        return {
            "estates": [
                registers.estate_view(e)
                for e in registers.list_estates(session, kernel, actor, village)
            ],
            "representatives": registers.representatives_of(session, kernel, actor, village),
        }

    found = await _load(request, load)
    return await _page(
        request,
        "registers.html",
        {
            **found,
            "errors": errors or {},
            "chosen": chosen,
            "may_register": kernel.allowed(actor, REGISTER, village),
            "notice": DONE.get(request.query_params.get("done", "")) if not errors else None,
        },
        status_code,
    )


@pages.get("/registers", response_class=HTMLResponse)
async def registers_page(request: Request, scope: ScopeDep) -> Response:
    """The village's estates and representatives (a village is chosen first)."""
    if village_of(scope.unit.code) is None:
        return await _choose(request, scope, "业主与代表名册", "/registers")
    return await _registers_page(request, scope)


@pages.post("/registers/estates", response_class=HTMLResponse)
async def estate_submit(request: Request, scope: ScopeDep) -> Response:
    """Register an estate."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    values = {"name": _text(form, "name"), "address": _text(form, "address") or None}
    try:
        body = _parse(registers.EstateIn, values)
        await _act(
            request, lambda s: registers.create_estate(s, kernel, actor, scope.unit.code, body)
        )
    except Refused as refused:
        return await _registers_page(request, scope, refused.errors, "estate", refused.status)
    return _redirect(request, "/registers", done="estate")


@pages.post("/registers/representatives", response_class=HTMLResponse)
async def representative_submit(request: Request, scope: ScopeDep) -> Response:
    """Register a 村民代表."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    values = {"person_id": _text(form, "person_id"), "since": _text(form, "since")}
    try:
        body = _parse(registers.RepresentativeIn, values)
        await _act(
            request,
            lambda s: registers.save_representative(s, kernel, actor, scope.unit.code, body),
        )
    except Refused as refused:
        return await _registers_page(
            request, scope, refused.errors, "representative", refused.status
        )
    return _redirect(request, "/registers", done="representative")


async def _estate_page(
    request: Request,
    estate_id: int,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)

    def load(session: Session) -> dict[str, Any]:
        estate = registers.get_estate(session, kernel, actor, estate_id)
        return {
            "estate": registers.estate_view(estate, registers.parcels_of(session, estate)),
            "may_register": kernel.allowed(actor, REGISTER, estate.unit_code),
        }

    found = await _load(request, load)
    notice = DONE.get(request.query_params.get("done", "")) if not errors else None
    return await _page(
        request,
        "estate.html",
        {**found, "errors": errors or {}, "values": values or {}, "notice": notice},
        status_code,
    )


@pages.get("/estates/{estate_id}", response_class=HTMLResponse)
async def estate_page(request: Request, estate_id: EstateId) -> Response:
    """An estate's 专有部分 with their areas and owners."""
    return await _estate_page(request, estate_id)


@pages.post("/estates/{estate_id}/parcels", response_class=HTMLResponse)
async def parcel_submit(request: Request, estate_id: EstateId) -> Response:
    """Register or correct a 专有部分."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    names = ("label", "area", "owner_person_id", "archive_house_id")
    values = {name: _text(form, name) for name in names}

    def save(session: Session) -> None:
        estate = registers.get_estate(session, kernel, actor, estate_id)
        data = {**values, "archive_house_id": values["archive_house_id"] or None}
        registers.save_parcel(session, kernel, actor, estate, _parse(registers.ParcelIn, data))

    try:
        await _act(request, save)
    except Refused as refused:
        return await _estate_page(request, estate_id, refused.errors, values, refused.status)
    return _redirect(request, f"/estates/{estate_id}", done="parcel")
