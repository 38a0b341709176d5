"""Core plugin ``forms``: plugins' forms (一事一表) — pages and JSON API under each plugin's
prefix, rendered and validated from the models plugins declare in ``register_forms``.

``/api/v1/p/{plugin}/forms/…`` (:mod:`core.forms.api`) and ``/p/{plugin}/forms/{form}/…``
(:mod:`core.forms.pages`); storage, scope, audit and events in :mod:`core.forms.service`.
"""

from __future__ import annotations

from fastapi import APIRouter

from core.forms.api import api
from core.forms.pages import pages
from core.hookspecs import hookimpl
from core.plugins.manifest import PluginManifest
from core.version import __version__

PLUGIN = PluginManifest(
    name="forms",
    title="表单",
    version=__version__,
    description="一事一表：插件声明的表单，校验、存储、页面与接口",
    default_enabled=True,
)


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages
