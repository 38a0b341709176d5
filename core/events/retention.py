"""Deleting old events: the outbox is a queue, not an archive (what happened is in the
records and the audit log). Its payloads often hold personal data, so the retention applies
to every event, delivered or not: one whose reactions still fail after
``worker_retention_days`` is dropped too, with a warning naming the plugins."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select

from core.events.delivery import deliveries, events
from core.jobs.spec import JobContext

log = logging.getLogger("sanmin.events")


def purge_delivered(context: JobContext) -> None:
    """Delete events delivered more than ``worker_retention_days`` before this period, and
    undelivered events that occurred before then (with their failed deliveries)."""
    days = context.kernel.settings.worker_retention_days
    cutoff = context.period_start - timedelta(days=days)
    undelivered = and_(events.c.done_at.is_(None), events.c.occurred_at < cutoff)
    old = or_(events.c.done_at < cutoff, undelivered)
    with context.kernel.engine.begin() as conn:
        dropped = conn.execute(select(func.count()).where(undelivered)).scalar_one()
        if dropped:
            failing = conn.execute(
                select(deliveries.c.plugin)
                .where(
                    deliveries.c.done_at.is_(None),
                    deliveries.c.event_id.in_(select(events.c.id).where(undelivered)),
                )
                .distinct()
                .order_by(deliveries.c.plugin)
            ).scalars()
            log.warning(
                "Dropping %d undelivered events older than %d days (reactions still failing: %s)",
                dropped,
                days,
                ", ".join(failing) or "-",
            )
        conn.execute(
            delete(deliveries).where(deliveries.c.event_id.in_(select(events.c.id).where(old)))
        )
        conn.execute(delete(events).where(old))
