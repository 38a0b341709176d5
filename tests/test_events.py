"""The events outbox: written with the change, delivered after commit, retried on failure.

Acceptance (issue 4, item 4): "A reaction that raises is retried until it succeeds, and the
change that caused it stays committed." Retries are driven by calling one pass of the
runner with a fake clock: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core import Event, Settings, create_app, emit, hookimpl
from core.audit.models import AuditEntry
from core.events.models import EventDelivery, OutboxEvent
from core.events.outbox import township_of
from core.jobs.support import LEASE, RETRY_CAP, retry_delay
from core.jobs.worker import Worker
from core.units.codes import UnitCodeError
from tests.helpers import Clock, manifest
from tests.test_jobs import fast_heartbeats

HANG_GUARD_SECONDS = 30.0  # only stops a hung test; nothing here is timed


class Reactor:
    """A plugin whose reaction records each event it gets and raises ``fail`` times first."""

    def __init__(self, name: str, *, default_enabled: bool = True, fail: int = 0) -> None:
        self.PLUGIN = manifest(name, default_enabled=default_enabled)
        self.seen: list[Event] = []
        self.fail = fail
        self.delivered = threading.Event()

    @hookimpl
    def on_event(self, event: Event, kernel) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(event)
        if self.fail:
            self.fail -= 1
            raise RuntimeError(f"reaction broke on {event.name}")
        self.delivered.set()


class Stalling(Reactor):
    """A reaction that runs ``during`` (once) while it is being called: time passing."""

    during: Callable[[], None] | None = None

    @hookimpl
    def on_event(self, event: Event, kernel) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(event)
        during, self.during = self.during, None
        if during is not None:
            during()


class AsyncReactor(Reactor):
    @hookimpl
    async def on_event(self, event: Event, kernel) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        self.seen.append(event)


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [
        ("steady", Reactor("steady")),
        ("flaky", Reactor("flaky", fail=2)),
        ("optin", Reactor("optin", default_enabled=False)),
        ("later", AsyncReactor("later")),
        ("stalling", Stalling("stalling", default_enabled=False)),
    ]


def plugin(sanmin, name: str) -> Reactor:  # type: ignore[no-untyped-def]
    return sanmin.kernel.pm.get_plugin(name)


def change_and_emit(sanmin, unit_code: str, target: str = "1") -> None:  # type: ignore[no-untyped-def]
    """A change (an audit row stands for any record) and its event, in one transaction."""
    with sanmin.session() as session:
        session.add(
            AuditEntry(actor="test", action="thing.changed", target_type="thing", target_id=target)
        )
        emit(
            session,
            "thing.changed",
            unit_code,
            subject=f"thing:{target}",
            actor_id=7,
            payload={"target": target},
        )


def outbox(sanmin) -> list[OutboxEvent]:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        return list(session.exec(select(OutboxEvent).order_by(OutboxEvent.id)))


def deliveries(sanmin) -> dict[str, EventDelivery]:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        return {d.plugin: d for d in session.exec(select(EventDelivery))}


def test_an_event_rolled_back_with_its_change_is_never_delivered(sanmin) -> None:
    township = sanmin.township()
    with Session(sanmin.engine) as session:
        session.add(AuditEntry(actor="t", action="x.y", target_type="x", target_id="1"))
        emit(session, "thing.changed", township.code)
        session.flush()
        session.rollback()
    assert outbox(sanmin) == []
    assert Worker(sanmin.kernel, clock=Clock()).run_once().events == 0
    assert plugin(sanmin, "steady").seen == []


def test_hook_on_event(sanmin) -> None:
    township = sanmin.township()
    village = sanmin.unit(township.code[:9] + "001")
    change_and_emit(sanmin, village.code)
    steady, later = plugin(sanmin, "steady"), plugin(sanmin, "later")
    assert steady.seen == []  # nothing runs before a runner's pass

    clock = Clock()
    assert Worker(sanmin.kernel, clock=clock).run_once().events == 1
    [event] = steady.seen
    [row] = outbox(sanmin)
    assert event == Event(
        id=row.id,
        name="thing.changed",
        unit_code=village.code,
        township_code=township.code,
        occurred_at=row.occurred_at,
        subject="thing:1",
        actor_id=7,
        payload={"target": "1"},
    )
    assert later.seen == [event]  # an async reaction is awaited
    assert row.done_at is None  # flaky failed: the event stays due for it alone
    clock.now += timedelta(days=1)
    Worker(sanmin.kernel, clock=clock).run_once()
    Worker(sanmin.kernel, clock=clock).run_once()
    assert steady.seen == [event] and later.seen == [event]  # once per (event, plugin)


def test_a_failing_reaction_is_retried_until_it_succeeds_and_the_change_stays(
    sanmin, caplog: pytest.LogCaptureFixture
) -> None:
    township = sanmin.township()
    change_and_emit(sanmin, township.code, target="42")
    flaky, steady = plugin(sanmin, "flaky"), plugin(sanmin, "steady")
    clock = Clock()
    worker = Worker(sanmin.kernel, clock=clock)

    with caplog.at_level(logging.ERROR, logger="sanmin.events"):
        worker.run_once()
    [row] = outbox(sanmin)
    failure = next(r for r in caplog.records if "Reaction failed" in r.getMessage())
    assert "plugin=flaky hook=on_event" in failure.getMessage()
    assert f"event={row.id}" in failure.getMessage()
    first = deliveries(sanmin)
    assert first["flaky"].attempts == 1 and first["flaky"].done_at is None
    assert first["flaky"].last_error == "RuntimeError: reaction broke on thing.changed"
    assert first["flaky"].next_attempt_at == clock.now + timedelta(seconds=10)
    assert first["steady"].done_at == clock.now and first["steady"].attempts == 1
    assert row.done_at is None and row.next_attempt_at == clock.now + timedelta(seconds=10)
    assert row.claimed_by is None  # the lease is given back after the pass

    clock.now += timedelta(seconds=9)  # not yet due: no call
    assert worker.run_once().events == 0 and len(flaky.seen) == 1
    clock.now += timedelta(seconds=1)
    worker.run_once()  # second failure: 20 s more
    assert deliveries(sanmin)["flaky"].next_attempt_at == clock.now + timedelta(seconds=20)
    clock.now += timedelta(seconds=20)
    worker.run_once()  # succeeds

    assert [e.id for e in flaky.seen] == [row.id] * 3
    assert len(steady.seen) == 1  # a plugin that succeeded is not called again
    final = deliveries(sanmin)["flaky"]
    assert final.attempts == 3 and final.done_at == clock.now
    assert outbox(sanmin)[0].done_at == clock.now
    with sanmin.session() as session:  # the change was never undone
        changes = session.exec(select(AuditEntry).where(AuditEntry.target_id == "42")).all()
    assert [c.action for c in changes] == ["thing.changed"]


def test_only_plugins_enabled_in_the_events_township_react(sanmin) -> None:
    on, off = sanmin.township(), sanmin.township()
    sanmin.enable("optin", on)
    sanmin.disable("steady", off)
    change_and_emit(sanmin, on.code)
    change_and_emit(sanmin, off.code)
    Worker(sanmin.kernel, clock=Clock()).run_once()
    assert [e.township_code for e in plugin(sanmin, "optin").seen] == [on.code]
    assert [e.township_code for e in plugin(sanmin, "steady").seen] == [on.code]
    off_event = outbox(sanmin)[1]
    with sanmin.session() as session:
        delivered = session.exec(
            select(EventDelivery.plugin).where(EventDelivery.event_id == off_event.id)
        ).all()
    assert "steady" not in delivered and "optin" not in delivered


def test_the_reaction_sees_the_plugin_state_at_delivery_time(sanmin) -> None:
    township = sanmin.township()
    change_and_emit(sanmin, township.code)
    sanmin.disable("steady", township)  # switched off after the event, before delivery
    Worker(sanmin.kernel, clock=Clock()).run_once()
    assert plugin(sanmin, "steady").seen == []


def test_a_worker_whose_lease_ran_out_delivers_nothing_more(sanmin) -> None:
    """A reaction outlasts the lease; another worker takes the events over and delivers
    them. The first worker, when the reaction returns, must not call the other plugins of
    that event, nor deliver the rest of its batch."""
    township = sanmin.township()
    sanmin.enable("stalling", township)
    change_and_emit(sanmin, township.code, target="1")
    change_and_emit(sanmin, township.code, target="2")
    clock = Clock()
    other = Worker(sanmin.kernel, clock=clock)

    def lease_runs_out() -> None:
        clock.now += LEASE + timedelta(seconds=1)
        other.run_once()

    stalling = plugin(sanmin, "stalling")
    stalling.during = lease_runs_out
    Worker(sanmin.kernel, clock=clock).run_once()
    first, second = (row.id for row in outbox(sanmin))
    for name in ("steady", "later"):
        assert Counter(e.id for e in plugin(sanmin, name).seen) == {first: 1, second: 1}, name
    # The reaction that outlasted the lease is the one called twice (at least once).
    assert Counter(e.id for e in stalling.seen) == {first: 2, second: 1}


def test_a_reaction_longer_than_the_lease_keeps_its_event(
    sanmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a slow reaction runs, its worker renews the lease: another worker does not
    take the event over and call the reactions a second time."""
    township = sanmin.township()
    sanmin.enable("stalling", township)
    change_and_emit(sanmin, township.code)
    wait_for_renewal = fast_heartbeats(monkeypatch)
    clock = Clock()
    other = Worker(sanmin.kernel, clock=clock)

    meanwhile: list[tuple[bool, int]] = []

    def outlast_the_lease() -> None:
        clock.now += LEASE + timedelta(seconds=1)
        meanwhile.append((wait_for_renewal(clock.now), other.run_once().events))

    stalling = plugin(sanmin, "stalling")
    stalling.during = outlast_the_lease
    Worker(sanmin.kernel, clock=clock).run_once()
    assert meanwhile == [(True, 0)]  # renewed; the other worker delivered nothing
    [row] = outbox(sanmin)
    for name in ("stalling", "steady", "later"):
        assert [e.id for e in plugin(sanmin, name).seen] == [row.id], name


