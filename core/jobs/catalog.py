"""The jobs every loaded plugin declared (``register_jobs``), checked at start-up."""

from __future__ import annotations

import re
from datetime import timedelta

from core.jobs.spec import Job
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MIN_PERIOD = timedelta(minutes=1)


class JobError(ValueError):
    """A bad job declaration; the message names the job and the reason."""


def check_jobs(plugin: str, jobs: list[Job]) -> None:
    """``collect``'s check: names, titles, periods and callables; raises :class:`JobError`."""
    seen: set[str] = set()
    for job in jobs:
        if not isinstance(job.name, str) or not NAME_RE.match(job.name):
            raise JobError(f"job name {job.name!r} must be snake_case (a-z, 0-9, _), ≤ 63 chars")
        if job.name in seen:
            raise JobError(f"job {job.name!r} is declared twice")
        seen.add(job.name)
        if not isinstance(job.title, str) or not job.title.strip():
            raise JobError(f"job {job.name!r} needs a title (shown to operators, in Chinese)")
        if not isinstance(job.every, timedelta) or job.every < MIN_PERIOD:
            raise JobError(f"job {job.name!r}: every={job.every!r} is shorter than one minute")
        if not callable(job.run):
            raise JobError(f"job {job.name!r}: run is not callable")


class JobCatalog:
    """Declarations of ``register_jobs``, collected once when the kernel is built."""

    def __init__(self, by_plugin: dict[str, list[Job]]) -> None:
        self.by_plugin = by_plugin
        self._by_name = {
            full_name(plugin, job): (plugin, job)
            for plugin, jobs in by_plugin.items()
            for job in jobs
        }

    @classmethod
    def build(cls, registry: PluginRegistry) -> JobCatalog:
        """Collect every plugin's jobs; a plugin with a bad one is taken out, with the reason."""
        return cls(collect(registry, "register_jobs", Job, check_jobs))

    def all(self) -> list[tuple[str, Job]]:
        """Every ``(plugin, job)``, plugins in dependency order, jobs in declared order."""
        return [(plugin, job) for plugin, jobs in self.by_plugin.items() for job in jobs]

    def get(self, name: str) -> tuple[str, Job] | None:
        """The ``(plugin, job)`` whose full name is ``name`` (``{plugin}.{job}``), or ``None``."""
        return self._by_name.get(name)


def full_name(plugin: str, job: Job) -> str:
    """A job's name across the installation: ``{plugin}.{name}``."""
    return f"{plugin}.{job.name}"
