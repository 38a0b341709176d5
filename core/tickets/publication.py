"""公示: resolved tickets on a public board, without personal data (domain.md §4.2–4.4).

* ``POST /api/v1/tickets/{id}/publication`` (``{version?, summary}``): staff holding
  ``ticket.dispatch`` at the ticket's unit publish it, or replace its summary, once it is
  resolved (已办结, 已回访, 已评价, 已归档; 409 before). The summary is written for the public
  (脱敏摘要): 1–500 characters holding neither the reporter's name or phone, nor any mobile
  number (11 digits starting with 1) or 18-character ID number (422 naming ``summary``). A
  confidential complaint may be published, with such a summary; the board never shows a
  reporter. 法律纠纷 are never published one by one (422 naming ``ticket_id``): counts
  only. A published ticket reopened (重办) leaves the board until it is resolved again.
* ``DELETE …/publication`` withdraws it (撤回公示). Both are audited and evented.
* ``GET /api/v1/tickets/public?unit=`` is public (no login): the published tickets reported
  under a unit, each with its type, unit, state, dates, summary and rating level — nothing
  the reporter wrote, nothing about the reporter.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session, col, select

from core.audit.service import record
from core.events.outbox import emit
from core.identity.access import Actor
from core.identity.models import Account
from core.kernel import Kernel
from core.tickets import lifecycle, service, views
from core.tickets.api import MAX_PAGE, Signed, Version, invalid
from core.tickets.models import SATISFACTION_LABELS, Ticket
from core.tickets.types import NEVER_PUBLISHED
from core.units.codes import UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit
from core.web.inputs import Offset, RowId, no_nul
from core.web.render import render

router = APIRouter(prefix="/tickets", tags=["tickets"])  # mounted under /api/v1

PUBLISHABLE = ("resolved", "visited", "rated", "archived")
BOARD_PAGE = 30  # tickets a page of the public board
MOBILE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


class PublicationBody(BaseModel):
    version: Version | None = Field(None, description="所见版本（可选）/ the version you saw")
    summary: Annotated[str, AfterValidator(no_nul)] = Field(
        min_length=1, max_length=500, description="脱敏摘要 / de-identified summary"
    )


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def personal_data_in(session: Session, ticket: Ticket, text: str) -> str | None:
    """What in ``text`` identifies a person, or ``None``: the reporter's name (as given or
    as the account's display name), the reporter's phone, a mobile number, an ID number."""
    compact = re.sub(r"[\s\-]", "", text)
    names = [ticket.reporter_name or ""]
    if ticket.reporter_account_id is not None:
        account = session.get(Account, ticket.reporter_account_id)
        names.append(account.display_name if account else "")
    if any(len(name.strip()) >= 2 and name.strip() in text for name in names):
        return "含有提交人姓名 / holds the reporter's name"
    phone = (ticket.reporter_phone or "").strip()
    if phone and phone in compact:
        return "含有提交人电话 / holds the reporter's phone"
    if MOBILE.search(compact):
        return "含有手机号码 / holds a mobile number"
    if ID_NUMBER.search(compact):
        return "含有身份证号码 / holds an ID number"
    return None


def _publishable(session: Session, kernel: Kernel, actor: Actor, ticket_id: int) -> Ticket:
    """The ticket, if ``actor`` may decide its publication: 404 out of scope, 403 without
    ``ticket.dispatch`` at its unit."""
    ticket = service.get_ticket(session, kernel, actor, ticket_id)
    if not kernel.allowed(actor, lifecycle.DISPATCH, ticket.unit_code):
        raise HTTPException(403, "公示须由具有派单权限的工作人员决定 / ticket.dispatch required")
    return ticket


def publication_view(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "public": ticket.public,
        "summary": ticket.public_summary,
        "published_at": ticket.published_at,
    }


def _announce(session: Session, actor: Actor, ticket: Ticket, action: str, **facts: Any) -> None:
    record(
        session,
        actor=actor.label,
        action=f"ticket.{action}",
        target_type="ticket",
        target_id=str(ticket.id),
        unit_code=ticket.unit_code,
        **facts,
    )
    emit(
        session,
        f"ticket.{action}",
        ticket.unit_code,
        subject=f"ticket:{ticket.id}",
        actor_id=actor.id if actor.kind == "account" else None,
        payload={"ticket_id": ticket.id, "unit_code": ticket.unit_code},
    )


@router.post("/{ticket_id}/publication", summary="公示（脱敏摘要）/ publish a resolved ticket")
def publish(
    ticket_id: RowId, body: PublicationBody, request: Request, actor: Signed
) -> dict[str, Any]:
    """Publish the ticket on the public board with ``summary``, or replace its summary."""
    kernel = _kernel(request)
    text = body.summary.strip()
    if not text:
        raise invalid(("body", "summary"), "为必填项 / is required")
    with Session(kernel.engine, expire_on_commit=False) as session:
        ticket = _publishable(session, kernel, actor, ticket_id)
        if body.version is not None and body.version != ticket.version:
            raise HTTPException(
                409, f"version: 工单已更新（现为第 {ticket.version} 版）/ the ticket has changed"
            )
        if ticket.type in NEVER_PUBLISHED:
            raise invalid(
                ("path", "ticket_id"),
                f"「{views.type_label(kernel, ticket.type)}」不单独公示，只公示数量 / "
                "never published one by one",
            )
        if ticket.state not in PUBLISHABLE:
            raise HTTPException(
                409, "state: 工单办结后才能公示 / only a resolved ticket can be published"
            )
        found = personal_data_in(session, ticket, text)
        if found is not None:
            raise invalid(("body", "summary"), f"摘要须脱敏，{found}")
        before = publication_view(ticket)
        ticket.public, ticket.public_summary = True, text
        ticket.published_at = ticket.published_at or kernel.workflows.clock()
        session.add(ticket)
        session.flush()
        _announce(
            session,
            actor,
            ticket,
            "published",
            before={"public": before["public"], "summary": before["summary"]},
            after={"public": True, "summary": text},
        )
        session.commit()
        return publication_view(ticket)


@router.delete("/{ticket_id}/publication", summary="撤回公示 / withdraw the publication")
def withdraw(ticket_id: RowId, request: Request, actor: Signed) -> dict[str, Any]:
    """Take the ticket off the public board (nothing changes, and nothing is audited, when
    it was not on it)."""
    kernel = _kernel(request)
    with Session(kernel.engine, expire_on_commit=False) as session:
        ticket = _publishable(session, kernel, actor, ticket_id)
        if not ticket.public:
            return publication_view(ticket)
        summary = ticket.public_summary
        ticket.public, ticket.public_summary, ticket.published_at = False, None, None
        session.add(ticket)
        session.flush()
        _announce(
            session,
            actor,
            ticket,
            "unpublished",
            before={"public": True, "summary": summary},
            after={"public": False},
        )
        session.commit()
        return publication_view(ticket)


def _day(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).date().isoformat() if moment else None


def published(kernel: Kernel, path: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Published tickets reported at the unit whose path is ``path`` or below ("" for all),
    newest publication first. Each shows its number, type, the unit it was reported at,
    state, the days it was submitted and resolved, the summary and the rating level: never a
    title, description, address or anything of the reporter. 法律纠纷 never appear, whatever
    a row says."""
    zone = ZoneInfo(kernel.settings.timezone)
    where = [
        col(Ticket.public).is_(True),
        col(Ticket.state).in_(PUBLISHABLE),
        col(Ticket.type).not_in(NEVER_PUBLISHED),
    ]
    if path:
        where += [
            col(Ticket.origin_code) >= path,
            col(Ticket.origin_code) < path_upper_bound(path),
        ]
    query = (
        select(Ticket, Unit.name)
        .join(Unit, col(Unit.code) == col(Ticket.origin_code))
        .where(*where)
        .order_by(col(Ticket.published_at).desc(), col(Ticket.id).desc())
        .limit(limit)
        .offset(offset)
    )
    with Session(kernel.engine) as session:
        return [
            {
                "id": ticket.id,
                "type_label": views.type_label(kernel, ticket.type),
                "unit_name": unit_name,
                "state_label": views.state_label(ticket.state),
                "submitted_on": _day(ticket.submitted_at, zone),
                "resolved_on": _day(ticket.resolved_at, zone),
                "summary": ticket.public_summary,
                "rating_label": SATISFACTION_LABELS.get(ticket.satisfaction or ""),
                "published_at": ticket.published_at,
            }
            for ticket, unit_name in session.exec(query)
        ]


