"""Running declared jobs once per period: for each township where the plugin is enabled
(``per_township``) or once for the installation.

A run is claimed by inserting its ``job_run`` row: the unique key (job, township, period
start) lets exactly one worker win, on SQLite as on PostgreSQL. A failed run is retried
with backoff while its period lasts; a run whose worker vanished (its lease ran out) is
taken over the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, or_, select, update

from core.jobs.catalog import full_name
from core.jobs.models import JobRun
from core.jobs.spec import Job, JobContext
from core.jobs.support import LEASE, describe, insert, lease_kept, resolve, retry_delay
from core.plugins.toggles import ScopeUnit
from core.units.codes import Level

if TYPE_CHECKING:
    from core.kernel import Kernel

log = logging.getLogger("sanmin.jobs")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
runs = cast(Table, JobRun.__table__)


def period_of(now: datetime, every: timedelta) -> tuple[datetime, datetime]:
    """The period containing ``now``: periods of length ``every`` aligned to the Unix epoch."""
    start = EPOCH + ((now - EPOCH) // every) * every
    return start, start + every


def _code(township: ScopeUnit | None) -> str:
    """A run's township code: ``''`` for an installation-wide run."""
    return township.code if township is not None else ""


class JobScheduler:
    """One worker's view of the jobs: which runs it already saw settled in the current
    period (so a pass does not ask the database again), and how to start the others."""

    def __init__(self, kernel: Kernel, worker: str, clock: Callable[[], datetime]) -> None:
        self.kernel = kernel
        self.worker = worker
        self.clock = clock
        self._settled: dict[str, tuple[datetime, set[str]]] = {}

    def run_due(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Retry failed runs still in their period, then start every run due; return how
        many runs this worker made."""
        made = self._retry_failed(stopping)
        now = self.clock()
        for plugin, job in self.kernel.jobs.all():
            if plugin not in self.kernel.registry.plugins:
                continue  # taken out after the catalog was built (a failing startup hook)
            name = full_name(plugin, job)
            start, _ = period_of(now, job.every)
            seen = self._seen(name, start)
            due = [t for t in self.targets(plugin, job) if _code(t) not in seen]
            busy = self._overrunning(name, start, now) if due else set()
            for township in due:
                if stopping():
                    return made
                code = _code(township)
                if code in busy:
                    continue  # not seen: tried again at the next pass
                seen.add(code)
                run_id = self._claim_new(name, code, start)
                if run_id is not None:
                    self._run(run_id, plugin, job, township, start, attempts=1)
                    made += 1
        return made

    def targets(self, plugin: str, job: Job) -> list[ScopeUnit | None]:
        """Where ``job`` runs now: the townships where ``plugin`` is enabled, or ``[None]``
        (the installation) for a core plugin's job or a plugin enabled somewhere."""
        snapshot = self.kernel.toggles.snapshot()
        townships = [
            unit
            for unit in snapshot.units.values()
            if unit.level is Level.township and plugin in snapshot.enabled(unit.code)
        ]
        if job.per_township:
            return sorted(townships, key=lambda unit: unit.code)
        essential = self.kernel.registry.plugins[plugin].essential
        return [None] if essential or townships else []

    def _overrunning(self, name: str, start: datetime, now: datetime) -> set[str]:
        """Township codes where a run of ``name`` from an earlier period still runs (its
        worker keeps the lease): the next run waits for it rather than running beside it."""
        with self.kernel.engine.connect() as conn:
            found = conn.execute(
                select(runs.c.township_code).where(
                    runs.c.job == name,
                    runs.c.status == "running",
                    runs.c.claimed_until >= now,
                    runs.c.period_start < start,
                )
            )
            return set(found.scalars())

    def _seen(self, name: str, start: datetime) -> set[str]:
        entry = self._settled.get(name)
        if entry is None or entry[0] != start:
            entry = self._settled[name] = (start, set())
        return entry[1]

    def _claim_new(self, name: str, code: str, start: datetime) -> int | None:
        now = self.clock()
        with self.kernel.engine.begin() as conn:
            statement = (
                insert(conn, runs)
                .values(
                    job=name,
                    township_code=code,
                    period_start=start,
                    status="running",
                    attempts=1,
                    claimed_by=self.worker,
                    claimed_until=now + LEASE,
                    started_at=now,
                )
                .on_conflict_do_nothing(index_elements=["job", "township_code", "period_start"])
                .returning(runs.c.id)
            )
            return conn.execute(statement).scalar_one_or_none()

    def _retry_failed(self, stopping: Callable[[], bool]) -> int:
        now = self.clock()
        retryable = or_(
            and_(runs.c.status == "failed", runs.c.next_attempt_at <= now),
            and_(runs.c.status == "running", runs.c.claimed_until < now),
        )
        # Only the jobs this worker runs: another worker, with other plugins installed
        # (a rolling upgrade), retries its own; a run of a job nobody declares any more
        # stays as it is until it is purged.
        known = {
            full_name(plugin, job): (plugin, job)
            for plugin, job in self.kernel.jobs.all()
            if plugin in self.kernel.registry.plugins
        }
        with self.kernel.engine.connect() as conn:
            rows = conn.execute(
                select(runs).where(retryable, runs.c.job.in_(known)).order_by(runs.c.id)
            ).all()
        made = 0
        for row in rows:
            if stopping():
                break
            plugin, job = known[row.job]
            start, _ = period_of(now, job.every)
            where = {_code(t): t for t in self.targets(plugin, job)}
            if row.period_start != start or row.township_code not in where:
                self._give_up(row.id, "its period is over or the plugin is off there")
                continue
            if self._claim_again(row, now):
                township = where[row.township_code]
                self._run(row.id, plugin, job, township, start, attempts=row.attempts + 1)
                made += 1
        return made

    def _claim_again(self, row: Any, now: datetime) -> bool:
        with self.kernel.engine.begin() as conn:
            taken = conn.execute(
                update(runs)
                .where(
                    runs.c.id == row.id,
                    runs.c.status == row.status,
                    runs.c.attempts == row.attempts,
                )
                .values(
                    status="running",
                    attempts=row.attempts + 1,
                    claimed_by=self.worker,
                    claimed_until=now + LEASE,
                    next_attempt_at=None,
                )
            )
        return taken.rowcount == 1

    def _give_up(self, run_id: int, reason: str) -> None:
        log.warning("Job run %s is not retried: %s", run_id, reason)
        with self.kernel.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(status="failed", next_attempt_at=None, claimed_until=None)
            )

    def _run(
        self,
        run_id: int,
        plugin: str,
        job: Job,
        township: ScopeUnit | None,
        start: datetime,
        *,
        attempts: int,
    ) -> None:
        name = full_name(plugin, job)
        context = JobContext(
            kernel=self.kernel,
            job=name,
            township=township,
            period_start=start,
            period_end=start + job.every,
        )
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        try:
            with lease_kept(self.kernel.engine, runs, run_id, self.worker, self.clock):
                resolve(job.run(context))
        except Exception as exc:
            now = self.clock()
            retry_at = now + retry_delay(attempts)
            log.exception(
                "Job failed: plugin=%s job=%s township=%s period=%s attempt=%d",
                plugin,
                name,
                township.code if township is not None else "-",
                start.isoformat(),
                attempts,
            )
            values.update(
                status="failed",
                finished_at=now,
                last_error=describe(exc),
                next_attempt_at=retry_at if retry_at < start + job.every else None,
            )
        else:
            values.update(status="done", finished_at=self.clock(), last_error=None)
        self._finish(run_id, values)

    def _finish(self, run_id: int, values: dict[str, Any]) -> None:
        with self.kernel.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.claimed_by == self.worker)
                .values(**values)
            )
