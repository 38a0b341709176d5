"""Pages of 红色代办 under ``/p/red_proxy/``: Chinese, phone-first, no JavaScript needed.

* ``/``: what the practice is, and each role's way in;
* ``/order`` → ``/order/{item}``: 点单 from the catalogue (materials and time limit shown);
* ``/mine``: the resident's orders; ``/board``: the branch's 派单台 (open orders, due soonest
  first, the overdue marked); ``/tasks``: the party member's orders, and 上岗 / 下岗;
* ``/orders/{id}``: one order, with a form for each step the viewer may take (the version
  seen goes with it: a stale one shows the 409 message), the 委托书 and the 交接 log;
* ``/public``: the 公示; ``/catalogue``: the catalogue, edited by its keepers.

The rules are the services'; a refusal shows the page again with the message next to the
field, and the status code of the refusal.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from core import (
    Actor,
    Kernel,
    Scope,
    actor_of,
    current_scope,
    field_errors,
    kernel_of,
    page_link,
    refusal_by_field,
    render,
    session_of,
)

from . import catalogue, paperwork, publication, roster, service, views
from .access import CATALOGUE, DISPATCH, HANDLE, ORDER
from .api import OrderId
from .inputs import DB_INT_MAX
from .workflow import DELIVERIES, ORDER_WORKFLOW, RATINGS, STATES

pages = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
PAGE_SIZE = 30
BASE = "/p/red_proxy"
T = TypeVar("T")
DONE = {
    "order": "点单成功，支部将尽快派单。",
    "authorization": "委托书已登记。",
    "handover": "材料交接已登记。",
    "saved": "已保存。",
}


def _link(request: Request, path: str) -> str:
    return page_link(request, f"{BASE}{path}")


def _with(request: Request, path: str, **params: object) -> str:
    """A page of the plugin at the request's unit, with ``params`` in the query."""
    link = _link(request, path)
    for name, value in params.items():
        link += f"{'&' if '?' in link else '?'}{name}={value}"
    return link


def _redirect(request: Request, path: str, **params: str) -> RedirectResponse:
    """303 to a page of the plugin (:func:`_with`)."""
    return RedirectResponse(_with(request, path, **params), 303)


def when(value: datetime | None, kernel: Kernel | None = None) -> str:
    """A moment in China's time, as the pages show it."""
    if value is None:
        return "—"
    zone = ZoneInfo(kernel.settings.timezone if kernel else "Asia/Shanghai")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# pydantic's error types as the forms say them in Chinese ({…} from the error's context)


async def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    kernel = kernel_of(request)
    return await render(
        request,
        f"red_proxy/{template}",
        {"base": BASE, "when": lambda v: when(v, kernel), **context},
        status_code=status_code,
    )