def test_an_event_still_failing_after_the_retention_is_purged_with_its_errors(
    sanmin, caplog: pytest.LogCaptureFixture
) -> None:
    """A poison event is retried, but its payload (personal data, often) and its errors
    do not outlive ``worker_retention_days``: the purge job drops it, with a warning."""
    township = sanmin.township()
    plugin(sanmin, "flaky").fail = 10**6  # fails every time
    with sanmin.session() as session:
        emit(session, "thing.changed", township.code, payload={"phone": "13800000000"})
    clock = Clock()
    worker = Worker(sanmin.kernel, clock=clock)
    worker.run_once()
    assert deliveries(sanmin)["flaky"].last_error is not None
    clock.now += timedelta(days=sanmin.kernel.settings.worker_retention_days - 1)
    worker.run_once()
    assert len(outbox(sanmin)) == 1  # still within the retention: kept, and retried
    clock.now += timedelta(days=2)
    with caplog.at_level(logging.WARNING, logger="sanmin.events"):
        worker.run_once()
    assert outbox(sanmin) == [] and deliveries(sanmin) == {}
    [warning] = [r.getMessage() for r in caplog.records if "undelivered" in r.getMessage()]
    assert "1 undelivered" in warning and "flaky" in warning


def test_emit_refuses_bad_input_and_adds_nothing(sanmin) -> None:
    township = sanmin.township()
    with Session(sanmin.engine) as session:
        with pytest.raises(ValueError, match="event name"):
            emit(session, "Bad Name", township.code)
        with pytest.raises(UnitCodeError):
            emit(session, "thing.changed", "12345")
        with pytest.raises(ValueError, match="JSON"):
            emit(session, "thing.changed", township.code, payload={"when": object()})
        with pytest.raises(ValueError, match="JSON"):  # PostgreSQL refuses NaN in JSON
            emit(session, "thing.changed", township.code, payload={"ratio": float("nan")})
        for subject in ("x" * 201, "thing:\x00"):  # too long, or NUL: the database refuses
            with pytest.raises(ValueError, match="subject"):
                emit(session, "thing.changed", township.code, subject=subject)
        with pytest.raises(ValueError, match="actor_id"):
            emit(session, "thing.changed", township.code, actor_id=2**31)
        session.commit()  # the transaction is intact: nothing reached the database
    assert outbox(sanmin) == []