def _board_path(unit: str | None) -> str:
    """The path of ``unit`` ("" for none), or a 422 naming ``unit``."""
    if not unit or not unit.strip():
        return ""
    try:
        return parse_code(unit.strip()).path
    except UnitCodeError as exc:
        raise invalid(("query", "unit"), str(exc)) from None


@router.get("/public", summary="公示栏（无需登录）/ the public board, no login")
def public_board(
    request: Request,
    unit: Annotated[str, Query(max_length=15, description="单位代码 / unit code")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The 公示 board of ``unit`` (:func:`published`)."""
    return published(_kernel(request), _board_path(unit) or "", limit, offset)


board = APIRouter()  # the page: at the root, no login


@board.get("/tickets/public", response_class=HTMLResponse, include_in_schema=False)
async def public_board_page(
    request: Request,
    unit: Annotated[str | None, Query(max_length=15)] = None,
    offset: Offset = 0,
) -> Response:
    """公示栏: the board as a page anyone may open, optionally for one unit's subtree."""
    kernel = _kernel(request)
    rows = published(kernel, _board_path(unit), BOARD_PAGE + 1, offset)
    more = len(rows) > BOARD_PAGE
    return await render(
        request,
        "core/tickets_public.html",
        {
            "rows": rows[:BOARD_PAGE],
            "unit": (unit or "").strip(),
            "previous": max(0, offset - BOARD_PAGE) if offset else None,
            "next": offset + BOARD_PAGE if more else None,
        },
    )
