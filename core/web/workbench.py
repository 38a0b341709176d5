"""Core plugin ``workbench``: 工作台, the staff's landing page at ``/admin``.

Every panel comes from the ``workbench_panels`` hook of the plugins enabled in the township
the actor works in — the core's own (my open tickets, my households by care level) and each
practice's (this week's visits, …) — so a plugin switched off there adds nothing. An actor
holding no staff role (a resident) is sent to the residents' home page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.identity.web import require_actor
from core.plugins.calling import call_robust
from core.plugins.manifest import PluginManifest
from core.version import __version__
from core.web.menu import MenuLink
from core.web.panels import WorkbenchPanel, panel_entries
from core.web.render import render, township_hooks

PLUGIN = PluginManifest(
    name="workbench",
    title="工作台",
    version=__version__,
    description="工作人员工作台：待办、住户、走访等各项工作一览",
    default_enabled=True,
)

RESIDENT_ROLES = frozenset({"resident"})  # roles that make no one staff
pages = APIRouter()


def is_staff(actor: Actor) -> bool:
    """Whether ``actor`` holds any role but a resident's."""
    return any(held.role not in RESIDENT_ROLES for held in actor.roles)


async def panels_for(request: Request) -> list[WorkbenchPanel]:
    """The panels of the plugins on in the request's township, in ``order``."""
    township, hooks = township_hooks(request)
    results = await call_robust(
        hooks.workbench_panels,
        where=township.code if township else None,
        check=panel_entries,
        # a panel that reads in a thread (the archive's for a wide scope, a plugin's) runs
        # while the others read on the loop's connection: the page waits for the slowest
        concurrently=True,
        township=township,
        request=request,
    )
    found = [panel for result in results for panel in result]
    return sorted(found, key=lambda panel: (panel.order, panel.title))


@pages.get("/admin", response_class=Response, summary="工作台")
async def workbench(request: Request, actor: Actor = Depends(require_actor)) -> Response:
    """The signed-in staff member's panels, at their home unit's township."""
    if not is_staff(actor):
        return RedirectResponse("/", status_code=303)
    if actor.home_unit:
        request.state.scope = request.app.state.kernel.scope(actor.home_unit)
    roles = request.app.state.kernel.access.roles
    held = [(roles[r.role].title if r.role in roles else r.role, r.unit_code) for r in actor.roles]
    return await render(
        request, "core/workbench.html", {"panels": await panels_for(request), "held": held}
    )


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    """工作台 first in the menu, for staff."""
    actor = getattr(getattr(request, "state", None), "actor", None)
    if actor is None or not is_staff(actor):
        return []
    return [MenuLink(href="/admin", label="工作台", order=10)]
