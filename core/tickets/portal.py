"""The residents' part of the home page (``/``): the request types offered where the resident
lives, one tap each to their form, and the resident's latest requests with their state."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from core.identity.access import Actor
from core.kernel import Kernel
from core.tickets import lifecycle, service, views
from core.tickets.models import Ticket

LATEST = 3  # the resident's newest requests shown on the home page


def resident_portal(kernel: Kernel, actor: Actor) -> dict[str, Any] | None:
    """The types grid and the latest requests for an actor who may submit requests (``None``
    for one who may not)."""
    held = [r for r in actor.roles if kernel.access.grants(r.role, lifecycle.CREATE)]
    if not held or actor.kind != "account":
        return None
    code = held[0].unit_code
    latest = (
        select(Ticket)
        .where(col(Ticket.reporter_account_id) == actor.id)
        .order_by(col(Ticket.submitted_at).desc(), col(Ticket.id).desc())
        .limit(LATEST)
    )
    now = kernel.workflows.clock()
    with Session(kernel.engine) as session:
        mine = [views.summary(kernel, ticket, now) for ticket in session.exec(latest)]
    return {"types": service.types_at(kernel, code, actor), "submit_unit": code, "mine": mine}
