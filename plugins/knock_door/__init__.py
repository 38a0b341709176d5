"""敲门嫂 (knock_door): 志愿者定期上门探访独居、空巢、高龄老人，发现需求并转办。

This release ships the practice's manifest and landing page; its forms,
workflow and metrics arrive with the kernel services.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core import MenuLink, PluginManifest, ScopeUnit, hookimpl, page_link, render

PLUGIN = PluginManifest(
    name="knock_door",
    title="敲门嫂",
    version="0.1.0",
    description="志愿者定期上门探访独居、空巢、高龄老人，发现需求并转办。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=True,
)

pages = APIRouter()


@pages.get("/", response_class=HTMLResponse, summary="敲门嫂")
async def index(request: Request) -> HTMLResponse:
    return await render(request, "knock_door/index.html")


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
    return [MenuLink(href=page_link(request, "/p/knock_door/"), label="敲门嫂", order=110)]
