"""What 民情茶馆 does after a committed change (``on_event``): it keeps the state of each
transferred issue's ticket, so that the report-back list and the metrics read its own table.

Only ``ticket.transitioned`` matters; a retried or late event changes nothing (the ticket's
version only moves forward).
"""

from __future__ import annotations

from sqlmodel import Session

from core import Event, Kernel

from .issues import TicketMove, mirror_ticket


def follow_ticket(event: Event, kernel: Kernel) -> None:
    """Mirror a transferred issue's ticket state from ``ticket.transitioned``."""
    if event.name != "ticket.transitioned":
        return
    payload = event.payload
    move = TicketMove(
        ticket_id=int(payload["ticket_id"]),
        state=str(payload["to_state"]),
        version=int(payload["version"]),
        at=event.occurred_at,
    )
    with Session(kernel.engine) as session:
        if mirror_ticket(session, move):
            session.commit()
