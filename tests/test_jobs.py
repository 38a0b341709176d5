"""Periodic jobs: declared by plugins, run once per period per township where the plugin is
enabled (or once for the installation), retried within their period when they fail.

Passes are driven with a fake clock; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from core import Job, JobContext, hookimpl
from core.events.models import OutboxEvent
from core.jobs import support
from core.jobs.catalog import JobCatalog
from core.jobs.models import JobRun
from core.jobs.schedule import period_of
from core.jobs.worker import OUTAGE_PAUSE_CAP, PassReport, Worker, pause_after
from core.kernel import Kernel
from core.plugins.registry import PluginRegistry
from tests.helpers import Clock, manifest

HOUR = timedelta(hours=1)
HANG_GUARD_SECONDS = 30.0  # only stops a hung test; nothing here is timed


class Ticker:
    """A plugin with an hourly job per township, an installation job, and a job that fails
    ``fail`` times before it succeeds."""

    def __init__(self, name: str, *, fail: int = 0, always_fail: bool = False) -> None:
        self.PLUGIN = manifest(name, default_enabled=False)
        self.runs: list[tuple[str, str | None, datetime]] = []
        self.fail = fail
        self.always_fail = always_fail

    def count(self, context: JobContext) -> None:
        assert context.period_end - context.period_start == HOUR
        code = context.township.code if context.township is not None else None
        self.runs.append((context.job, code, context.period_start))

    async def summary(self, context: JobContext) -> None:
        self.runs.append((context.job, None, context.period_start))

    def fragile(self, context: JobContext) -> None:
        self.runs.append((context.job, context.township.code, context.period_start))
        if self.always_fail or self.fail:
            self.fail -= 1
            raise RuntimeError("job broke")

    @hookimpl
    def register_jobs(self) -> list[Job]:
        return [
            Job(name="count", title="计数", every=HOUR, run=self.count),
            Job(name="summary", title="汇总", every=HOUR, run=self.summary, per_township=False),
            Job(name="fragile", title="易错", every=timedelta(minutes=1), run=self.fragile),
        ]


class Slow:
    """A plugin whose hourly job runs ``during`` (once) while it runs: time passing."""

    def __init__(self, name: str) -> None:
        self.PLUGIN = manifest(name, default_enabled=False)
        self.runs: list[tuple[str, str | None, datetime]] = []
        self.during: Callable[[], None] | None = None

    def long(self, context: JobContext) -> None:
        self.runs.append((context.job, context.township.code, context.period_start))
        during, self.during = self.during, None
        if during is not None:
            during()

    @hookimpl
    def register_jobs(self) -> list[Job]:
        return [Job(name="long", title="耗时", every=HOUR, run=self.long)]


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [
        ("ticker", Ticker("ticker")),
        ("flaky_jobs", Ticker("flaky_jobs", fail=1)),
        ("slow_jobs", Slow("slow_jobs")),
    ]


def ran(sanmin, plugin: str, job: str) -> list[tuple[str | None, datetime]]:  # type: ignore[no-untyped-def]
    runs = sanmin.kernel.pm.get_plugin(plugin).runs
    return sorted((code, start) for name, code, start in runs if name == f"{plugin}.{job}")


def test_hook_register_jobs(sanmin) -> None:
    first, second, never = sanmin.township(), sanmin.township(), sanmin.township()
    sanmin.enable("ticker", first)
    sanmin.enable("ticker", second)
    clock = Clock()
    start = clock.now
    worker = Worker(sanmin.kernel, clock=clock)

    worker.run_once()
    assert ran(sanmin, "ticker", "count") == [(first.code, start), (second.code, start)]
    assert ran(sanmin, "ticker", "summary") == [(None, start)]  # once, not per township

    clock.now += timedelta(minutes=59)  # same period: nothing again
    worker.run_once()
    Worker(sanmin.kernel, clock=clock).run_once()  # nor from another worker
    assert len(ran(sanmin, "ticker", "count")) == 2

    clock.now += timedelta(minutes=1)  # next period, plugin now off in the second township
    sanmin.disable("ticker", second)
    worker.run_once()
    assert ran(sanmin, "ticker", "count") == [
        (first.code, start),
        (first.code, start + HOUR),
        (second.code, start),
    ]
    assert never.code not in {code for code, _ in ran(sanmin, "ticker", "count")}

    sanmin.disable("ticker", first)  # enabled nowhere: its installation job stops too
    clock.now += HOUR
    worker.run_once()
    assert ran(sanmin, "ticker", "summary") == [(None, start), (None, start + HOUR)]
    with sanmin.session() as session:
        rows = session.exec(select(JobRun).where(JobRun.job == "ticker.count")).all()
    assert sorted((r.township_code, r.status, r.attempts) for r in rows) == [
        (first.code, "done", 1),
        (first.code, "done", 1),
        (second.code, "done", 1),
    ]


def test_a_failed_run_is_retried_within_its_period(
    sanmin, caplog: pytest.LogCaptureFixture
) -> None:
    township = sanmin.township()
    sanmin.enable("flaky_jobs", township)
    clock = Clock()
    worker = Worker(sanmin.kernel, clock=clock)
    with caplog.at_level(logging.ERROR, logger="sanmin.jobs"):
        worker.run_once()
    message = next(r.getMessage() for r in caplog.records if "Job failed" in r.getMessage())
    assert f"plugin=flaky_jobs job=flaky_jobs.fragile township={township.code}" in message

    def run_row() -> JobRun:
        with sanmin.session() as session:
            return session.exec(select(JobRun).where(JobRun.job == "flaky_jobs.fragile")).one()

    failed = run_row()
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        1,
        "RuntimeError: job broke",
    )
    assert failed.next_attempt_at == clock.now + timedelta(seconds=10)
    clock.now += timedelta(seconds=9)
    worker.run_once()
    assert len(ran(sanmin, "flaky_jobs", "fragile")) == 1
    clock.now += timedelta(seconds=1)
    worker.run_once()
    done = run_row()
    assert (done.status, done.attempts, done.last_error) == ("done", 2, None)
    assert ran(sanmin, "flaky_jobs", "fragile") == [(township.code, failed.period_start)] * 2


def test_a_run_that_keeps_failing_is_given_up_when_its_period_ends(sanmin) -> None:
    township = sanmin.township()
    sanmin.enable("flaky_jobs", township)
    sanmin.kernel.pm.get_plugin("flaky_jobs").always_fail = True
    clock = Clock()
    start = clock.now
    worker = Worker(sanmin.kernel, clock=clock)
    for seconds in (0, 10, 30):  # attempts at +0, +10 s, +30 s; the next would be at +70 s
        clock.now = start + timedelta(seconds=seconds)
        worker.run_once()
    with sanmin.session() as session:
        row = session.exec(select(JobRun).where(JobRun.job == "flaky_jobs.fragile")).one()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    clock.now = start + timedelta(seconds=59)
    worker.run_once()
    assert len(ran(sanmin, "flaky_jobs", "fragile")) == 3
    clock.now = start + timedelta(minutes=1)  # a new period starts afresh
    worker.run_once()
    assert ran(sanmin, "flaky_jobs", "fragile")[-1] == (township.code, clock.now)


def fast_heartbeats(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], bool]:
    """Make workers renew their leases every millisecond while plugin code runs; return a
    function that waits until a lease was renewed at (fake) time ``at`` or later, and says
    whether it was (it raises nothing: plugin code calls it, and its errors are caught)."""
    renewals: list[datetime] = []
    renewed = threading.Condition()
    beat = support.heartbeat

    def heartbeat(*args: Any) -> bool:
        kept = beat(*args)
        with renewed:
            if kept:
                renewals.append(args[-1])
            renewed.notify_all()
        return kept

    def wait_for_renewal(at: datetime) -> bool:
        with renewed:
            return renewed.wait_for(lambda: any(r >= at for r in renewals), HANG_GUARD_SECONDS)

    monkeypatch.setattr(support, "heartbeat", heartbeat)
    monkeypatch.setattr(support, "RENEW_EVERY", timedelta(milliseconds=1))
    return wait_for_renewal


def test_a_run_longer_than_the_lease_is_not_taken_from_its_live_worker(
    sanmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that outlasts the lease keeps it (its worker renews it while the job runs), so
    another worker does not start the same run again beside it."""
    township = sanmin.township()
    sanmin.enable("slow_jobs", township)
    wait_for_renewal = fast_heartbeats(monkeypatch)
    clock = Clock()
    start = clock.now
    other = Worker(sanmin.kernel, clock=clock)

    meanwhile: list[tuple[bool, list[tuple[str | None, datetime]]]] = []

    def outlast_the_lease() -> None:
        clock.now += support.LEASE + timedelta(seconds=1)
        renewed = wait_for_renewal(clock.now)
        other.run_once()  # (core's every-minute jobs may run: a new period began)
        meanwhile.append((renewed, ran(sanmin, "slow_jobs", "long")))

    sanmin.kernel.pm.get_plugin("slow_jobs").during = outlast_the_lease
    Worker(sanmin.kernel, clock=clock).run_once()
    assert meanwhile == [(True, [(township.code, start)])]  # renewed; no second run beside it
    assert ran(sanmin, "slow_jobs", "long") == [(township.code, start)]
    with sanmin.session() as session:
        row = session.exec(select(JobRun).where(JobRun.job == "slow_jobs.long")).one()
    assert (row.status, row.attempts) == ("done", 1)


