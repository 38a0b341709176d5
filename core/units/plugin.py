"""Core plugin ``units``: the administrative unit tree's API and pages, and the permission
to add and rename units (``units.manage``, held by administrators)."""

from __future__ import annotations

from fastapi import APIRouter

from core.hookspecs import hookimpl
from core.identity.access import Permission
from core.plugins.manifest import PluginManifest
from core.units.api import router
from core.units.pages import MANAGE, pages
from core.version import __version__
from core.web.menu import MenuLink

PLUGIN = PluginManifest(
    name="units",
    title="行政区划",
    version=__version__,
    description="市、县区、乡镇街道、村社区、网格五级单位",
    default_enabled=True,
)

MANAGERS = ("township_admin", "county_admin", "city_admin", "system_admin")


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission(MANAGE, "新增与更名行政区划", granted_to=MANAGERS)]


@hookimpl
def register_api_routes() -> APIRouter:
    return router


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [MenuLink(href="/admin/units", label="行政区划", order=840, permission=MANAGE)]
