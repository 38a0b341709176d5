"""Core plugin ``events``."""

from __future__ import annotations

from datetime import timedelta

from core.events.retention import purge_delivered
from core.hookspecs import hookimpl
from core.jobs.spec import Job
from core.plugins.manifest import PluginManifest
from core.version import __version__

PLUGIN = PluginManifest(
    name="events",
    title="事件",
    version=__version__,
    description="事务性发件箱：变更提交后调用插件的反应，失败重试",
    default_enabled=True,
)


@hookimpl
def register_jobs() -> list[Job]:
    return [
        Job(
            name="purge_delivered",
            title="清理已投递的旧事件",
            every=timedelta(days=1),
            run=purge_delivered,
            per_township=False,
        )
    ]