def test_a_run_longer_than_its_period_delays_the_next_instead_of_overlapping(
    sanmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    township = sanmin.township()
    sanmin.enable("slow_jobs", township)
    wait_for_renewal = fast_heartbeats(monkeypatch)
    clock = Clock()
    start = clock.now
    other = Worker(sanmin.kernel, clock=clock)
    meanwhile: list[tuple[bool, list[tuple[str | None, datetime]]]] = []

    def overrun_the_period() -> None:
        clock.now += HOUR + timedelta(minutes=1)
        renewed = wait_for_renewal(clock.now)
        other.run_once()  # the next period has begun: its run must wait
        meanwhile.append((renewed, ran(sanmin, "slow_jobs", "long")))

    sanmin.kernel.pm.get_plugin("slow_jobs").during = overrun_the_period
    worker = Worker(sanmin.kernel, clock=clock)
    worker.run_once()
    assert meanwhile == [(True, [(township.code, start)])]
    other.run_once()  # the overrun is over: the next period's run starts now
    assert ran(sanmin, "slow_jobs", "long") == [
        (township.code, start),
        (township.code, start + HOUR),
    ]


def test_a_worker_without_the_plugin_leaves_its_runs_alone(sanmin) -> None:
    """Two workers with different plugin sets (a rolling upgrade): the one that does not
    know a job must not give up the failed run that the other would retry."""
    township = sanmin.township()
    sanmin.enable("flaky_jobs", township)
    clock = Clock()
    worker = Worker(sanmin.kernel, clock=clock)
    worker.run_once()  # fragile fails once
    registry = PluginRegistry().load(only=[], extra=[("ticker", Ticker("ticker"))])
    other = Kernel(sanmin.kernel.settings, registry, sanmin.engine)
    try:
        clock.now += timedelta(seconds=10)
        Worker(other, clock=clock).run_once()
    finally:
        other.dispose()
    worker.run_once()
    with sanmin.session() as session:
        row = session.exec(select(JobRun).where(JobRun.job == "flaky_jobs.fragile")).one()
    assert (row.status, row.attempts) == ("done", 2)


def test_a_run_whose_worker_vanished_is_taken_over_when_its_lease_ends(sanmin) -> None:
    township = sanmin.township()
    sanmin.enable("ticker", township)
    clock = Clock()
    with sanmin.session() as session:  # another worker claimed it, then died
        session.add(
            JobRun(
                job="ticker.count",
                township_code=township.code,
                period_start=clock.now,
                claimed_by="gone:1",
                claimed_until=clock.now + timedelta(minutes=5),
            )
        )
    worker = Worker(sanmin.kernel, clock=clock)
    worker.run_once()
    assert ran(sanmin, "ticker", "count") == []  # its lease still holds
    clock.now += timedelta(minutes=5, seconds=1)
    worker.run_once()
    assert ran(sanmin, "ticker", "count") == [
        (township.code, clock.now.replace(minute=0, second=0))
    ]
    with sanmin.session() as session:
        row = session.exec(select(JobRun).where(JobRun.job == "ticker.count")).one()
    assert (row.status, row.attempts, row.claimed_by) == ("done", 2, None)


def test_a_database_outage_is_one_line_per_pass_with_growing_pauses(
    sanmin, caplog: pytest.LogCaptureFixture
) -> None:
    """``sanmin worker`` keeps retrying while the database is away, as one line per pass (no
    traceback every second), waiting longer each time; it stops cleanly when asked."""
    worker = Worker(sanmin.kernel)
    down = OperationalError("SELECT 1", {}, Exception('database "gone" does not exist\nmore'))

    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "sanmin.worker"]

    def run_once() -> PassReport:
        if len(logged()) == 3:
            worker.stop()
            return PassReport(0, 0)
        raise down

    worker.run_once = run_once  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="sanmin.worker"):
        asyncio.run(asyncio.wait_for(worker.run(0.001), HANG_GUARD_SECONDS))
    assert [r.getMessage() for r in logged()] == [
        f'数据库错误 / database error: database "gone" does not exist; next pass in {pause} s'
        for pause in ("0.002", "0.004", "0.008")
    ]
    assert all(r.exc_info is None for r in logged())
    assert pause_after(1.0, 50) == OUTAGE_PAUSE_CAP and pause_after(600.0, 3) == 600.0


