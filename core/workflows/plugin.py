"""Core plugin ``workflows``: plugins' state machines — pages and JSON API under each plugin's
prefix, for the workflows plugins declare in ``register_workflows``.

``/api/v1/p/{plugin}/workflows/{workflow}…`` (:mod:`core.workflows.api`) and
``/p/{plugin}/workflows/{workflow}/…`` (:mod:`core.workflows.pages`); the rules, storage,
scope, audit and events in :mod:`core.workflows.service`.
"""

from __future__ import annotations

from fastapi import APIRouter

from core.hookspecs import hookimpl
from core.plugins.manifest import PluginManifest
from core.version import __version__
from core.workflows.api import api
from core.workflows.pages import pages

PLUGIN = PluginManifest(
    name="workflows",
    title="流程",
    version=__version__,
    description="声明式流程：状态、流转、期限与历史",
    default_enabled=True,
)


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages
