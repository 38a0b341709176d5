"""A plugin used by the tests: one API route, one page, templates, static files, a menu link."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from core import MenuLink, PluginManifest, Scope, current_scope, hookimpl, render

PLUGIN = PluginManifest(name="sample", title="样例", version="1.0", description="测试用插件")

api = APIRouter()
pages = APIRouter()
STARTED: list[object] = []


@api.get("/echo")
def echo(scope: Scope = Depends(current_scope)) -> dict[str, str]:
    return {"township": scope.township.code, "unit": scope.unit.code}


@pages.get("/")
async def index(request: Request) -> HTMLResponse:
    return await render(request, "sample/index.html", {"greeting": "你好"})


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def register_templates() -> Path:
    return Path(__file__).parent / "templates"


@hookimpl
def register_static() -> Path:
    return Path(__file__).parent / "static"


@hookimpl
async def startup(kernel) -> None:  # type: ignore[no-untyped-def]
    STARTED.append(kernel)


@hookimpl
def menu_links(township) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [MenuLink(href=f"/p/sample/?unit={township.code}", label="样例")] if township else []
