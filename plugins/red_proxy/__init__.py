"""红色代办 (red_proxy): 红色代办“四单制”：群众点单、支部派单、党员接单办单、群众评单，结果公示。

This release ships the practice's manifest and landing page; its forms,
workflow and metrics arrive with the kernel services.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core import MenuLink, PluginManifest, ScopeUnit, hookimpl, page_link, render

PLUGIN = PluginManifest(
    name="red_proxy",
    title="红色代办",
    version="0.1.0",
    description="红色代办“四单制”：群众点单、支部派单、党员接单办单、群众评单，结果公示。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=False,
)

pages = APIRouter()


@pages.get("/", response_class=HTMLResponse, summary="红色代办")
async def index(request: Request) -> HTMLResponse:
    return await render(request, "red_proxy/index.html")


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def register_templates() -> Path:
    return Path(__file__).parent / "templates"


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    if township is None:
        return []
    return [MenuLink(href=page_link(request, "/p/red_proxy/"), label="红色代办", order=130)]
