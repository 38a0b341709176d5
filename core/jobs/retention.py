"""Deleting old job runs: past their period a run's row only serves operators looking back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from core.jobs.schedule import runs
from core.jobs.spec import JobContext


def purge_runs(context: JobContext) -> None:
    """Delete runs whose period started ``worker_retention_days`` before this period."""
    days = context.kernel.settings.worker_retention_days
    cutoff = context.period_start - timedelta(days=days)
    with context.kernel.engine.begin() as conn:
        conn.execute(delete(runs).where(runs.c.period_start < cutoff))
