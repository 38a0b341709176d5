"""Core plugin ``home``: the landing page. A resident finds the request types offered where
they live (one tap each to the form) and their latest requests; staff find the way to their
workbench; everyone can pick a township and see what is on there."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.identity.web import require_actor
from core.kernel import Scope
from core.plugins.manifest import PluginManifest
from core.tickets.pages import when
from core.tickets.portal import resident_portal
from core.units.codes import Level
from core.version import __version__
from core.web.render import menu_for, render
from core.web.scope import scope_if_given
from core.web.workbench import is_staff

PLUGIN = PluginManifest(
    name="home",
    title="首页",
    version=__version__,
    description="首页与乡镇街道选择",
    default_enabled=True,
)

pages = APIRouter()


@pages.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    actor: Actor = Depends(require_actor),
    scope: Scope | None = Depends(scope_if_given),
) -> HTMLResponse:
    kernel = request.app.state.kernel
    if scope is None and actor.home_unit:
        scope = kernel.scope(actor.home_unit)
        request.state.scope = scope
    units = [u for u in kernel.toggles.snapshot().units.values() if actor.near(u.code)]
    counties = sorted((u for u in units if u.level == Level.county), key=lambda u: u.code)
    townships: dict[str, list] = {}
    for unit in sorted(units, key=lambda u: u.code):
        if unit.level == Level.township:
            townships.setdefault(unit.parent_code, []).append(unit)
    menu = await menu_for(request)
    menu_position = {
        link.href.split("/")[2]: i for i, link in enumerate(menu) if link.href.startswith("/p/")
    }
    enabled = sorted(
        (
            kernel.registry.plugins[name]
            for name in (scope.enabled if scope else ())
            if not kernel.registry.plugins[name].essential
        ),
        key=lambda info: (menu_position.get(info.name, len(menu)), info.name),
    )
    staff = is_staff(actor)
    portal = None if staff else await run_in_threadpool(resident_portal, kernel, actor)
    return await render(
        request,
        "core/home.html",
        {
            "counties": counties,
            "townships": townships,
            "enabled_plugins": enabled,
            "menu": menu,
            "portal": portal,
            "staff": staff,
            "when": when,
        },
    )


@hookimpl
def register_page_routes() -> APIRouter:
    return pages
