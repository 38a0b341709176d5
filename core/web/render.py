"""Rendering pages in the shared layout, with the township's menu."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from core.identity.web import CSRF_COOKIE, csrf_token
from core.plugins.calling import call_robust
from core.web.menu import MenuLink

if TYPE_CHECKING:
    from core.plugins.scoping import TownshipHooks
    from core.plugins.toggles import ScopeUnit

log = logging.getLogger("sanmin.web")


def page_link(request: Request, path: str) -> str:
    """``path`` for the request's unit: ``?unit=`` is added when the actor's own units
    cover it; otherwise the link opens at the actor's home unit (a grid worker looking at
    their township must not be sent to a page of the whole township)."""
    scope = getattr(request.state, "scope", None)
    actor = getattr(request.state, "actor", None)
    if scope is None or actor is None or not actor.covers(scope.unit.code):
        return path
    return f"{path}?unit={scope.unit.code}"


def township_hooks(request: Request) -> tuple[ScopeUnit | None, TownshipHooks]:
    """The township whose settings apply to the request's page, and its hooks: those of the
    core plugins and of the plugins enabled there (the core's alone outside any unit)."""
    scope = getattr(request.state, "scope", None)
    if scope is None:
        return None, request.app.state.kernel.hooks_for(None)
    return scope.township, scope.hooks


async def menu_for(request: Request) -> list[MenuLink]:
    """Menu entries from core plugins and from the plugins enabled in the request's township,
    those meant for other roles left out (:meth:`MenuLink.shown_to`).

    A failing implementation is logged with its plugin's name and skipped.
    """
    kernel = request.app.state.kernel
    township, hooks = township_hooks(request)
    results = await call_robust(
        hooks.menu_links,
        where=township.code if township else None,
        check=menu_entries,
        township=township,
        request=request,
    )
    actor = getattr(request.state, "actor", None)
    links = [
        link
        for result in results
        for link in result
        if link.shown_to(actor, kernel.access, township)
    ]
    return sorted(links, key=lambda link: (link.order, link.label))


def menu_entries(result: object) -> list[MenuLink]:
    """A ``menu_links`` result as menu entries; raises on anything but a list of entries."""
    if not isinstance(result, list | tuple):
        raise TypeError(f"menu_links must return a list, not {type(result).__name__}")
    return [MenuLink.model_validate(link) for link in result]


async def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render ``template`` with the layout's variables (menu, township, kernel)."""
    kernel = request.app.state.kernel
    scope = getattr(request.state, "scope", None)
    values = {
        "request": request,
        "menu": (context or {}).get("menu") or await menu_for(request),
        "scope": scope,
        "township": scope.township if scope else None,
        "unit_code": scope.unit.code if scope else request.query_params.get("unit"),
        "actor": getattr(request.state, "actor", None),
        "page_link": lambda path: page_link(request, path),
        "csrf_token": lambda: csrf_token(request),
        **(context or {}),
    }
    response = kernel.templates.TemplateResponse(request, template, values, status_code=status_code)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf is not None:
        response.set_cookie(
            CSRF_COOKIE,
            new_csrf,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