def test_core_installation_jobs_purge_old_events_and_runs(sanmin) -> None:
    clock = Clock()
    old, recent = clock.now - timedelta(days=31), clock.now - timedelta(days=29)
    township = sanmin.township()
    with sanmin.session() as session:
        for done in (old, recent, None):  # the undelivered one is within the retention
            session.add(
                OutboxEvent(
                    name="thing.changed",
                    unit_code=township.code,
                    township_code=township.code,
                    occurred_at=old if done else recent,
                    next_attempt_at=clock.now + HOUR,
                    done_at=done,
                )
            )
        session.add(JobRun(job="ticker.count", township_code="", period_start=old, status="done"))
    Worker(sanmin.kernel, clock=clock).run_once()
    with sanmin.session() as session:
        left = [e.done_at for e in session.exec(select(OutboxEvent).order_by(OutboxEvent.id))]
        runs = session.exec(select(JobRun.job, JobRun.township_code)).all()
    assert left == [recent, None]
    assert ("ticker.count", "") not in runs  # the old run is gone
    assert {("events.purge_delivered", ""), ("jobs.purge_runs", "")} <= set(runs)


def test_bad_job_declarations_take_the_plugin_out() -> None:
    def declaring(name: str, *jobs: Job) -> tuple[str, object]:
        class Declaring:
            PLUGIN = manifest(name)

            @hookimpl
            def register_jobs(self) -> list[Job]:
                return list(jobs)

        return name, Declaring()

    def noop(context: JobContext) -> None:
        return None

    minute = timedelta(minutes=1)
    registry = PluginRegistry().load(
        discover=False,
        extra=[
            declaring("good", Job(name="tick", title="好", every=minute, run=noop)),
            declaring("badname", Job(name="Tick-1", title="坏", every=minute, run=noop)),
            declaring("tooshort", Job(name="tick", title="短", every=minute / 2, run=noop)),
            declaring(
                "twice",
                Job(name="tick", title="一", every=minute, run=noop),
                Job(name="tick", title="二", every=minute, run=noop),
            ),
            declaring("untitled", Job(name="tick", title=" ", every=minute, run=noop)),
        ],
    )
    catalog = JobCatalog.build(registry)
    assert [job.name for job in catalog.by_plugin["good"]] == ["tick"]
    assert catalog.get("good.tick") is not None and catalog.get("badname.tick") is None
    reasons = {name: info.error for name, info in registry.plugins_failed.items()}
    assert "snake_case" in reasons["badname"]
    assert "shorter than one minute" in reasons["tooshort"]
    assert "declared twice" in reasons["twice"]
    assert "needs a title" in reasons["untitled"]
    assert all(reason.startswith("register_jobs: ") for reason in reasons.values())


def test_periods_are_aligned_to_the_epoch() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert period_of(at, HOUR) == (
        datetime(2026, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 3, 4, 6, tzinfo=UTC),
    )
    day_start, _ = period_of(at, timedelta(days=1))
    assert day_start == datetime(2026, 3, 4, tzinfo=UTC)
