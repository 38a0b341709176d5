"""Core plugin ``accounts``: administrators manage accounts and role assignments in their scope.

The API is in :mod:`core.identity.accounts_api`, the pages in
:mod:`core.identity.accounts_pages`, and the rules both follow (who may see, grant, revoke
and deactivate what) in :mod:`core.identity.accounts_service`.
"""

from __future__ import annotations

from fastapi import APIRouter

from core.hookspecs import hookimpl
from core.identity.accounts_api import api
from core.identity.accounts_pages import pages
from core.identity.accounts_service import READ
from core.plugins.manifest import PluginManifest
from core.version import __version__
from core.web.menu import MenuLink

PLUGIN = PluginManifest(
    name="accounts",
    title="账号管理",
    version=__version__,
    description="管理辖区内的账号与角色",
    default_enabled=True,
)


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [MenuLink(href="/admin/accounts", label="账号管理", order=850, permission=READ)]
