"""民情茶馆 (tea_house):

固定日与日常开放的民情沟通：登记群众反映的问题，当场答复或转办，下次通报结果。

This release ships the practice's manifest and landing page; its forms,
workflow and metrics arrive with the kernel services.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core import MenuLink, PluginManifest, ScopeUnit, hookimpl, page_link, render

PLUGIN = PluginManifest(
    name="tea_house",
    title="民情茶馆",
    version="0.1.0",
    description="固定日与日常开放的民情沟通：登记群众反映的问题，当场答复或转办，下次通报结果。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=True,
)

pages = APIRouter()


@pages.get("/", response_class=HTMLResponse, summary="民情茶馆")
async def index(request: Request) -> HTMLResponse:
    return await render(request, "tea_house/index.html")


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
    return [MenuLink(href=page_link(request, "/p/tea_house/"), label="民情茶馆", order=120)]
