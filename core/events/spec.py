"""What an event is, as plugins see it in ``on_event``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change, delivered to the reactions of plugins enabled in its township.

    ``name`` is dotted: core events are ``form.submitted`` and ``workflow.transitioned``
    (later ``ticket.*``, ``household.*``); a plugin's own events start with its name
    (``knock_door.visit_recorded``). ``subject`` names the record, e.g. ``form_record:12``.
    ``id`` is unique and stable across retries: reactions use it to stay idempotent.
    """

    id: int
    name: str
    unit_code: str
    township_code: str
    occurred_at: datetime
    subject: str | None = None
    actor_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
