"""Core plugin ``identity``: login and logout (pages and API), tokens, password change."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.identity.models import Account
from core.identity.secrets import PasswordPolicyError
from core.identity.service import (
    TOKEN_TTL,
    IdentityError,
    LoginRefused,
    authenticate,
    change_password,
    issue_token,
    revoke_token,
)
from core.identity.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    require_actor,
    session_token,
)
from core.plugins.manifest import PluginManifest
from core.version import __version__
from core.web.menu import MenuLink
from core.web.render import render

PLUGIN = PluginManifest(
    name="identity",
    title="账号与登录",
    version=__version__,
    description="登录、退出、令牌与修改密码",
    default_enabled=True,
)

api = APIRouter(prefix="/auth", tags=["auth"])
pages = APIRouter()


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def login_response(error: LoginRefused) -> HTTPException:
    if error.locked_until is not None:
        return HTTPException(429, str(error), headers={"Retry-After": "900"})
    return HTTPException(401, str(error), headers={"WWW-Authenticate": "Bearer"})


# -- API -----------------------------------------------------------------------------------


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@api.post("/token", summary="用户名密码换取令牌 / OAuth2 password grant", response_model=TokenOut)
def token(
    request: Request,
    username: Annotated[str, Form(max_length=64, description="用户名")],
    password: Annotated[str, Form(max_length=256, description="密码")],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenOut:
    """OAuth2 password grant (the form of ``OAuth2PasswordRequestForm``, with bounds)."""
    with Session(request.app.state.kernel.engine) as session:
        try:
            account = authenticate(session, username, password, client_address(request))
        except LoginRefused as refused:
            session.commit()  # the failure counts and its audit row stay
            raise login_response(refused) from None
        raw = issue_token(session, account, "bearer", client_address(request))
        session.commit()
    return TokenOut(access_token=raw, expires_in=int(TOKEN_TTL["bearer"].total_seconds()))


@api.post("/logout", summary="吊销当前令牌 / revoke the token used", status_code=204)
def logout(request: Request, actor: Annotated[Actor, Depends(require_actor)]) -> Response:
    authorization = request.headers.get("authorization", "")
    raw = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
    raw = raw or session_token(request)
    if raw is None:
        raise HTTPException(
            400,
            "只能吊销登录令牌，API key 请用 sanmin apikeys revoke / "
            "only login tokens can be revoked here",
        )
    with Session(request.app.state.kernel.engine) as session:
        revoke_token(session, raw, by=actor.label)
        session.commit()
    return Response(status_code=204)


class RoleOut(BaseModel):
    role: str
    title: str
    unit_code: str


class MeOut(BaseModel):
    kind: str
    name: str
    roles: list[RoleOut]


@api.get("/me", summary="当前身份 / who am I", response_model=MeOut)
def me(request: Request, actor: Annotated[Actor, Depends(require_actor)]) -> MeOut:
    roles = request.app.state.kernel.access.roles
    return MeOut(
        kind=actor.kind,
        name=actor.name,
        roles=[
            RoleOut(
                role=r.role,
                title=roles[r.role].title if r.role in roles else r.role,
                unit_code=r.unit_code,
            )
            for r in actor.roles
        ],
    )


class PasswordChange(BaseModel):
    current_password: str = Field(description="当前密码")
    new_password: str = Field(description="新密码，至少 10 位")


def _change_password(request: Request, actor: Actor, current: str, new: str) -> str | None:
    """Change the password; every other token ends. A bearer token in use is kept; a
    browser session is replaced (a stolen cookie must not outlive the change): the new
    session token is returned."""
    if actor.kind != "account":
        raise HTTPException(400, "API key 没有密码 / API keys have no password")
    with Session(request.app.state.kernel.engine) as session:
        account = session.get(Account, actor.id)
        assert account is not None
        authorization = request.headers.get("authorization", "")
        keep = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        try:
            change_password(
                session, account, current=current, new=new, by=actor.label, keep_token=keep
            )
        except (IdentityError, PasswordPolicyError) as exc:
            raise HTTPException(422, str(exc)) from None
        fresh = None if keep else issue_token(session, account, "session", client_address(request))
        session.commit()
        return fresh


@api.post("/password", summary="修改密码 / change password", status_code=204)
def password_api(
    request: Request, body: PasswordChange, actor: Annotated[Actor, Depends(require_actor)]
) -> Response:
    _change_password(request, actor, body.current_password, body.new_password)
    return Response(status_code=204)


# -- pages ---------------------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """Only a path on this site: never redirect a user elsewhere after login."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@pages.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return await render(request, "core/login.html", {"next": safe_next(next), "error": None})


def _login(request: Request, username: str, password: str) -> str:
    """A new session token, or :class:`LoginRefused` (after the failure was recorded)."""
    with Session(request.app.state.kernel.engine) as session:
        try:
            account = authenticate(session, username, password, client_address(request))
        except LoginRefused:
            session.commit()
            raise
        raw = issue_token(session, account, "session", client_address(request))
        session.commit()
        return raw


@pages.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not csrf_token or csrf_token != request.cookies.get(CSRF_COOKIE):
        raise CsrfFailed()  # login CSRF: the form must come from our own login page
    try:
        raw = await run_in_threadpool(_login, request, username, password)
    except LoginRefused as refused:
        return await render(
            request,
            "core/login.html",
            {"next": safe_next(next), "error": str(refused)},
            status_code=429 if refused.locked_until else 401,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, raw)
    return response


def set_session_cookie(request: Request, response: Response, raw: str) -> None:
    """The signed, HttpOnly, SameSite session cookie holding session token ``raw``."""
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.kernel.signer.dumps({"t": raw}),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(TOKEN_TTL["session"].total_seconds()),
    )


@pages.post("/logout")
def logout_page(request: Request, actor: Annotated[Actor, Depends(require_actor)]) -> Response:
    raw = session_token(request)
    if raw is not None:
        with Session(request.app.state.kernel.engine) as session:
            revoke_token(session, raw, by=actor.label)
            session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@pages.get("/account/password", response_class=HTMLResponse)
async def password_page(
    request: Request, actor: Annotated[Actor, Depends(require_actor)]
) -> Response:
    return await render(request, "core/password.html", {"error": None, "done": False})


@pages.post("/account/password", response_class=HTMLResponse)
async def password_submit(
    request: Request,
    actor: Annotated[Actor, Depends(require_actor)],
    current_password: Annotated[str, Form(max_length=256)],
    new_password: Annotated[str, Form(max_length=256)],
) -> Response:
    try:
        fresh = await run_in_threadpool(
            _change_password, request, actor, current_password, new_password
        )
    except HTTPException as exc:
        return await render(
            request,
            "core/password.html",
            {"error": exc.detail, "done": False},
            status_code=exc.status_code,
        )
    response = await render(request, "core/password.html", {"error": None, "done": True})
    if fresh is not None:
        set_session_cookie(request, response, fresh)
    return response


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    if request is None or getattr(request.state, "actor", None) is None:
        return []
    return [MenuLink(href="/account/password", label="修改密码", order=950)]
