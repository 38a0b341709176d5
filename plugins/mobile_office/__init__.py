"""民情直通车 (mobile_office): 乡镇民情直通车与民情热线：来电受理、研判派车、到场处置、日清日结。

This release ships the practice's manifest and landing page; its forms,
workflow and metrics arrive with the kernel services.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core import MenuLink, PluginManifest, ScopeUnit, hookimpl, page_link, render

PLUGIN = PluginManifest(
    name="mobile_office",
    title="民情直通车",
    version="0.1.0",
    description="乡镇民情直通车与民情热线：来电受理、研判派车、到场处置、日清日结。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=False,
)

pages = APIRouter()


@pages.get("/", response_class=HTMLResponse, summary="民情直通车")
async def index(request: Request) -> HTMLResponse:
    return await render(request, "mobile_office/index.html")


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
    return [MenuLink(href=page_link(request, "/p/mobile_office/"), label="民情直通车", order=140)]
