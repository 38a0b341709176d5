"""What a periodic job is, as plugins declare it in ``register_jobs``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.kernel import Kernel
    from core.plugins.toggles import ScopeUnit


@dataclass(frozen=True, slots=True)
class JobContext:
    """What one run of a job gets: the kernel, its township and the period it runs for."""

    kernel: Kernel
    job: str  # the job's full name, ``{plugin}.{name}``
    township: ScopeUnit | None  # ``None`` for installation-wide (core) jobs
    period_start: datetime  # aware, UTC; periods are aligned to the Unix epoch
    period_end: datetime


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: ``run`` is called once per ``every`` for each township where the
    plugin is enabled (``per_township=True``) or once for the installation.

    ``run`` takes a :class:`JobContext`; it may be ``async``. It must be idempotent for
    its period: a run that raises is retried in the same period.
    """

    name: str  # snake_case, unique within the plugin
    title: str  # Chinese, shown to operators
    every: timedelta
    run: Callable[[JobContext], Any]
    per_township: bool = True
