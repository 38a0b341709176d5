"""Core plugin ``units``: the administrative unit tree's API."""

from __future__ import annotations

from fastapi import APIRouter

from core.hookspecs import hookimpl
from core.plugins.manifest import PluginManifest
from core.units.api import router
from core.version import __version__

PLUGIN = PluginManifest(
    name="units",
    title="行政区划",
    version=__version__,
    description="市、县区、乡镇街道、村社区、网格五级单位",
    default_enabled=True,
)


@hookimpl
def register_api_routes() -> APIRouter:
    return router
