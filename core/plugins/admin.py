"""Core plugin ``plugin_admin``: the plugin list and the townships × plugins matrix,
where administrators holding ``plugins.toggle`` switch plugins per unit (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.identity.web import Forbidden, require_permission
from core.plugins.manifest import PluginManifest
from core.plugins.service import ToggleError, set_plugin_setting
from core.plugins.toggles import PluginState, ScopeUnit, Snapshot
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
# Where a matrix cell's state comes from, in words (``inherited`` names the unit).
ORIGIN_LABELS = {
    "unit": "本级设置",
    "default": "插件默认",
    "dependency": "所依赖的插件未启用",
    "core": "核心功能",
    "failed": "加载失败",
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
    code = parse_code(unit_code).code
    saved = urlencode({"saved": plugin, "at": code})
    return RedirectResponse(f"/admin/plugins?{saved}#u{code}", status_code=303)


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: a plugin's state at a unit, where it comes from, and what
    the unit would get if its own setting were removed (the "inherit" choice)."""

    state: PluginState
    source: str
    inherit_enabled: bool
    inherit_source: str


def matrix_cell(snapshot: Snapshot, unit: ScopeUnit, plugin: str) -> Cell:
    """The cell of ``plugin`` at ``unit``, its origin named in words (never colour alone)."""
    state = snapshot.state(unit.code, plugin)
    if state.origin == "inherited":
        origin = snapshot.units.get(state.origin_unit or "")
        source = f"继承自{origin.name if origin else state.origin_unit}"
    else:
        source = ORIGIN_LABELS[state.origin]
    inherit_enabled, inherit_source = snapshot.defaults.get(plugin, False), "插件默认"
    for code in snapshot.chain(unit.parent_code) if unit.parent_code else ():
        value = snapshot.settings.get(code, {}).get(plugin)
        if value is not None:
            inherit_enabled, inherit_source = value, f"来自{snapshot.units[code].name}"
            break
    return Cell(state, source, inherit_enabled, inherit_source)


@pages.get("/admin/plugins", response_class=HTMLResponse)
async def plugins_page(
    request: Request, actor: Actor = Depends(require_permission("plugins.read"))
) -> HTMLResponse:
    """The plugins, and the matrix of the actor's townships (with the counties and cities
    whose settings they inherit) × plugins, each cell changeable in place."""
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
        (unit, {p.name: matrix_cell(snapshot, unit, p.name) for p in optional}) for unit in units
    ]
    saved_unit = snapshot.units.get(request.query_params.get("at", ""))
    saved_plugin = kernel.registry.info(request.query_params.get("saved", ""))
    return await render(
        request,
        "core/admin_plugins.html",
        {
            "plugins": kernel.registry.all(),
            "optional": optional,
            "matrix": matrix,
            "source_labels": SOURCE_LABELS,
            "can_toggle": {
                u.code for u in units if actor.role_allows(kernel.access, "plugins.toggle", u.code)
            },
            "saved": (saved_unit, saved_plugin)
            if saved_unit is not None and saved_plugin is not None and saved_unit in units
            else None,
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
