"""Pages for managing accounts: ``/admin/accounts``. Every form posts with the CSRF token,
redirects (303) when it worked and shows the form again with the error (4xx) when not.
The rules are in :mod:`core.identity.accounts_service`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import AfterValidator, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core.identity import accounts_service as rules
from core.identity.access import AccessCatalog, Actor
from core.identity.accounts_service import MANAGE, READ, AccountOut, NewAccount, NewRole
from core.identity.web import require_permission
from core.web.inputs import Offset, RowId, no_nul
from core.web.render import render

pages = APIRouter(prefix="/admin/accounts")

Reader = Annotated[Actor, Depends(require_permission(READ))]
Manager = Annotated[Actor, Depends(require_permission(MANAGE))]
PAGE_SIZE = 50
DONE = {
    "created": "账号已创建。",
    "granted": "角色已授予。",
    "revoked": "角色已撤销。",
    "deactivated": "账号已停用，其登录已全部失效。",
    "activated": "账号已重新启用。",
}


def _access(request: Request) -> AccessCatalog:
    return request.app.state.kernel.access


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine)


def _role_choices(actor: Actor, access: AccessCatalog) -> list[tuple[str, str]]:
    return [(name, access.roles[name].title) for name in rules.grantable_roles(actor, access)]


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


# -- the list ------------------------------------------------------------------------------


@pages.get("", response_class=HTMLResponse)
async def accounts_page(
    request: Request,
    actor: Reader,
    q: Annotated[str, Query(max_length=64), AfterValidator(no_nul)] = "",
    role: Annotated[str, Query(max_length=64), AfterValidator(no_nul)] = "",
    under: Annotated[str, Query(max_length=15), AfterValidator(no_nul)] = "",
    active: Annotated[str, Query(pattern="^(|0|1)$")] = "",
    offset: Offset = 0,
) -> Response:
    access = _access(request)
    filters = {"q": q, "role": role, "under": under, "active": active}

    def load() -> list[AccountOut]:
        with _session(request) as session:
            return rules.list_accounts(
                session,
                actor,
                access,
                under=under.strip() or None,
                role=role or None,
                active=None if active == "" else active == "1",
                q=q,
                limit=PAGE_SIZE + 1,
                offset=offset,
            )

    error, status = None, 200
    try:
        found = await run_in_threadpool(load)
    except HTTPException as exc:
        found, error, status = [], exc.detail, exc.status_code
    link = {k: v for k, v in filters.items() if v}
    return await render(
        request,
        "core/accounts.html",
        {
            "accounts": found[:PAGE_SIZE],
            "filters": filters,
            "roles": sorted(access.roles.values(), key=lambda r: r.name),
            "error": error,
            "can_manage": bool(actor.paths_with(access, MANAGE)),
            "previous": urlencode({**link, "offset": max(offset - PAGE_SIZE, 0)})
            if offset
            else None,
            "next": urlencode({**link, "offset": offset + PAGE_SIZE})
            if len(found) > PAGE_SIZE
            else None,
        },
        status_code=status,
    )


# -- creating ------------------------------------------------------------------------------


async def _new_form(
    request: Request,
    actor: Actor,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return await render(
        request,
        "core/accounts_new.html",
        {"values": values, "roles": _role_choices(actor, _access(request)), "error": error},
        status_code=status_code,
    )


@pages.get("/new", response_class=HTMLResponse)
async def new_account_page(request: Request, actor: Manager) -> Response:
    return await _new_form(request, actor, {"unit_code": actor.home_unit or ""})


@pages.post("/new", response_class=HTMLResponse)
async def new_account_submit(
    request: Request,
    actor: Manager,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    unit_code: Annotated[str, Form()] = "",
) -> Response:
    values = {"username": username, "display_name": display_name, "role": role}
    values["unit_code"] = unit_code
    access = _access(request)

    def create() -> int:
        try:
            new = NewAccount(
                username=username,
                password=password,
                display_name=display_name,
                role=role,
                unit_code=unit_code.strip(),
            )
        except ValidationError as exc:
            raise HTTPException(422, _validation_message(exc)) from None
        with _session(request) as session:
            account = rules.create(session, actor, access, new)
            session.commit()
            return account.id  # type: ignore[return-value]

    try:
        account_id = await run_in_threadpool(create)
    except HTTPException as exc:
        return await _new_form(request, actor, values, exc.detail, exc.status_code)
    return RedirectResponse(f"/admin/accounts/{account_id}?done=created", status_code=303)


# -- one account ---------------------------------------------------------------------------


def _detail_context(request: Request, actor: Actor, account_id: int) -> dict[str, Any]:
    """The account (404 outside scope) and what the actor may do to it."""
    access = _access(request)
    with _session(request) as session:
        account = rules.visible_account(session, actor, access, account_id)
        view = rules.account_view(session, actor, access, account)
    own = actor.kind == "account" and actor.id == view.id
    allowed = {
        r.id: r.role not in access.roles or rules.may_hand_out(actor, access, r.role, r.unit_code)
        for r in view.roles
    }
    only_role = len(view.roles) + view.roles_elsewhere <= 1
    return {
        "account": view,
        "own": own,
        "revocable": {i for i, ok in allowed.items() if ok and not own and not only_role},
        "can_toggle": not view.roles_elsewhere
        and all(allowed.values())
        and not (own and view.active),
        "roles": _role_choices(actor, access),
        "default_unit": view.roles[0].unit_code if view.roles else actor.home_unit or "",
    }


async def _detail(
    request: Request,
    actor: Actor,
    account_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    context = await run_in_threadpool(_detail_context, request, actor, account_id)
    done = DONE.get(request.query_params.get("done", "")) if error is None else None
    return await render(
        request,
        "core/accounts_detail.html",
        {**context, "error": error, "done": done, "values": values or {}},
        status_code=status_code,
    )


@pages.get("/{account_id}", response_class=HTMLResponse)
async def account_page(request: Request, account_id: RowId, actor: Reader) -> Response:
    return await _detail(request, actor, account_id)


async def _act(
    request: Request,
    actor: Actor,
    account_id: int,
    change: Any,
    done: str,
    values: dict[str, str] | None = None,
) -> Response:
    """Run ``change(session, access)`` and commit, then redirect; or show the error."""
    access = _access(request)

    def run() -> None:
        with _session(request) as session:
            change(session, access)
            session.commit()

    try:
        await run_in_threadpool(run)
    except HTTPException as exc:  # (an account out of scope: the detail raises 404 again)
        return await _detail(
            request,
            actor,
            account_id,
            error=str(exc.detail),
            status_code=exc.status_code,
            values=values,
        )
    return RedirectResponse(f"/admin/accounts/{account_id}?done={done}", status_code=303)


@pages.post("/{account_id}/roles", response_class=HTMLResponse)
async def grant_submit(
    request: Request,
    account_id: RowId,
    actor: Manager,
    role: Annotated[str, Form()] = "",
    unit_code: Annotated[str, Form()] = "",
) -> Response:
    def change(session: Session, access: AccessCatalog) -> None:
        try:
            new = NewRole(role=role, unit_code=unit_code.strip())
        except ValidationError as exc:
            raise HTTPException(422, _validation_message(exc)) from None
        rules.grant(session, actor, access, account_id, new)

    return await _act(
        request,
        actor,
        account_id,
        change,
        "granted",
        {"role": role, "unit_code": unit_code},
    )


@pages.post("/{account_id}/roles/{assignment_id}/revoke", response_class=HTMLResponse)
async def revoke_submit(
    request: Request, account_id: RowId, assignment_id: RowId, actor: Manager
) -> Response:
    return await _act(
        request,
        actor,
        account_id,
        lambda session, access: rules.revoke(session, actor, access, account_id, assignment_id),
        "revoked",
    )


@pages.post("/{account_id}/deactivate", response_class=HTMLResponse)
async def deactivate_submit(request: Request, account_id: RowId, actor: Manager) -> Response:
    return await _act(
        request,
        actor,
        account_id,
        lambda session, access: rules.change_active(session, actor, access, account_id, False),
        "deactivated",
    )


@pages.post("/{account_id}/activate", response_class=HTMLResponse)
async def activate_submit(request: Request, account_id: RowId, actor: Manager) -> Response:
    return await _act(
        request,
        actor,
        account_id,
        lambda session, access: rules.change_active(session, actor, access, account_id, True),
        "activated",
    )