def test_the_township_of_an_event() -> None:
    assert township_of("330802001001") == "330802001000"
    assert township_of("330802001001002") == "330802001000"
    assert township_of("330802000000") == "330802000000"  # a county decides for itself


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert retry_delay(50) == RETRY_CAP


@pytest.fixture
def in_process_settings(sanmin_settings: Settings) -> Settings:
    return sanmin_settings.model_copy(update={"run_worker_in_process": True})


def test_the_in_process_runner_delivers_after_commit(sanmin, in_process_settings) -> None:
    """The demo's shape: the server's own runner delivers, woken by the commit."""
    from fastapi.testclient import TestClient

    township = sanmin.township()
    app = create_app(in_process_settings, registry=sanmin.kernel.registry)
    try:
        with TestClient(app):
            steady = plugin(sanmin, "steady")
            change_and_emit(sanmin, township.code)
            assert steady.delivered.wait(HANG_GUARD_SECONDS), "the reaction never ran"
        assert [e.township_code for e in steady.seen] == [township.code]
    finally:
        app.state.kernel.dispose()


def test_the_server_stopping_lets_the_running_reaction_finish_and_releases_the_rest(
    sanmin, in_process_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutdown asks the in-process runner to stop, then waits for it: the reaction running
    then finishes and is recorded, and the events it had claimed but not reached are given
    back at once (not left leased for minutes), all before the lifespan ends."""
    from fastapi.testclient import TestClient

    township = sanmin.township()
    sanmin.enable("stalling", township)
    stop_asked = threading.Event()
    stop = Worker.stop

    def stopping(worker: Worker) -> None:
        stop(worker)
        stop_asked.set()

    monkeypatch.setattr(Worker, "stop", stopping)
    stalling = plugin(sanmin, "stalling")
    entered = threading.Event()

    def until_the_server_stops() -> None:
        entered.set()
        stop_asked.wait(HANG_GUARD_SECONDS)

    stalling.during = until_the_server_stops
    app = create_app(in_process_settings, registry=sanmin.kernel.registry)
    try:
        with TestClient(app):
            with sanmin.session() as session:  # three events in one commit: one batch
                for target in ("1", "2", "3"):
                    emit(session, "thing.changed", township.code, subject=f"thing:{target}")
            assert entered.wait(HANG_GUARD_SECONDS), "the reaction never ran"
        first, *rest = outbox(sanmin)
        assert stop_asked.is_set()
        assert (first.claimed_by, deliveries(sanmin)["stalling"].event_id) == (None, first.id)
        assert [(e.claimed_by, e.done_at) for e in rest] == [(None, None), (None, None)]
    finally:
        app.state.kernel.dispose()
