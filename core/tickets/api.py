"""JSON API of tickets (为民办事): ``/api/v1/tickets…``.

Every route needs an actor; what it may see is decided in the query
(:func:`core.tickets.service.readable`: staff their ``ticket.read`` scope, residents their
own tickets), so a ticket outside it is a 404, like an unknown one. The rules, the audit
entries and the events are the service's (:mod:`core.tickets.service`); the views are
:mod:`core.tickets.views`. A refused field answers 422 in the shape of FastAPI's own
validation errors (``detail: [{loc, msg, type}]``), as the rest of the API does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import HTTPException, RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt, StrictStr
from sqlalchemy import ColumnElement, and_, case, false
from sqlmodel import Session, col, select

from core.audit.service import record
from core.identity.access import Actor
from core.identity.web import require_actor
from core.kernel import Kernel
from core.tickets import lifecycle, service, views
from core.tickets.models import CHANNELS, Ticket, TicketComment
from core.units.codes import UnitCodeError, parse_code, path_upper_bound
from core.web.inputs import DB_INT_MAX, Offset, RowId, no_nul
from core.web.refusals import FIELD

router = APIRouter(prefix="/tickets", tags=["tickets"])  # mounted under /api/v1

Signed = Annotated[Actor, Depends(require_actor)]
Version = Annotated[StrictInt, Field(ge=1, le=DB_INT_MAX, description="所见版本 / the version")]
MAX_PAGE = 100


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def _session(request: Request) -> Session:
    return Session(_kernel(request).engine, expire_on_commit=False)


def invalid(loc: tuple[str, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


@contextmanager
def fields_named(inputs: dict[str, tuple[str, ...]] | None = None) -> Iterator[None]:
    """Turn the service's 422 ``"field: message"`` into a validation error at that field.

    ``inputs`` maps a transition input to where the route's body holds it (``rating`` →
    ``("body", "rating")``); other inputs are under ``body.inputs``.
    """
    try:
        yield
    except HTTPException as exc:
        named = FIELD.match(exc.detail) if isinstance(exc.detail, str) else None
        if exc.status_code != 422 or named is None:
            raise
        field, message = named.group(1), exc.detail[named.end() :]
        parts = tuple(p for p in field.split(".") if p)
        if field == "Idempotency-Key":
            loc: tuple[str, ...] = ("header", field)
        elif parts[0] == "inputs" and len(parts) > 1 and parts[1] in (inputs or {}):
            loc = (inputs or {})[parts[1]]
        else:
            loc = ("body", *parts)
        raise invalid(loc, message) from None


# -- types ---------------------------------------------------------------------------------


@router.get("/types", summary="某单位可提交的诉求类型 / ticket types offered at a unit")
def list_types(
    request: Request,
    actor: Signed,
    unit: Annotated[
        str | None, Query(max_length=15, description="单位代码，默认本人所在单位 / unit")
    ] = None,
) -> list[dict[str, Any]]:
    """The core's types and those of plugins on at ``unit``: label, description, icon, the
    extra fields (as forms describe them) and the clocks of each priority."""
    code = unit or actor.home_unit
    if code is None:
        raise invalid(("query", "unit"), "请指定单位 / unit is required")
    try:
        code = parse_code(code).code
    except UnitCodeError as exc:
        raise invalid(("query", "unit"), str(exc)) from None
    return [
        {
            "code": kind.code,
            "label": kind.label,
            "description": kind.description,
            "icon": kind.icon,
            "group": kind.group,
            "confidential": kind.confidential,
            "anonymous": kind.anonymous,
            "keywords": list(kind.keywords),
            "fields": [vars(f) for f in kind.form_fields],
            "clocks": {
                priority: {
                    stage: getattr(kind.clocks(priority), stage).label
                    for stage in ("respond", "handle", "visit")
                }
                for priority in ("normal", "urgent")
            },
        }
        for kind in service.types_at(_kernel(request), code, actor)
    ]


# -- creating ------------------------------------------------------------------------------

Line = Annotated[str, AfterValidator(no_nul)]


class TicketBody(service.TicketIn):
    """:class:`core.tickets.service.TicketIn` with its lengths bounded, so that the
    database never refuses a value the API let through."""

    type: Line = Field(max_length=40, description="诉求类型 / ticket type code")
    unit_code: Line = Field(max_length=15, description="所在单位 / unit")
    title: Line = Field(max_length=100, description="标题 / title")
    description: Line = Field(max_length=2000, description="诉求内容 / what happened")
    priority: Line = Field("normal", max_length=10, description="normal 一般 | urgent 紧急")
    nature: Line = Field("help", max_length=20, description="咨询/求助/投诉/举报/建议/表扬")
    channel: Line = Field("web", max_length=20, description="来源渠道 / channel")
    address: Line | None = Field(None, max_length=200, description="地址 / address")
    household_id: int | None = Field(None, ge=1, le=DB_INT_MAX, description="户 / household")
    reporter_name: Line | None = Field(None, max_length=100, description="提交人姓名")
    reporter_phone: Line | None = Field(None, max_length=20, description="联系电话")


@router.post("", status_code=201, summary="提交诉求 / submit a request")
def create_ticket_api(
    body: TicketBody,
    request: Request,
    response: Response,
    actor: Signed,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=200, description="重试时使用同一个键"),
    ] = None,
) -> dict[str, Any]:
    """A new ticket (201), or with an ``Idempotency-Key`` already used by the caller for the
    same request, the ticket that request made (200, ``Idempotent-Replayed: true``)."""
    kernel = _kernel(request)
    with _session(request) as session:
        with fields_named():
            ticket, created = service.create_ticket(
                session, kernel, actor, body, idempotency_key=idempotency_key
            )
        if not created:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
        return views.ticket_detail(session, kernel, actor, ticket, new=created)


# -- reading -------------------------------------------------------------------------------


def _filters(
    kernel: Kernel,
    actor: Actor,
    state: str | None,
    type_: str | None,
    priority: str | None,
    channel: str | None,
    under: str | None,
    overdue: bool,
    mine: bool,
) -> list[ColumnElement[bool]]:
    """The list's conditions (422 naming the query parameter), scope first; staff asking
    for a subtree ``under`` a unit outside their scope get a 404, as for units."""
    found: list[ColumnElement[bool]] = [service.readable(kernel, actor)]
    for name, value, known in (
        ("state", state, [s.name for s in lifecycle.STATES]),
        ("type", type_, list(service.catalog_of(kernel).types)),
        ("priority", priority, ["normal", "urgent"]),
        ("channel", channel, list(CHANNELS)),
    ):
        if value is None:
            continue
        if value not in known:
            raise invalid(("query", name), f"应为以下之一 / one of: {', '.join(known)}")
        found.append(getattr(Ticket, "type" if name == "type" else name) == value)
    if under is not None:
        try:
            path = parse_code(under).path
        except UnitCodeError as exc:
            raise invalid(("query", "under"), str(exc)) from None
        staff = actor.paths_with(kernel.access, lifecycle.READ)
        if staff and not any(path.startswith(p) or p.startswith(path) for p in staff):
            raise HTTPException(
                404, f"under: 单位 {under} 不在您的范围内 / no such unit in your scope"
            )
        found.append(
            and_(col(Ticket.unit_code) >= path, col(Ticket.unit_code) < path_upper_bound(path))
        )
    if overdue:
        found += [
            col(Ticket.state).not_in(views.CLOSED_STATES),
            col(Ticket.due_at) < kernel.workflows.clock(),
        ]
    if mine:
        own = actor.kind == "account"
        found.append(col(Ticket.reporter_account_id) == actor.id if own else false())
    return found


@router.get("", summary="工单列表（在办按期限、其余按时间）/ tickets in your scope")
def list_tickets(
    request: Request,
    actor: Signed,
    state: Annotated[str | None, Query(max_length=40, description="状态 / state")] = None,
    type: Annotated[str | None, Query(max_length=40, description="类型 / type")] = None,
    priority: Annotated[str | None, Query(max_length=10, description="normal | urgent")] = None,
    channel: Annotated[str | None, Query(max_length=20, description="渠道 / channel")] = None,
    under: Annotated[
        str | None, Query(max_length=15, description="只看此单位及下级 / unit subtree")
    ] = None,
    overdue: Annotated[bool, Query(description="只看已超期 / only overdue")] = False,
    mine: Annotated[bool, Query(description="只看我提交的 / only mine")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Tickets the caller may read: open ones due soonest first (the inbox; first come,
    first served among those due at once), then the others newest first; each a summary
    (never the reporter)."""
    kernel = _kernel(request)
    conditions = _filters(kernel, actor, state, type, priority, channel, under, overdue, mine)
    closed = col(Ticket.state).in_(views.CLOSED_STATES)
    query = (
        select(Ticket)
        .where(*conditions)
        .order_by(
            case((closed, 1), else_=0),
            case((col(Ticket.due_at).is_(None), 1), else_=0),
            case((closed, None), else_=col(Ticket.due_at)),
            case((closed, None), else_=col(Ticket.id)),  # open: first come, first served
            col(Ticket.submitted_at).desc(),
            col(Ticket.id).desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    now = kernel.workflows.clock()
    with _session(request) as session:
        return [views.summary(kernel, t, now) for t in session.exec(query)]


@router.get("/{ticket_id}", summary="工单详情及办理过程 / one ticket with its timeline")
def get_ticket_api(ticket_id: RowId, request: Request, actor: Signed) -> dict[str, Any]:
    kernel = _kernel(request)
    with _session(request) as session:
        ticket = service.get_ticket(session, kernel, actor, ticket_id)
        return views.ticket_detail(session, kernel, actor, ticket)


# -- acting --------------------------------------------------------------------------------


class TransitionBody(BaseModel):
    """Strict types: ``true`` or ``"1"`` is not a version, nor ``true`` a reason."""

    version: Version
    inputs: dict[Annotated[str, Field(max_length=40)], StrictStr | StrictInt | None] = Field(
        default_factory=dict, description="本步所需输入，如 reason / the inputs"
    )


class RatingBody(BaseModel):
    version: Version
    rating: StrictInt = Field(ge=1, le=5, description="1 不满意 … 5 很满意")
    comment: Annotated[str, AfterValidator(no_nul)] | None = Field(None, max_length=500)
    solved: StrictBool | None = Field(None, description="问题是否解决 / solved")


class CancelBody(BaseModel):
    version: Version
    reason: Annotated[str, AfterValidator(no_nul)] = Field(min_length=1, max_length=500)


class CommentBody(BaseModel):
    body: Annotated[str, AfterValidator(no_nul)] = Field(min_length=1, max_length=1000)
    internal: StrictBool = Field(False, description="内部备注（仅工作人员可见）/ staff only")


@router.post(
    "/{ticket_id}/transitions/{name}",
    summary="办理：执行一步（带所见版本）/ take a transition (with the version you saw)",
)
def take_transition(
    ticket_id: RowId,
    name: Annotated[str, Path(max_length=40)],
    body: TransitionBody,
    request: Request,
    actor: Signed,
) -> dict[str, Any]:
    """受理、派单、签收、办结、回访、上报…: 409 when the version is stale or the state does
    not allow it, 403 without the permission, 422 naming ``inputs.<name>``. Rating and
    the reporter's withdrawal have their own routes."""
    if name == "rate":
        raise invalid(("path", "name"), "评价请使用 …/rating / rate with POST …/rating")
    kernel = _kernel(request)
    with _session(request) as session:
        ticket = service.get_ticket(session, kernel, actor, ticket_id)
        with fields_named():
            service.transition_ticket(
                session, kernel, actor, ticket, name, body.version, body.inputs
            )
        session.commit()
        return views.ticket_detail(session, kernel, actor, ticket)


@router.post("/{ticket_id}/rating", summary="评价（提交人）/ rate (the reporter)")
def rate(ticket_id: RowId, body: RatingBody, request: Request, actor: Signed) -> dict[str, Any]:
    """The reporter rates a resolved ticket; 不满意 (1) reopens it, at most twice."""
    kernel = _kernel(request)
    with _session(request) as session:
        ticket = service.get_ticket(session, kernel, actor, ticket_id)
        where = {"rating": ("body", "rating"), "comment": ("body", "comment")}
        with fields_named(where):
            service.rate_ticket(
                session, kernel, actor, ticket, body.version, body.rating, body.comment, body.solved
            )
        session.commit()
        return views.ticket_detail(session, kernel, actor, ticket)


@router.post("/{ticket_id}/cancel", summary="撤销（提交人）/ withdraw (the reporter)")
def cancel(ticket_id: RowId, body: CancelBody, request: Request, actor: Signed) -> dict[str, Any]:
    """The reporter withdraws a ticket not yet being handled."""
    kernel = _kernel(request)
    with _session(request) as session:
        ticket = service.get_ticket(session, kernel, actor, ticket_id)
        with fields_named({"reason": ("body", "reason")}):
            service.cancel_own(session, kernel, actor, ticket, body.version, body.reason)
        session.commit()
        return views.ticket_detail(session, kernel, actor, ticket)


@router.post("/{ticket_id}/comments", status_code=201, summary="留言 / comment on a ticket")
def add_comment(
    ticket_id: RowId, body: CommentBody, request: Request, actor: Signed
) -> dict[str, Any]:
    """Staff holding ``ticket.read`` at the ticket's unit, or its reporter (whose comments
    are never internal), add a comment; audited."""
    kernel = _kernel(request)
    text = body.body.strip()
    if not text:
        raise invalid(("body", "body"), "为必填项 / is required")
    with _session(request) as session:
        ticket = service.get_ticket(session, kernel, actor, ticket_id)
        staff = kernel.allowed(actor, lifecycle.READ, ticket.unit_code)
        mine = service.is_reporter(actor, ticket)
        if not staff and not mine:
            raise HTTPException(403, "只有工作人员和提交人可以留言 / staff or the reporter only")
        if body.internal and not staff:
            raise HTTPException(403, "internal: 内部备注仅限工作人员 / staff only")
        comment = TicketComment(
            ticket_id=ticket.id,
            actor=actor.label,
            author=(actor.display_name or actor.name)[:100],
            body=text,
            internal=body.internal,
            created_at=kernel.workflows.clock(),
        )
        session.add(comment)
        session.flush()
        record(
            session,
            actor=actor.label,
            action="ticket.comment",
            target_type="ticket",
            target_id=str(ticket.id),
            unit_code=ticket.unit_code,
            after={"comment_id": comment.id, "internal": body.internal},
        )
        session.commit()
        hidden = views.reporter_fields(kernel, actor, ticket)["reporter_hidden"]
        return views.comment_view(comment, views.reporter_label(ticket) if hidden else None)
