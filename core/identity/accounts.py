"""Core plugin ``accounts``: administrators manage accounts and role assignments in their scope."""

from __future__ import annotations

from core.plugins.manifest import PluginManifest
from core.version import __version__

PLUGIN = PluginManifest(
    name="accounts",
    title="账号管理",
    version=__version__,
    description="管理辖区内的账号与角色",
    default_enabled=True,
)