async def _load(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` with a session in the thread pool (the database is not async)."""

    def run() -> T:
        with session_of(request) as session:
            return work(session)

    return await run_in_threadpool(run)


# -- the landing page ----------------------------------------------------------------------


@pages.get("/", response_class=HTMLResponse, summary="红色代办")
async def index(request: Request, scope: ScopeDep) -> Response:
    """What the practice is, and each role's way in."""
    kernel, actor = kernel_of(request), actor_of(request)
    code = scope.unit.code
    may = {
        "order": kernel.allowed(actor, ORDER, code),
        "dispatch": kernel.allowed(actor, DISPATCH, code),
        "handle": kernel.allowed(actor, HANDLE, code),
    }
    return await _page(request, "index.html", {"may": may})


# -- 点单 -----------------------------------------------------------------------------------


@pages.get("/order", response_class=HTMLResponse)
async def order_items(request: Request, scope: ScopeDep) -> Response:
    """群众点单: the catalogue, one tap per item."""
    items = await _load(
        request,
        lambda s: [catalogue.item_view(i) for i in catalogue.list_items(s, scope.township.code)],
    )
    return await _page(request, "order_items.html", {"items": items})


def _order_values(actor: Actor) -> dict[str, Any]:
    return {
        "requester_name": actor.display_name,
        "requester_phone": "",
        "need": "",
        "preferred_time": "",
        "on_behalf": False,
    }


async def _order_form(
    request: Request,
    scope: Scope,
    item_id: int,
    values: dict[str, Any],
    key: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)

    def load(session: Session) -> dict[str, Any]:
        item = catalogue.get_item(session, scope.township.code, item_id)
        if not item.active:
            raise HTTPException(404, catalogue.NOT_FOUND)
        return catalogue.item_view(item)

    item = await _load(request, load)
    code = scope.unit.code
    staff = kernel.allowed(actor, HANDLE, code) or kernel.allowed(actor, DISPATCH, code)
    errors = errors or {}
    known = {"requester_name", "requester_phone", "need", "preferred_time", "on_behalf"}
    return await _page(
        request,
        "order_form.html",
        {
            "item": item,
            "values": values,
            "errors": errors,
            "other_errors": [v for k, v in errors.items() if k not in known],
            "staff": staff,
            "key": key,
        },
        status_code,
    )


@pages.get("/order/{item_id}", response_class=HTMLResponse)
async def order_form(request: Request, scope: ScopeDep, item_id: ItemId) -> Response:
    values = _order_values(actor_of(request))
    return await _order_form(request, scope, item_id, values, secrets.token_urlsafe(16))


@pages.post("/order/{item_id}", response_class=HTMLResponse)
async def order_submit(request: Request, scope: ScopeDep, item_id: ItemId) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in ("requester_name", "requester_phone", "need", "preferred_time")
    }
    values["on_behalf"] = _text(form, "on_behalf") == "1"
    key = _text(form, "submission_key")[:200].replace("\x00", "") or secrets.token_urlsafe(16)
    try:
        body = service.OrderIn.model_validate({**values, "item_id": item_id})
    except ValidationError as exc:
        return await _order_form(request, scope, item_id, values, key, field_errors(exc), 422)

    def place(session: Session) -> int:
        order, _ = service.place_order(
            session, kernel, actor, scope.unit.code, body, idempotency_key=key
        )
        return order.id  # type: ignore[return-value]

    try:
        order_id = await _load(request, place)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        errors = refusal_by_field(exc.detail)
        fresh = secrets.token_urlsafe(16) if "Idempotency-Key" in errors else key
        return await _order_form(request, scope, item_id, values, fresh, errors, exc.status_code)
    return _redirect(request, f"/orders/{order_id}", done="order")


# -- lists ---------------------------------------------------------------------------------


async def _list_page(
    request: Request,
    title: str,
    kind: str,
    rows: Callable[[Session], list[Any]],
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    now = kernel.workflows.clock()

    def load(session: Session) -> list[dict[str, Any]]:
        return [views.order_summary(kernel, actor, o, now) for o in rows(session)]

    found = await _load(request, load)
    return await _page(
        request,
        "orders.html",
        {"title": title, "kind": kind, "orders": found, **(context or {})},
        status_code,
    )


@pages.get("/mine", response_class=HTMLResponse)
async def mine(request: Request, scope: ScopeDep) -> Response:
    """我的代办: the orders the resident placed, newest first."""
    kernel, actor = kernel_of(request), actor_of(request)
    return await _list_page(
        request,
        "我的代办",
        "mine",
        lambda s: service.list_orders(
            s, kernel, actor, scope.unit.code, mine=True, limit=PAGE_SIZE
        ),
    )


@pages.get("/board", response_class=HTMLResponse)
async def board(
    request: Request,
    scope: ScopeDep,
    state: Annotated[str, Query(max_length=40)] = "open",
    overdue: Annotated[bool, Query()] = False,
) -> Response:
    """派单台: the branch's orders, open ones due soonest first by default."""
    kernel, actor = kernel_of(request), actor_of(request)
    if not kernel.allowed(actor, DISPATCH, scope.unit.code):
        raise HTTPException(403, f"派单台须有派单权限（{DISPATCH}）/ {DISPATCH!r} required")
    error = None if state in service.LIST_STATES else "state: 没有这一状态 / unknown state"
    return await _list_page(
        request,
        "派单台",
        "board",
        lambda s: (
            []
            if error
            else service.list_orders(
                s,
                kernel,
                actor,
                scope.unit.code,
                state=state,
                overdue_only=overdue,
                limit=PAGE_SIZE,
            )
        ),
        {"states": STATES, "state": state, "overdue_only": overdue, "error": error},
        422 if error else 200,
    )


@pages.get("/tasks", response_class=HTMLResponse)
async def tasks(request: Request, scope: ScopeDep) -> Response:
    """我的接单: orders dispatched to the party member, and 上岗 / 下岗."""
    kernel, actor = kernel_of(request), actor_of(request)
    units = roster.handler_units(actor, scope.township.code)
    duty = await _load(
        request,
        lambda s: [
            roster.agent_view(a)
            for a in roster.in_township(s, scope.township.code)
            if a.username == actor.name
        ],
    )
    return await _list_page(
        request,
        "我的接单",
        "tasks",
        lambda s: service.list_orders(
            s, kernel, actor, scope.unit.code, assigned=True, limit=PAGE_SIZE
        ),
        {"duty": duty, "handler": bool(units) and actor.kind == "account"},
    )


@pages.post("/tasks/duty", response_class=HTMLResponse)
async def duty(request: Request, scope: ScopeDep) -> Response:
    """上岗 / 下岗, with the service phone."""
    actor = actor_of(request)
    form = await request.form()
    phone = _text(form, "phone").strip() or None
    on_duty = _text(form, "on_duty") == "1"

    def sign(session: Session) -> None:
        roster.sign(session, actor, scope.township.code, on_duty=on_duty, phone=phone)
        session.commit()

    await _load(request, sign)
    return _redirect(request, "/tasks")


@pages.get("/public", response_class=HTMLResponse)
async def public(
    request: Request,
    scope: ScopeDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """代办公示: finished orders of the branch, the requester masked."""
    kernel = kernel_of(request)
    rows = await _load(
        request,
        lambda s: publication.published(
            s, kernel, scope.unit.code, limit=PAGE_SIZE + 1, offset=offset
        ),
    )
    return await _page(
        request,
        "public.html",
        {
            "rows": rows[:PAGE_SIZE],
            "previous_href": _with(request, "/public", offset=max(0, offset - PAGE_SIZE))
            if offset
            else None,
            "next_href": _with(request, "/public", offset=offset + PAGE_SIZE)
            if len(rows) > PAGE_SIZE
            else None,
        },
    )


# -- one order -----------------------------------------------------------------------------


async def _order_page(
    request: Request,
    order_id: int,
    *,
    error: dict[str, str] | None = None,
    chosen: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)

    def load(session: Session) -> dict[str, Any]:
        order = service.get_order(session, kernel, actor, order_id)
        return views.order_detail(session, kernel, actor, order, kernel.workflows.clock())

    order = await _load(request, load)
    done = request.query_params.get("done", "")
    step = ORDER_WORKFLOW.transition(done)
    notice = DONE.get(done) or (f"已{step.label}。" if step else None)
    return await _page(
        request,
        "order.html",
        {
            "order": order,
            "notice": None if error else notice,
            "error": error or {},
            "chosen": chosen,
            "values": values or {},
            "sign_methods": paperwork.SIGN_METHODS,
            "ratings": RATINGS,
            "deliveries": DELIVERIES,
        },
        status_code,
    )


@pages.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: OrderId) -> Response:
    return await _order_page(request, order_id)


async def _act(
    request: Request,
    order_id: int,
    chosen: str,
    values: dict[str, str],
    work: Callable[[Session, Any], object],
) -> Response:
    """Do ``work`` on the order and commit, then show it; a refusal (but 404) shows the
    order again with the message at the form it came from."""
    kernel, actor = kernel_of(request), actor_of(request)

    def run(session: Session) -> None:
        order = service.get_order(session, kernel, actor, order_id)
        work(session, order)
        session.commit()

    try:
        await _load(request, run)
    except ValidationError as exc:
        return await _order_page(
            request,
            order_id,
            error=field_errors(exc),
            chosen=chosen,
            values=values,
            status_code=422,
        )
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        return await _order_page(
            request,
            order_id,
            error=refusal_by_field(exc.detail),
            chosen=chosen,
            values=values,
            status_code=exc.status_code,
        )
    return _redirect(request, f"/orders/{order_id}", done=chosen)


def _version(form: FormData) -> int:
    seen = _text(form, "version")
    if not (seen.isascii() and seen.isdigit()) or not 1 <= int(seen) <= DB_INT_MAX:
        raise service.invalid("version", "应为正整数 / must be a positive integer")
    return int(seen)


@pages.post("/orders/{order_id}/transitions/{name}", response_class=HTMLResponse)
async def step_submit(
    request: Request, order_id: OrderId, name: Annotated[str, Path(max_length=40)]
) -> Response:
    """派单、接单、退单、待补材料、材料补齐、办结、评单、撤单, with the version seen."""
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    inputs = {
        key.removeprefix("inputs."): value
        for key, value in form.items()
        if key.startswith("inputs.") and isinstance(value, str)
    }

    def take(session: Session, order: Any) -> None:
        service.transition_order(session, kernel, actor, order, name, _version(form), inputs)

    return await _act(request, order_id, name, inputs, take)


@pages.post("/orders/{order_id}/authorization", response_class=HTMLResponse)
async def authorization_submit(request: Request, order_id: OrderId) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    names = ("principal", "powers", "matters", "signed_on", "valid_until", "sign_method")
    values = {name: _text(form, name) for name in names}

    def record(session: Session, order: Any) -> None:
        body = paperwork.AuthorizationIn.model_validate(values)
        paperwork.record_authorization(
            session, kernel, actor, order, body, now=kernel.workflows.clock()
        )

    return await _act(request, order_id, "authorization", values, record)


@pages.post("/orders/{order_id}/handovers", response_class=HTMLResponse)
async def handover_submit(request: Request, order_id: OrderId) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    form = await request.form()
    names = ("what", "quantity", "from_party", "to_party", "handed_at", "note")
    values = {name: _text(form, name) for name in names}

    def record(session: Session, order: Any) -> None:
        data: dict[str, Any] = {k: v for k, v in values.items() if k != "handed_at"}
        data["quantity"] = values["quantity"] or 1
        if values["handed_at"]:
            data["handed_at"] = f"{values['handed_at']}:00+08:00"
        body = paperwork.HandoverIn.model_validate(data)
        paperwork.record_handover(session, kernel, actor, order, body, now=kernel.workflows.clock())

    return await _act(request, order_id, "handover", values, record)


# -- the catalogue -------------------------------------------------------------------------


@pages.get("/catalogue", response_class=HTMLResponse)
async def catalogue_page(request: Request, scope: ScopeDep) -> Response:
    """代办事项目录: every item, with edit links for its keepers."""
    kernel, actor = kernel_of(request), actor_of(request)
    keeper = catalogue.may_edit(kernel, actor, scope.township.code)
    items = await _load(
        request,
        lambda s: [
            catalogue.item_view(i)
            for i in catalogue.list_items(s, scope.township.code, active_only=not keeper)
        ],
    )
    added = request.query_params.get("added", "")
    return await _page(
        request,
        "catalogue.html",
        {
            "items": items,
            "keeper": keeper,
            "added": int(added) if added.isdigit() else None,
            "defaults": len(catalogue.DEFAULT_ITEMS),
        },
    )


@pages.post("/catalogue/defaults", response_class=HTMLResponse)
async def catalogue_defaults(request: Request, scope: ScopeDep) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)

    def load(session: Session) -> int:
        added = catalogue.load_defaults(session, kernel, actor, scope.township.code)
        session.commit()
        return added

    added = await _load(request, load)
    return _redirect(request, "/catalogue", added=str(added))


def _item_values(form: FormData) -> dict[str, Any]:
    names = ("name", "category", "time_limit_days", "department", "fee", "description", "sort")
    values: dict[str, Any] = {name: _text(form, name) for name in names}
    values["materials"] = [line.strip() for line in _text(form, "materials").splitlines()]
    values["materials"] = [line for line in values["materials"] if line]
    for flag in ("needs_authorization", "sensitive", "active"):
        values[flag] = _text(form, flag) == "1"
    values["sort"] = values["sort"] or 0
    values["version"] = _text(form, "version")
    return values


async def _item_form(
    request: Request,
    item: dict[str, Any] | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    township = request.state.scope.township.code
    if not catalogue.may_edit(kernel, actor, township):
        raise HTTPException(403, f"没有权限维护代办事项目录（需要 {CATALOGUE}）")
    return await _page(
        request,
        "item_form.html",
        {
            "item": item,
            "values": values,
            "errors": errors or {},
            "categories": catalogue.CATEGORIES,
            "max_days": catalogue.MAX_LIMIT_DAYS,
        },
        status_code,
    )


def _blank_item() -> dict[str, Any]:
    return {
        "name": "",
        "category": "other",
        "materials": [],
        "time_limit_days": 5,
        "department": "",
        "fee": "免费",
        "description": "",
        "needs_authorization": True,
        "sensitive": False,
        "active": True,
        "sort": 0,
        "version": "",
    }


@pages.get("/catalogue/new", response_class=HTMLResponse)
async def new_item_form(request: Request, scope: ScopeDep) -> Response:
    return await _item_form(request, None, _blank_item())


@pages.post("/catalogue/new", response_class=HTMLResponse)
async def new_item_submit(request: Request, scope: ScopeDep) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    values = _item_values(await request.form())
    try:
        body = catalogue.ItemIn.model_validate({k: v for k, v in values.items() if k != "version"})
    except ValidationError as exc:
        return await _item_form(request, None, values, field_errors(exc), 422)

    def create(session: Session) -> None:
        catalogue.create_item(session, kernel, actor, scope.township.code, body)
        session.commit()

    try:
        await _load(request, create)
    except HTTPException as exc:
        if exc.status_code in (403, 404):
            raise
        return await _item_form(
            request, None, values, refusal_by_field(exc.detail), exc.status_code
        )
    return _redirect(request, "/catalogue", done="saved")


@pages.get("/catalogue/{item_id}", response_class=HTMLResponse)
async def edit_item_form(request: Request, scope: ScopeDep, item_id: ItemId) -> Response:
    item = await _load(
        request,
        lambda s: catalogue.item_view(catalogue.get_item(s, scope.township.code, item_id)),
    )
    return await _item_form(request, item, dict(item))


@pages.post("/catalogue/{item_id}", response_class=HTMLResponse)
async def edit_item_submit(request: Request, scope: ScopeDep, item_id: ItemId) -> Response:
    kernel, actor = kernel_of(request), actor_of(request)
    values = _item_values(await request.form())
    item = await _load(
        request,
        lambda s: catalogue.item_view(catalogue.get_item(s, scope.township.code, item_id)),
    )
    try:
        body = catalogue.ItemUpdate.model_validate(values)
    except ValidationError as exc:
        return await _item_form(request, item, values, field_errors(exc), 422)

    def update(session: Session) -> None:
        catalogue.update_item(session, kernel, actor, scope.township.code, item_id, body)
        session.commit()

    try:
        await _load(request, update)
    except HTTPException as exc:
        if exc.status_code in (403, 404):
            raise
        return await _item_form(
            request, item, values, refusal_by_field(exc.detail), exc.status_code
        )
    return _redirect(request, "/catalogue", done="saved")
