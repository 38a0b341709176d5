"""Writing events: :func:`emit` adds a row to the outbox in the caller's transaction."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.db.types import utcnow
from core.events import wakeup
from core.events.models import OutboxEvent
from core.units.codes import Level, parse_code

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_PENDING = "sanmin.events.pending"
SUBJECT_MAX = 200  # the column's length
# Built once: building a statement per call costs more than running it (docs/benchmarks.md).
INSERT_EVENT = insert(OutboxEvent.__table__)  # type: ignore[attr-defined]


def township_of(unit_code: str) -> str:
    """The code of the township an event at ``unit_code`` belongs to (a county or city code
    stays itself: its own settings decide which plugins react).

    :raises UnitCodeError: the code is malformed.
    """
    parsed = parse_code(unit_code)
    return parsed.ancestor_at(Level.township) or parsed.code


def emit(
    db: Session | Connection,
    name: str,
    unit_code: str,
    *,
    subject: str | None = None,
    actor_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Add an event to the outbox in ``db``'s open transaction (a Session's or a
    Connection's): the row is inserted at once with a prebuilt Core statement.

    Nothing is delivered unless that transaction commits; after it does, the reactions
    (``on_event``) of the plugins enabled in the event's township are called by the
    in-process runner or ``sanmin worker``. A Session's commit wakes this process's runner;
    on a Connection the caller owns the commit, so it calls :func:`core.events.wakeup.notify`
    after committing (otherwise the runner finds the event at its next pass).

    :param name: dotted, lower case: ``form.submitted``, ``myplugin.visit_recorded``.
    :param unit_code: the unit the change is about; its township decides who reacts.
    :param subject: the record, e.g. ``form_record:12``.
    :param payload: JSON-serialisable details.
    :raises ValueError: a bad name, unit code, subject, actor id or payload (nothing is
        added, and the caller's transaction is intact).
    """
    if not EVENT_NAME.match(name) or len(name) > 100:
        raise ValueError(
            f"event name {name!r} must be dotted lower-case words, e.g. form.submitted"
        )
    township = township_of(unit_code)
    body = dict(payload or {})
    try:
        json.dumps(body, allow_nan=False)  # PostgreSQL refuses NaN and Infinity in JSON
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event {name} payload is not JSON-serialisable: {exc}") from exc
    if subject is not None and (len(subject) > SUBJECT_MAX or "\x00" in subject):
        raise ValueError(f"event {name} subject must be at most {SUBJECT_MAX} characters, no NUL")
    if actor_id is not None and not 0 < actor_id < 2**31:
        raise ValueError(f"event {name} actor_id {actor_id} is not an account id")
    now = utcnow()
    values = {
        "name": name,
        "unit_code": parse_code(unit_code).code,
        "township_code": township,
        "subject": subject,
        "actor_id": actor_id,
        "payload": body,
        "occurred_at": now,
        "next_attempt_at": now,
    }
    if isinstance(db, Session):
        db.connection().execute(INSERT_EVENT, values)
        db.info[_PENDING] = True
    else:
        db.execute(INSERT_EVENT, values)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        wakeup.notify()


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
