"""Core plugin ``audit``: search and export the audit log within the actor's scope."""

from __future__ import annotations

from core.plugins.manifest import PluginManifest
from core.version import __version__

PLUGIN = PluginManifest(
    name="audit_log",
    title="审计日志",
    version=__version__,
    description="查询与导出辖区内的审计记录",
    default_enabled=True,
)
