"""Turning a call or an on-site matter into a core ticket (转办), and the ticket types on offer.

The ticket enters the closed loop of 为民办事 (受理 → 派单 → 办结 → 回访 → 评价) through the
core's ``create_ticket``: on the caller's behalf, with the hotline channel for a call the
duty leader transfers and the 民情直通车 channel for a matter the crew refers on site. The
idempotency key is the call's or the record's, so a retried request makes one ticket.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from core import Actor, Kernel, TicketIn, TicketType, create_ticket, ticket_types_at

from .errors import fields_under
from .models import Call
from .schemas import TicketSpec

HOTLINE = "hotline"  # 民情热线: transferred by the duty leader
ON_SITE = "mobile_office"  # 民情直通车: referred by the crew on site
TITLE_LIMIT = 100
DESCRIPTION_LIMIT = 2000


def offered_types(kernel: Kernel, unit_code: str) -> list[TicketType]:
    """The ticket types a matter at ``unit_code`` may become: the core's and those of the
    plugins on there, not another practice's own intake types (staff-only)."""
    return ticket_types_at(kernel, unit_code)


def find_type(kernel: Kernel, unit_code: str, code: str | None) -> TicketType | None:
    """The offered type ``code``, or ``None``."""
    return next((t for t in offered_types(kernel, unit_code) if t.code == code), None)


def default_title_of(category: str, question: str) -> str:
    """A ticket title from a call's category and the start of what was asked."""
    return f"{category}：{question}"[:TITLE_LIMIT]


def default_title(call: Call | None, fallback: str) -> str:
    """The title of a call's ticket, or of a matter found on site (its description)."""
    if call is None:
        return fallback[:TITLE_LIMIT]
    return default_title_of(call.category, call.question)


def open_ticket(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    spec: TicketSpec,
    *,
    unit_code: str,
    description: str,
    channel: str,
    call: Call | None,
    address: str | None,
    key: str,
    now: datetime,
) -> Any:
    """Create the ticket through the core service; **commits** the session (with whatever
    the caller has written in it). A refusal names ``ticket.<field>``."""
    priority = spec.priority or (call.urgency if call is not None else "normal")
    body = TicketIn(
        type=spec.type,
        unit_code=unit_code,
        title=spec.title or default_title(call, description),
        description=description[:DESCRIPTION_LIMIT],
        priority=priority,
        nature=spec.nature,
        channel=channel,
        address=address,
        # the caller reports, through staff (代报); a matter found on site is the crew's own
        reporter_name=call.caller_name if call is not None else None,
        reporter_phone=call.caller_phone if call is not None else None,
        on_behalf=call is not None,
        extra=spec.extra,
    )
    with fields_under("ticket"):
        ticket, _ = create_ticket(session, kernel, actor, body, idempotency_key=key, now=now)
    return ticket
