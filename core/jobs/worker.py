"""The runner behind ``sanmin worker`` and the in-process runner of the demo: each pass
delivers the events due and runs the jobs due, then it waits for the next commit or the
next interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio.to_thread
from sqlalchemy.exc import OperationalError

from core.db.types import utcnow
from core.events import wakeup
from core.events.delivery import deliver_due
from core.jobs.schedule import JobScheduler
from core.jobs.support import worker_name

if TYPE_CHECKING:
    from fastapi import FastAPI

    from core.kernel import Kernel

log = logging.getLogger("sanmin.worker")

OUTAGE_PAUSE_CAP = 60.0


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did: events handled and job runs made."""

    events: int
    jobs: int


def pause_after(interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` passes in a row failed to reach the database (it
    is down, or restarting): the interval doubled each time, capped at
    :data:`OUTAGE_PAUSE_CAP` (or the interval, if longer). One line is logged per pass."""
    return min(interval * 2 ** min(failures, 30), max(interval, OUTAGE_PAUSE_CAP))


class Worker:
    """Delivers events and runs jobs for one kernel. Any number may run, in any number of
    processes, on one database: claims keep them from doing the same work twice.

    :param clock: the current time, aware (tests pass a fake one to drive retries).
    """

    def __init__(
        self,
        kernel: Kernel,
        *,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
    ) -> None:
        self.kernel = kernel
        self.clock = clock
        self.name = name or worker_name()
        self.jobs = JobScheduler(kernel, self.name, clock)
        self._stopping = threading.Event()
        self._wake: Callable[[], None] = lambda: None  # ends the wait between passes

    def run_once(self) -> PassReport:
        """One pass: every event due now, then every job run due now. Blocking."""
        events = deliver_due(
            self.kernel, worker=self.name, clock=self.clock, stopping=self._stopping.is_set
        )
        return PassReport(events, self.jobs.run_due(self._stopping.is_set))

    def stop(self) -> None:
        """Ask the runner to stop after the reaction or job it is running (thread-safe):
        :meth:`run` then returns, without starting another pass."""
        self._stopping.set()
        self._wake()

    async def run(self, interval: float) -> None:
        """Pass after pass until :meth:`stop`, each in a worker thread; between passes, wait
        for ``interval`` seconds or until this process commits an event, whichever comes
        first. Stop it with :meth:`stop` and await it, rather than cancelling it: a
        cancelled task would not wait for the pass running in its thread."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def notify() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)

        unsubscribe = wakeup.subscribe(notify)
        self._wake = notify
        failures = 0  # passes in a row that could not use the database
        try:
            while not self._stopping.is_set():
                wake.clear()
                pause = interval
                try:
                    await anyio.to_thread.run_sync(self.run_once)
                    failures = 0
                except OperationalError as exc:
                    failures += 1
                    pause = pause_after(interval, failures)
                    log.error(
                        "数据库错误 / database error: %s; next pass in %.3g s",
                        (str(exc.orig) or type(exc.orig).__name__).splitlines()[0],
                        pause,
                    )
                except Exception:
                    log.exception("Worker pass failed; next pass in %s s", interval)
                if self._stopping.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), pause)
        finally:
            self._wake = lambda: None
            unsubscribe()


class InProcessRunner:
    """A :class:`Worker` running as a task of a server's event loop (the demo's way to need
    no extra service)."""

    def __init__(self, worker: Worker, task: asyncio.Task[None]) -> None:
        self.worker = worker
        self.task = task

    @classmethod
    def start(cls, kernel: Kernel) -> InProcessRunner:
        """Start passes every ``worker_interval_seconds`` (and after each commit with events)."""
        worker = Worker(kernel)
        task = asyncio.create_task(worker.run(kernel.settings.worker_interval_seconds))
        log.info("Delivering events and running jobs in this process (%s)", worker.name)
        return cls(worker, task)

    async def stop(self) -> None:
        """Let the current reaction or job finish (the events claimed but not reached are
        given back), then end the task."""
        self.worker.stop()
        await self.task


async def run_standalone(app: FastAPI, *, once: bool) -> PassReport | None:
    """``sanmin worker``: start ``app`` as a server would (``startup`` hooks, settings
    refresher) without serving, then run passes until SIGINT or SIGTERM, or one pass."""
    kernel: Kernel = app.state.kernel
    worker = Worker(kernel)
    stopped = asyncio.Event()

    def shut_down() -> None:
        log.info("Worker %s stopping", worker.name)
        worker.stop()
        stopped.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, shut_down)
    async with app.router.lifespan_context(app):
        if once:
            return await anyio.to_thread.run_sync(worker.run_once)
        interval = kernel.settings.worker_interval_seconds
        log.info("Worker %s started: a pass every %s s", worker.name, interval)
        task = asyncio.create_task(worker.run(interval))
        await stopped.wait()
        await task  # the reaction or job running finishes first
    return None
