"""Resolving the request's township, and the 404 for plugins switched off there."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from core.kernel import Scope

UNIT_HEADER = "x-sanmin-unit"


def unit_code_from_request(request: Request) -> str | None:
    """The unit a request is about: ``unit_code`` path parameter, ``unit`` query
    parameter or ``X-Sanmin-Unit`` header, in that order."""
    return (
        request.path_params.get("unit_code")
        or request.query_params.get("unit")
        or request.headers.get(UNIT_HEADER)
    )


def require_plugin(plugin: str) -> Callable[[Request], Scope]:
    """Router dependency: resolve the township and refuse (404) if ``plugin`` is off there.

    The resolved :class:`core.Scope` is left on ``request.state.scope``.
    """

    def dependency(request: Request) -> Scope:
        code = unit_code_from_request(request)
        if not code:
            raise HTTPException(
                status_code=400,
                detail="缺少单位 unit：请用查询参数 unit、路径参数 unit_code 或请求头 "
                "X-Sanmin-Unit 指定 / the unit is required",
            )
        kernel = request.app.state.kernel
        scope = kernel.scope(code)
        request.state.scope = scope  # the 404 page then shows the township's own menu
        kernel.require(plugin, scope)
        return scope

    dependency.__name__ = f"require_plugin_{plugin}"
    return dependency


def current_scope(request: Request) -> Scope:
    """Dependency for plugin handlers: the :class:`core.Scope` resolved for this request."""
    scope = getattr(request.state, "scope", None)
    if scope is None:
        raise HTTPException(status_code=400, detail="缺少单位 unit / the unit is required")
    return scope


def scope_if_given(request: Request) -> Scope | None:
    """Dependency for core pages: resolve the unit when the request names one, else ``None``."""
    code = unit_code_from_request(request)
    if not code:
        return None
    scope = request.app.state.kernel.scope(code)
    request.state.scope = scope
    return scope
