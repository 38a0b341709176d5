"""Who is asking: bearer tokens, API keys and signed session cookies; CSRF; permission checks.

Every route that is not public depends on :func:`require_actor` or
:func:`require_permission`; township plugin routes get it from the kernel's guard.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.identity.access import AccessCatalog, Actor
from core.identity.models import SigningKey
from core.identity.service import TOKEN_TTL, actor_from_api_key, actor_from_token

SESSION_COOKIE = "sanmin_session"
CSRF_COOKIE = "sanmin_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNRESOLVED = object()


class NotAuthenticated(Exception):
    """No valid credentials: 401 for the API, a redirect to the login page for browsers."""


class Forbidden(Exception):
    """Authenticated, but no role grants the permission anywhere: 403 naming it."""

    def __init__(self, permission: str) -> None:
        super().__init__(f"没有权限 {permission} / permission {permission!r} required")
        self.permission = permission


class CsrfFailed(Exception):
    """A cookie-authenticated write without the matching CSRF token: 403."""


def signing_key(engine: Engine, configured: str | None) -> str:
    """``SANMIN_SECRET_KEY`` if set, else a key made once and kept in the database."""
    if configured:
        return configured
    with Session(engine) as session:
        row = session.get(SigningKey, 1)
        if row is None:
            session.add(SigningKey(id=1, value=secrets.token_urlsafe(48)))
            try:
                session.commit()
            except Exception:  # another process made it first
                session.rollback()
        row = session.exec(select(SigningKey).where(SigningKey.id == 1)).one()
        return row.value


def make_signer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="sanmin-session")


# -- resolving the actor -------------------------------------------------------------------


def session_token(request: Request) -> str | None:
    """The session token inside the signed session cookie, if valid and not expired."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        data = request.app.state.kernel.signer.loads(
            cookie, max_age=int(TOKEN_TTL["session"].total_seconds())
        )
    except BadSignature:
        return None
    return data.get("t") if isinstance(data, dict) else None


def resolve_actor(request: Request) -> Actor | None:
    """The request's actor (bearer token, API key, or session cookie), cached on the request."""
    cached = getattr(request.state, "actor", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached  # type: ignore[return-value]
    actor: Actor | None = None
    authorization = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key")
    if not authorization and not api_key and SESSION_COOKIE not in request.cookies:
        request.state.actor = None
        return None
    with request.app.state.kernel.loop_engine.connect() as session:
        if authorization:  # never fall back to the cookie when a header was sent
            if authorization.lower().startswith("bearer "):
                actor = actor_from_token(session, authorization[7:].strip(), "bearer")
        elif api_key:
            actor = actor_from_api_key(session, api_key.strip())
        elif (token := session_token(request)) is not None:
            actor = actor_from_token(session, token, "session")
    request.state.actor = actor
    return actor


async def optional_actor(request: Request) -> Actor | None:
    """Dependency: the actor, or ``None`` for an anonymous caller."""
    return resolve_actor(request)


async def require_actor(request: Request) -> Actor:
    """Dependency: the actor; anonymous callers get 401 (API) or the login page (browsers).

    ``async`` on purpose: the check is one indexed query on a connection reserved for it
    (``kernel.loop_engine``), cheaper than the threadpool hop a sync dependency costs.
    """
    actor = resolve_actor(request)
    if actor is None:
        raise NotAuthenticated()
    return actor


def require_permission(permission: str) -> Callable[[Request], Actor]:
    """Dependency: an actor holding ``permission`` at some unit (403 otherwise).

    Which records it may see is then decided in the query with :func:`core.scope_clause`.
    """

    async def dependency(request: Request) -> Actor:
        actor = await require_actor(request)
        if not actor.paths_with(request.app.state.kernel.access, permission):
            raise Forbidden(permission)
        return actor

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


async def access_catalog(request: Request) -> AccessCatalog:
    """Dependency: the installation's roles and permissions."""
    return request.app.state.kernel.access


# -- CSRF ----------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page (signed; the same value is set as a cookie).

    The cookie's signature is checked once a request: a page with six forms asks six
    times."""
    checked = getattr(request.state, "csrf_checked", None)
    if checked is not None:
        return checked  # type: ignore[no-any-return]
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and _valid_csrf(request, existing):
        request.state.csrf_checked = existing
        return existing
    token = getattr(request.state, "new_csrf", None)
    if token is None:
        token = request.app.state.kernel.signer.dumps(secrets.token_urlsafe(16), salt="csrf")
        request.state.new_csrf = token
    return token


def _valid_csrf(request: Request, token: str) -> bool:
    try:
        request.app.state.kernel.signer.loads(token, salt="csrf")
    except BadSignature:
        return False
    return True


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: a write that relies on cookies must carry the CSRF token.

    Requests authenticated by a bearer token or an API key carry no ambient credentials
    and are exempt; so are requests without any Sanmin cookie.
    """
    if request.method not in UNSAFE_METHODS:
        return
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer ") or request.headers.get("x-api-key"):
        return  # authenticated by the header (or refused), never by the cookie
    if SESSION_COOKIE not in request.cookies and CSRF_COOKIE not in request.cookies:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not cookie or sent != cookie or not _valid_csrf(request, cookie):
        raise CsrfFailed()
