"""Needs found on visits become tickets (为民办事), and their tickets' progress comes back.

A need marked 转为工单, and every 异常 safety observation (at once, and urgent: it must reach
the grid worker the same day), is turned into a ticket of the plugin's type ``knock_door_need``
at the person's grid, on the channel 敲门走访, pre-filled from the record. The plugin files
it as a system actor holding the 敲门嫂 role at that grid, so the same step works right after
the record is saved and, should that fail, when the ``knock_door.visit_recorded`` event is
delivered again: the ticket service's idempotency key (one per need) makes a retry file the
same ticket. ``ticket.transitioned`` events then keep each need's state, and when it was
solved, for the 办结 metric.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from core import (
    Actor,
    Deadline,
    Event,
    Kernel,
    TicketClocks,
    TicketIn,
    TicketType,
    create_ticket,
    role_at,
)

from .access import VOLUNTEER_ROLE
from .models import Need

log = logging.getLogger("sanmin.knock_door")

TICKET_TYPE = "knock_door_need"
SAFETY = "安全隐患"
RECORDED_EVENT = "knock_door.visit_recorded"
SOLVED_STATES = frozenset({"resolved", "visited", "rated", "archived"})


class NeedFields(BaseModel):
    """What a 敲门问需 ticket carries besides the core's fields."""

    need_kind: Literal[
        "生活照料", "就医陪同", "代购代办", "维修", "政策咨询", "心理慰藉", "安全隐患", "其他"
    ] = Field(title="需求类型")
    visit_id: int | None = Field(None, title="走访记录编号", ge=1, le=2**31 - 1)


NEED_TICKET = TicketType(
    code=TICKET_TYPE,
    label="敲门问需",
    description="敲门嫂入户走访发现的需求：生活照料、就医陪同、代购代办、维修、安全隐患等",
    normal=TicketClocks(respond=Deadline(working_days=1), handle=Deadline(working_days=5)),
    urgent=TicketClocks(respond=Deadline(hours=2), handle=Deadline(hours=24)),
    fields=NeedFields,
    icon="🚪",
    group="敲门嫂",
    keywords=("knock_door", "敲门嫂", "走访"),
    staff_only=True,  # filed from a visit record, never chosen by a resident
)


def filer(unit_code: str) -> Actor:
    """The system actor that files a visit's tickets at ``unit_code``."""
    return Actor(
        "system", 0, "knock_door", (role_at(VOLUNTEER_ROLE, unit_code),), display_name="敲门嫂"
    )


def _ticket_body(need: Need) -> TicketIn:
    return TicketIn(
        type=TICKET_TYPE,
        unit_code=need.unit_code,
        title=need.title,
        description=need.description,
        priority="urgent" if need.urgent else "normal",
        nature="help",
        channel="door_knock",
        household_id=need.household_id,
        address=need.address,
        reporter_name=need.reporter_name,
        extra={"need_kind": need.kind, "visit_id": need.visit_id},
    )


def transfer_needs(kernel: Kernel, visit_id: int) -> list[int]:
    """File a ticket for each need of the visit that is to be transferred and has none yet;
    return the visit's ticket ids. Safe to run again (the same tickets come back)."""
    with Session(kernel.engine, expire_on_commit=False) as session:
        needs = session.exec(
            select(Need).where(col(Need.visit_id) == visit_id).order_by(col(Need.id))
        ).all()
        for need in needs:
            if not need.transfer or need.ticket_id is not None:
                continue
            ticket, _ = create_ticket(
                session,
                kernel,
                filer(need.unit_code),
                _ticket_body(need),
                idempotency_key=f"knock_door:need:{need.id}",
            )
            session.execute(
                update(Need)
                .where(col(Need.id) == need.id, col(Need.ticket_id).is_(None))
                .values(
                    ticket_id=ticket.id,
                    transferred_at=ticket.submitted_at,
                    ticket_state=ticket.state,
                    ticket_version=ticket.version,
                )
            )
            session.commit()
            need.ticket_id = ticket.id
        return [n.ticket_id for n in needs if n.ticket_id is not None]


def transfer_now(kernel: Kernel, visit_id: int) -> None:
    """Transfer right after the record is saved; a failure is logged and left to the
    ``knock_door.visit_recorded`` reaction, which retries until it succeeds."""
    try:
        transfer_needs(kernel, visit_id)
    except Exception:
        log.exception("knock_door: visit %s: tickets not filed yet; the reaction retries", visit_id)


def follow_ticket(kernel: Kernel, event: Event) -> None:
    """Keep a need's ticket state from a ``ticket.transitioned`` event; a late or repeated
    event (an older ticket version) changes nothing."""
    ticket_id, version = event.payload.get("ticket_id"), event.payload.get("version")
    state = event.payload.get("to_state")
    if event.payload.get("type") != TICKET_TYPE or not isinstance(version, int):
        return
    solved = state in SOLVED_STATES
    solved_at: datetime | None = event.occurred_at if solved else None
    with Session(kernel.engine) as session:
        need = session.exec(select(Need).where(col(Need.ticket_id) == ticket_id)).first()
        if need is None or need.ticket_version >= version:
            return
        need.ticket_state, need.ticket_version = state, version
        if not solved:
            need.solved_at = None
        elif need.solved_at is None:
            need.solved_at = solved_at
        session.commit()
