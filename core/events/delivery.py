"""Delivering committed events to the reactions (``on_event``) of the plugins enabled in
each event's township, one plugin at a time, with retries.

A runner claims a batch of due events (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, then a
lease written with a conditional UPDATE, which also keeps several runners apart on SQLite),
calls each plugin whose delivery is not done and records the outcome per (event, plugin)
as soon as it is known, so a plugin that succeeded is never called again for that event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from pluggy import HookImpl
from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.engine import Engine, Row

from core.events.models import EventDelivery, OutboxEvent
from core.events.spec import Event
from core.jobs.support import LEASE, describe, insert, lease_kept, renew, resolve, retry_delay
from core.plugins.calling import call_impl
from core.plugins.scoping import TownshipHooks
from core.units.codes import UnitCodeError
from core.units.service import UnitNotFound

if TYPE_CHECKING:
    from core.kernel import Kernel

log = logging.getLogger("sanmin.events")

BATCH = 50
events = cast(Table, OutboxEvent.__table__)
deliveries = cast(Table, EventDelivery.__table__)


def deliver_due(
    kernel: Kernel,
    *,
    worker: str,
    clock: Callable[[], datetime],
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Deliver every event due now; return how many events were handled.

    An event whose reactions all succeed is marked done; one with a failed reaction comes
    due again at that reaction's next attempt (exponential backoff, capped).
    """
    handled = 0
    while not stopping():
        claimed = claim(kernel.engine, worker, clock())
        for index, event_id in enumerate(claimed):
            if stopping():
                release(kernel.engine, worker, claimed[index:])
                return handled
            handled += deliver(kernel, event_id, worker=worker, clock=clock)
        if len(claimed) < BATCH:
            break
    return handled


def claim(engine: Engine, worker: str, now: datetime) -> list[int]:
    """Take a lease on up to :data:`BATCH` due events nobody holds; return their ids."""
    free = or_(events.c.claimed_until.is_(None), events.c.claimed_until < now)
    due = and_(events.c.done_at.is_(None), events.c.next_attempt_at <= now, free)
    with engine.begin() as conn:
        candidates = list(
            conn.execute(
                select(events.c.id)
                .where(due)
                .order_by(events.c.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not candidates:
            return []
        taken = conn.execute(
            update(events)
            .where(events.c.id.in_(candidates), due)  # SQLite has no row locks: check again
            .values(claimed_by=worker, claimed_until=now + LEASE)
            .returning(events.c.id)
        ).scalars()
        return sorted(taken)


def release(engine: Engine, worker: str, event_ids: list[int]) -> None:
    """Give back claimed events without delivering them (the runner is stopping)."""
    if not event_ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.id.in_(event_ids), events.c.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
        )


def deliver(kernel: Kernel, event_id: int, *, worker: str, clock: Callable[[], datetime]) -> bool:
    """Call the reactions of one claimed event that are due, then settle the event; return
    whether this worker delivered it.

    The lease is renewed while the reactions run (a slow one keeps it) and with each
    outcome recorded: if it ran out all the same (the worker stalled) and another worker
    took the event over, this one stops, calling no further reaction of the event.
    """
    with kernel.engine.begin() as conn:
        if not renew(conn, events, event_id, worker, clock()):
            return False
        row = conn.execute(select(events).where(events.c.id == event_id)).one()
        previous = {
            d.plugin: d
            for d in conn.execute(select(deliveries).where(deliveries.c.event_id == event_id))
        }
    event = to_event(row)
    waiting: list[datetime] = []
    with lease_kept(kernel.engine, events, event_id, worker, clock):
        for impl in reversed(_hooks(kernel, row).on_event.get_hookimpls()):
            before = previous.get(impl.plugin_name)
            if before is not None and before.done_at is not None:
                continue
            due_at = before.next_attempt_at if before is not None else None
            if due_at is not None and due_at > clock():
                waiting.append(due_at)
                continue
            attempts = (before.attempts if before is not None else 0) + 1
            error, retry_at = _react(kernel, impl, event, attempts, clock)
            if retry_at is not None:
                waiting.append(retry_at)
            outcome = (impl.plugin_name, attempts, clock(), error, retry_at)
            if not _record(kernel.engine, event_id, worker, *outcome):
                log.warning("Event %s: its lease ran out and another worker has it", event_id)
                return True
    _settle(kernel.engine, event_id, worker, clock(), min(waiting, default=None))
    return True


def _react(
    kernel: Kernel, impl: HookImpl, event: Event, attempts: int, clock: Callable[[], datetime]
) -> tuple[Exception | None, datetime | None]:
    """Call one plugin's reaction; on failure, the error and when to try again."""
    try:
        resolve(call_impl(impl, {"event": event, "kernel": kernel}))
    except Exception as exc:
        retry_at = clock() + retry_delay(attempts)
        log.exception(
            "Reaction failed: plugin=%s hook=on_event event=%s name=%s attempt=%d; retrying at %s",
            impl.plugin_name,
            event.id,
            event.name,
            attempts,
            retry_at.isoformat(),
        )
        return exc, retry_at
    return None, None


def to_event(row: Row[Any]) -> Event:
    """The :class:`Event` plugins see, from an outbox row."""
    return Event(
        id=row.id,
        name=row.name,
        unit_code=row.unit_code,
        township_code=row.township_code,
        occurred_at=row.occurred_at,
        subject=row.subject,
        actor_id=row.actor_id,
        payload=dict(row.payload or {}),
    )


def _hooks(kernel: Kernel, row: Row[Any]) -> TownshipHooks:
    """The township's hooks at delivery time; only core plugins when it is no longer known."""
    try:
        return kernel.scope(row.township_code).hooks
    except (UnitNotFound, UnitCodeError):
        log.warning(
            "Event %s: township %s is not loaded; only core plugins react",
            row.id,
            row.township_code,
        )
        return kernel.hooks_for(None)


def _record(
    engine: Engine,
    event_id: int,
    worker: str,
    plugin: str,
    attempts: int,
    now: datetime,
    error: Exception | None,
    retry_at: datetime | None,
) -> bool:
    """Record one plugin's outcome and renew the lease, in one transaction; ``False`` (and
    nothing recorded) when the lease is lost."""
    values = {
        "attempts": attempts,
        "done_at": now if error is None else None,
        "next_attempt_at": retry_at,
        "last_error": describe(error) if error is not None else None,
        "updated_at": now,
    }
    with engine.begin() as conn:
        if not renew(conn, events, event_id, worker, now):
            return False
        statement = insert(conn, deliveries).values(event_id=event_id, plugin=plugin, **values)
        conn.execute(
            statement.on_conflict_do_update(index_elements=["event_id", "plugin"], set_=values)
        )
    return True


def _settle(
    engine: Engine, event_id: int, worker: str, now: datetime, retry_at: datetime | None
) -> None:
    """Done when no enabled plugin is left to call; otherwise due again at ``retry_at``."""
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
    if retry_at is None:
        values["done_at"] = now
    else:
        values["next_attempt_at"] = retry_at
    with engine.begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.id == event_id, events.c.claimed_by == worker)
            .values(**values)
        )
