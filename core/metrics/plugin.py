"""Core plugin ``metrics``: the JSON API, ``/metrics``, its permission and the refresh job."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from core.hookspecs import hookimpl
from core.identity.access import Permission
from core.jobs.spec import Job
from core.metrics import api, dashboard, prometheus
from core.metrics.refresh import run_refresh
from core.plugins.manifest import PluginManifest
from core.plugins.toggles import ScopeUnit
from core.version import __version__
from core.web.menu import MenuLink

PLUGIN = PluginManifest(
    name="metrics",
    title="指标",
    version=__version__,
    description="按单位与期间统计的指标，逐级汇总",
    default_enabled=True,
)

READERS = (
    "grid_worker",
    "village_cadre",
    "township_admin",
    "county_admin",
    "city_admin",
    "system_admin",
    "integrator",
)


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission(api.PERMISSION, "查看统计指标", granted_to=READERS)]


@hookimpl
def register_api_routes() -> APIRouter:
    return api.router


PAGES = APIRouter()
PAGES.include_router(prometheus.router)
PAGES.include_router(dashboard.router)


@hookimpl
def register_page_routes() -> APIRouter:
    return PAGES


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    return [
        MenuLink(href="/admin/dashboard", label="指标看板", order=200, permission=api.PERMISSION)
    ]


@hookimpl
def register_jobs() -> list[Job]:
    return [
        Job(
            name="refresh_daily",
            title="刷新指标日汇总",
            every=timedelta(hours=1),
            run=run_refresh,
            per_township=False,
        )
    ]
