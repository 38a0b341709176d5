"""Resolving the request's township, and the 404 for plugins switched off there."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_plus

from fastapi import HTTPException, Request

from core.kernel import Scope
from core.units.service import OutOfScope

UNIT_HEADER = "x-sanmin-unit"


def unit_code_from_request(request: Request) -> str | None:
    """The unit a request is about: ``unit_code`` path parameter, ``unit`` query
    parameter or ``X-Sanmin-Unit`` header, in that order."""
    query = request.scope.get("query_string", b"")
    # A percent-encoded key ("%75nit") decodes to "unit" for the handler: then the guard must
    # read the decoded parameters too, or it could check another unit than the handler uses.
    from_query = request.query_params.get("unit") if b"%" in query else query_value(query, b"unit")
    return request.path_params.get("unit_code") or from_query or request.headers.get(UNIT_HEADER)


def query_value(query_string: bytes, key: bytes) -> str | None:
    """The value of ``key`` in a raw query string (the last one, as Starlette's ``get``).

    Looking up one key this way costs about a fifth of building ``request.query_params``
    (≈ 5 µs), which would be most of the kernel's per-request work (docs/benchmarks.md).
    """
    if key not in query_string:
        return None
    found = None
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == key:
            found = value
    return None if found is None else unquote_plus(found.decode("latin-1"))


def require_plugin(plugin: str) -> Callable[[Request], Scope]:
    """Router dependency: resolve the township and refuse (404) if ``plugin`` is off there.

    Runs after ``require_actor``: the unit defaults to the actor's home unit, and a unit
    outside the actor's units answers 404, exactly like one that does not exist.
    The resolved :class:`core.Scope` is left on ``request.state.scope``. It is
    ``async`` on purpose: a sync dependency costs a threadpool hop (≈ 200 µs
    here, more than the kernel's own work; docs/benchmarks.md). The work never
    blocks for long: no query except the version check at most once per
    refresh interval, and it never waits for another thread's refresh.
    """

    async def dependency(request: Request) -> Scope:
        return guard(request, plugin)

    dependency.__name__ = f"require_plugin_{plugin}"
    return dependency


def guard(request: Request, plugin: str) -> Scope:
    """The township guard itself: resolve the request's unit (or the actor's home unit),
    404 outside the actor's units or where ``plugin`` is off; keep the scope on the request."""
    actor = getattr(request.state, "actor", None)
    code = unit_code_from_request(request) or (actor.home_unit if actor else None)
    if not code:
        raise HTTPException(
            status_code=400,
            detail="缺少单位 unit：请用查询参数 unit、路径参数 unit_code 或请求头 "
            "X-Sanmin-Unit 指定 / the unit is required",
        )
    kernel = request.app.state.kernel
    scope = kernel.scope(code)
    if actor is not None and not actor.covers(scope.unit.code):
        raise OutOfScope(scope.unit.code)
    request.state.scope = scope  # the 404 page then shows the township's own menu
    kernel.require(plugin, scope)
    return scope


async def require_plugin_from_path(request: Request) -> Scope:
    """Dependency for core services' routes under a plugin's prefix, such as
    ``/p/{plugin}/forms/…`` and ``/api/v1/p/{plugin}/forms/…``: the township guard of the
    plugin that the ``plugin`` path parameter names.

    Core plugins' routers are mounted without the guard, so such a route depends on
    ``require_actor`` first and then on this. A plugin that is not loaded answers 404
    naming it; otherwise exactly as :func:`require_plugin`.
    """
    plugin = request.path_params.get("plugin", "")
    if plugin not in request.app.state.kernel.registry.plugins:
        raise HTTPException(404, f"插件 {plugin} 未安装或未加载 / no such plugin: {plugin!r}")
    return guard(request, plugin)


async def current_scope(request: Request) -> Scope:
    """Dependency for plugin handlers: the :class:`core.Scope` resolved for this request."""
    scope = getattr(request.state, "scope", None)
    if scope is None:
        raise HTTPException(status_code=400, detail="缺少单位 unit / the unit is required")
    return scope


async def scope_if_given(request: Request) -> Scope | None:
    """Dependency for core pages: resolve the unit when the request names one, else ``None``.

    Runs after ``require_actor``: a unit outside the actor's units answers 404.
    """
    code = unit_code_from_request(request)
    if not code:
        return None
    scope = request.app.state.kernel.scope(code)
    actor = getattr(request.state, "actor", None)
    if actor is not None and not actor.near(scope.unit.code):
        raise OutOfScope(scope.unit.code)
    request.state.scope = scope
    return scope
