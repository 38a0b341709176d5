"""Core plugin ``jobs``."""

from __future__ import annotations

from datetime import timedelta

from core.hookspecs import hookimpl
from core.jobs.retention import purge_runs
from core.jobs.spec import Job
from core.plugins.manifest import PluginManifest
from core.version import __version__

PLUGIN = PluginManifest(
    name="jobs",
    title="定时任务",
    version=__version__,
    description="插件声明的周期任务，由 sanmin worker 运行",
    default_enabled=True,
)


@hookimpl
def register_jobs() -> list[Job]:
    return [
        Job(
            name="purge_runs",
            title="清理旧的任务运行记录",
            every=timedelta(days=1),
            run=purge_runs,
            per_township=False,
        )
    ]
