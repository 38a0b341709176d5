"""Core plugin ``audit_log``: search and export the audit log within the actor's scope.

``GET /api/v1/audit`` and ``GET /api/v1/audit/export`` (:mod:`core.audit.api`), the page
``/admin/audit`` (:mod:`core.audit.pages`); who sees which entries is documented in
:mod:`core.audit.search`. Sensitive reads are recorded with :mod:`core.audit.reads`.
"""

from __future__ import annotations

from fastapi import APIRouter

from core.audit.api import router
from core.audit.pages import pages
from core.audit.search import PERMISSION
from core.hookspecs import hookimpl
from core.plugins.manifest import PluginManifest
from core.version import __version__
from core.web.menu import MenuLink

PLUGIN = PluginManifest(
    name="audit_log",
    title="审计日志",
    version=__version__,
    description="查询与导出辖区内的审计记录",
    default_enabled=True,
)


@hookimpl
def register_api_routes() -> APIRouter:
    return router


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [MenuLink(href="/admin/audit", label="审计日志", order=910, permission=PERMISSION)]
