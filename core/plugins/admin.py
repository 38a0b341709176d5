"""Core plugin ``plugin_admin``: the plugin list and the townships × plugins matrix,
where administrators holding ``plugins.toggle`` switch plugins per unit (audited)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.identity.web import Forbidden, require_permission
from core.plugins.manifest import PluginManifest
from core.plugins.service import ToggleError, set_plugin_setting
from core.units.codes import Level, parse_code
from core.units.service import OutOfScope
from core.version import __version__
from core.web.menu import MenuLink
from core.web.render import render

PLUGIN = PluginManifest(
    name="plugin_admin",
    title="插件管理",
    version=__version__,
    description="已安装插件、加载错误与各乡镇街道的启用情况",
    default_enabled=True,
)

SOURCE_LABELS = {"core": "核心", "builtin": "内置", "external": "外部", "test": "测试"}
ORIGIN_LABELS = {
    "dependency": "依赖未启用",
    "core": "核心",
    "unit": "本级",
    "inherited": "继承",
    "default": "默认",
    "failed": "失败",
}

api = APIRouter()
pages = APIRouter()


class PluginOut(BaseModel):
    name: str
    title: str
    version: str
    source: str
    description: str
    default_enabled: bool | None
    enabled: bool
    origin: str
    origin_unit: str | None
    error: str | None


@api.get(
    "/plugins",
    summary="插件列表 / installed plugins",
    response_model=list[PluginOut],
    tags=["core"],
)
def list_plugins(
    request: Request,
    unit: str | None = Query(None, description="在此单位的启用状态 / state at this unit"),
    actor: Actor = Depends(require_permission("plugins.read")),
) -> list[PluginOut]:
    kernel = request.app.state.kernel
    if unit is not None and not actor.role_allows(
        kernel.access, "plugins.read", parse_code(unit).code
    ):
        raise OutOfScope(unit)
    states = kernel.plugin_states(unit)
    return [
        PluginOut(
            name=info.name,
            title=info.title,
            version=info.version,
            source=info.source,
            description=info.manifest.description if info.manifest else "",
            default_enabled=info.manifest.default_enabled if info.manifest else None,
            enabled=states[info.name].enabled,
            origin=states[info.name].origin,
            origin_unit=states[info.name].origin_unit,
            error=info.error,
        )
        for info in kernel.registry.all()
    ]


class SettingIn(BaseModel):
    enabled: bool | None = Field(description="true 启用, false 停用, null 恢复继承 / inherit")


def change_setting(
    request: Request, actor: Actor, plugin: str, unit_code: str, enabled: bool | None
) -> None:
    """Apply one setting as ``actor``: 404 outside its units, 403 without ``plugins.toggle``."""
    kernel = request.app.state.kernel
    code = parse_code(unit_code).code
    if not actor.role_allows(kernel.access, "plugins.read", code):
        raise OutOfScope(code)
    if not kernel.allowed(actor, "plugins.toggle", code):
        raise Forbidden("plugins.toggle")
    with Session(kernel.engine) as session:
        try:
            set_plugin_setting(
                session,
                kernel.registry,
                plugin=plugin,
                unit_code=code,
                enabled=enabled,
                actor=actor.label,
                source=request.client.host if request.client else None,
            )
        except ToggleError as exc:
            raise HTTPException(422, f"plugin: {exc}") from None
        session.commit()
    kernel.toggles.invalidate()


@api.put(
    "/plugins/{plugin}/settings/{unit_code}",
    summary="在某单位启用、停用插件或恢复继承 / set a plugin at a unit",
    response_model=PluginOut,
    tags=["core"],
)
def put_setting(
    request: Request,
    plugin: str,
    unit_code: str,
    body: SettingIn,
    actor: Actor = Depends(require_permission("plugins.toggle")),
) -> PluginOut:
    change_setting(request, actor, plugin, unit_code, body.enabled)
    return next(p for p in list_plugins(request, unit_code, actor) if p.name == plugin)


@pages.post("/admin/plugins/{plugin}/settings/{unit_code}")
def post_setting(
    request: Request,
    plugin: str,
    unit_code: str,
    value: Annotated[Literal["on", "off", "inherit"], Form()],
    actor: Actor = Depends(require_permission("plugins.toggle")),
) -> RedirectResponse:
    enabled = {"on": True, "off": False, "inherit": None}[value]
    change_setting(request, actor, plugin, unit_code, enabled)
    return RedirectResponse(f"/admin/plugins#u{parse_code(unit_code).code}", status_code=303)


@pages.get("/admin/plugins", response_class=HTMLResponse)
async def plugins_page(
    request: Request, actor: Actor = Depends(require_permission("plugins.read"))
) -> HTMLResponse:
    kernel = request.app.state.kernel
    snapshot = kernel.toggles.snapshot()
    optional = sorted(kernel.registry.optional(), key=lambda p: p.name)
    units = sorted(
        (
            u
            for u in snapshot.units.values()
            if u.level != Level.province
            and actor.role_allows(kernel.access, "plugins.read", u.code)
        ),
        key=lambda u: u.code,
    )
    matrix = [
        (unit, {p.name: snapshot.state(unit.code, p.name) for p in optional}) for unit in units
    ]
    return await render(
        request,
        "core/admin_plugins.html",
        {
            "plugins": kernel.registry.all(),
            "optional": optional,
            "matrix": matrix,
            "source_labels": SOURCE_LABELS,
            "origin_labels": ORIGIN_LABELS,
            "can_toggle": {
                u.code for u in units if actor.role_allows(kernel.access, "plugins.toggle", u.code)
            },
        },
    )


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [MenuLink(href="/admin/plugins", label="插件管理", order=900, permission="plugins.read")]
