"""Tickets: create (idempotent), take transitions (version-checked), rate, read — with scope
in every query, the reporter hidden where the ticket says so, audit and events.

Every write goes through the workflow engine (:mod:`core.workflows.service`) and then
mirrors the instance's state, version, unit and deadline onto the ``ticket`` row in the same
transaction, with the milestone the transition marks (accepted, signed, resolved, rated,
reopened) and whether its clock was kept. The caller commits, except :func:`create_ticket`,
which must settle a concurrent retry of the same ``Idempotency-Key`` itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from fastapi import HTTPException
from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, bindparam, false, insert, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from core.archives.models import ArchiveHousehold
from core.audit.service import record
from core.events.outbox import emit
from core.forms.service import message
from core.identity.access import Actor, scope_clause
from core.kernel import Kernel
from core.tickets import lifecycle
from core.tickets.models import CHANNELS, SATISFACTION_LEVELS, Ticket, TicketIdempotency
from core.tickets.types import NATURES, TicketType, TicketTypeCatalog
from core.units.codes import Level, UnitCodeError, parse_code
from core.workflows.deadlines import add_working_days
from core.workflows.ownership import ServiceOnly
from core.workflows.service import apply_transition, clean_inputs, start_workflow
from core.workflows.spec import WorkflowInstance

NOT_FOUND = "工单不存在或不在您的范围内 / no such ticket in your scope"
MAX_REOPENS = 2
MEDIA_URL_CHARS = 2000
MEDIA_SCHEMES = ("http", "https")
MEDIA_UNSAFE = frozenset('"<>\\^`{|}')  # never unencoded in a URL (RFC 3986)
LEVELS = (Level.grid, Level.village, Level.township, Level.county, Level.city)
SYSTEM = Actor(kind="system", id=0, name="sweeper", roles=(), display_name="系统")

# the ticket workflow moves only through this service (the plugin's workflow_guard)
OWNED = ServiceOnly(
    lifecycle.PLUGIN,
    [lifecycle.WORKFLOW],
    "工单请通过工单接口办理（/api/v1/tickets）/ use the tickets API",
)
_catalogs: WeakKeyDictionary[Kernel, TicketTypeCatalog] = WeakKeyDictionary()
_catalog_lock = threading.Lock()


class TicketError(HTTPException):
    """A refused ticket request: ``status`` and a message naming the field (Chinese first)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)


def catalog_of(kernel: Kernel) -> TicketTypeCatalog:
    """The installation's ticket types, built once per kernel."""
    with _catalog_lock:
        found = _catalogs.get(kernel)
        if found is None:
            found = _catalogs[kernel] = TicketTypeCatalog.build(kernel.registry)
        return found


def types_at(kernel: Kernel, unit_code: str, actor: Actor | None = None) -> list[TicketType]:
    """The ticket types offered at ``unit_code`` to ``actor``: the core's, and those of the
    plugins on there; the staff-only ones only when ``actor`` holds ``ticket.handle`` there
    or is a plugin's system actor (never without an actor: Open311 and the public)."""
    offered = catalog_of(kernel).available(kernel.scope(unit_code).enabled)
    staff = actor is not None and (
        actor.kind == "system" or kernel.allowed(actor, lifecycle.HANDLE, unit_code)
    )
    return [kind for kind in offered if staff or not kind.staff_only]


def level_of(unit_code: str) -> int:
    """Where ``unit_code`` is on the ladder: 0 grid, 1 village, 2 township, 3 county, 4 city."""
    level = parse_code(unit_code).level
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


# -- creating ------------------------------------------------------------------------------


class TicketIn(BaseModel):
    """A new request (the API's body; the pages and Open311 build the same)."""

    type: str
    unit_code: str
    title: str
    description: str
    priority: str = "normal"
    nature: str = "help"
    channel: str = "web"
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    household_id: int | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    anonymous: bool = False
    confidential: bool | None = None
    on_behalf: bool = False
    extra: dict[str, Any] = {}


def fingerprint(body: TicketIn, media_url: str | None = None) -> str:
    """A digest of the request: a retry with the same key must send the same request. A
    ``media_url`` counts only when sent (a request without one digests as it always did)."""
    data = body.model_dump(mode="json")
    if media_url is not None and media_url.strip():
        data["media_url"] = media_url.strip()
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _invalid(field: str, reason: str) -> TicketError:
    return TicketError(422, f"{field}: {reason}")


def check_extra(kind: TicketType, extra: dict[str, Any]) -> dict[str, Any]:
    """The type's extra fields, validated by its model: a 422 naming ``extra.<field>``."""
    if kind.fields is None:
        if extra:
            raise _invalid(f"extra.{next(iter(extra))}", "该类型没有此字段 / unknown field")
        return {}
    known = {f.name for f in kind.form_fields}
    unknown = [k for k in extra if k not in known]
    if unknown:
        raise _invalid(f"extra.{unknown[0]}", "该类型没有此字段 / unknown field")
    try:
        return kind.fields.model_validate(extra).model_dump(mode="json")
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise _invalid(f"extra.{where}", message(error)) from None


def checked_media_url(raw: str | None) -> str | None:
    """A photo's address (Open311 ``media_url``) as it is kept: an absolute ``http`` or
    ``https`` URL with a host, at most 2000 characters, without spaces, control characters
    or those a URL must encode (``"<>\\^`{|}``); empty is ``None``; anything else a 422
    naming ``media_url``.

    Sanmin only stores and shows this address (a link on the staff's ticket page, the
    Open311 reads of the key that filed it); it never fetches it, so accepting any host
    opens no server-side request forgery."""
    url = (raw or "").strip()
    if not url:
        return None
    if len(url) > MEDIA_URL_CHARS:
        raise _invalid("media_url", f"最多 {MEDIA_URL_CHARS} 个字符 / at most 2000 characters")
    wrong = _invalid("media_url", "应为 http:// 或 https:// 开头的网址 / an http(s) URL")
    if any(ch.isspace() or not ch.isprintable() or ch in MEDIA_UNSAFE for ch in url):
        raise wrong
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise wrong from None
    if parts.scheme.lower() not in MEDIA_SCHEMES or not parts.hostname:
        raise wrong
    return url


def _checked(
    kernel: Kernel, actor: Actor, body: TicketIn
) -> tuple[TicketType, str, dict[str, Any]]:
    """The type, the canonical unit code and the extra fields, or a 422 naming the field."""
    try:
        code = parse_code(body.unit_code.strip()).code
    except UnitCodeError as exc:
        raise _invalid("unit_code", str(exc)) from None
    offered = {t.code: t for t in types_at(kernel, code, actor)}
    kind = offered.get(body.type)
    if kind is None:
        raise _invalid("type", f"此处没有「{body.type}」类诉求 / no such ticket type here")
    title, description = body.title.strip(), body.description.strip()
    for field, text, limit in (("title", title, 100), ("description", description, 2000)):
        if not text:
            raise _invalid(field, "为必填项 / is required")
        if len(text) > limit or "\x00" in text:
            raise _invalid(field, f"应为 1–{limit} 字的文本 / must be 1 to {limit} characters")
    if body.priority not in ("normal", "urgent"):
        raise _invalid("priority", "应为 normal（一般）或 urgent（紧急）/ normal or urgent")
    if body.channel not in CHANNELS:
        raise _invalid("channel", "未知渠道 / unknown channel")
    if body.nature not in NATURES:
        raise _invalid("nature", "应为 咨询、求助、投诉、举报、建议、表扬 之一 / unknown nature")
    if body.anonymous and not kind.anonymous:
        raise _invalid("anonymous", f"「{kind.label}」不能匿名提交 / this type is not anonymous")
    if body.anonymous and not (body.reporter_phone or "").strip():
        raise _invalid("reporter_phone", "匿名提交须留联系电话以便回访 / a phone is required")
    phone = (body.reporter_phone or "").strip()
    if phone and not (phone.isdigit() and 7 <= len(phone) <= 20):
        raise _invalid("reporter_phone", "电话号码应为 7–20 位数字 / 7 to 20 digits")
    for field, value, low, high in (
        ("latitude", body.latitude, -90, 90),
        ("longitude", body.longitude, -180, 180),
    ):
        if value is not None and not low <= value <= high:
            raise _invalid(field, f"应在 {low} 到 {high} 之间 / out of range")
    if body.on_behalf and not kernel.allowed(actor, lifecycle.HANDLE, code):
        raise TicketError(403, "on_behalf: 代报须由网格员等工作人员提交 / staff only")
    return kind, code, check_extra(kind, body.extra)


def _check_household(session: Session, household_id: int | None, unit_code: str) -> None:
    """The household, when given, is in the archive of the ticket's township (422 naming
    ``household_id``; its existence elsewhere is none of the reporter's business)."""
    if household_id is None:
        return
    township = parse_code(unit_code).ancestor_at(Level.township) or unit_code
    found = session.get(ArchiveHousehold, household_id)
    if found is None or not found.unit_code.startswith(parse_code(township).path):
        raise _invalid(
            "household_id", "该户不存在或不在本乡镇 / no such household in this township"
        )


def create_ticket(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    body: TicketIn,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
    media_url: str | None = None,
) -> tuple[Ticket, bool]:
    """Submit a request as ``actor``; returns the ticket and whether it is new.

    ``media_url``: a photo's address sent with the request (Open311), checked by
    :func:`checked_media_url` and kept on the ticket (a retry must send the same one).

    A retry with the same ``idempotency_key`` (per actor) returns the ticket the first
    request made, even when both arrive at once (the database's unique key on the key
    settles it; the loser's transaction is rolled back, the caller's writes in it too); the
    same key with another body is a 422. Commits, unless ``commit=False``: then the caller
    commits, so that its own writes (a record linking to the ticket) and the ticket are one
    transaction.
    """
    key = (idempotency_key or "").strip() or None
    if key is not None and (len(key) > 200 or "\x00" in key):
        raise _invalid("Idempotency-Key", "应为 1–200 个字符 / 1 to 200 characters")
    # JSON and SHA-256 only when needed
    digest = fingerprint(body, media_url) if key is not None else ""
    if key is not None and (found := _replayed(session, actor, key, digest)) is not None:
        return found, False
    kind, code, extra = _checked(kernel, actor, body)
    media = checked_media_url(media_url)
    _check_household(session, body.household_id, code)
    now = now or kernel.workflows.clock()
    clocks = kind.clocks(body.priority)
    respond_due = clocks.respond.due(now)
    instance = start_workflow(
        session,
        kernel,
        actor,
        lifecycle.PLUGIN,
        lifecycle.WORKFLOW,
        code,
        now=now,
        due_at=respond_due,
    )
    parsed = parse_code(code)
    reporter_is_actor = actor.kind == "account" and not body.on_behalf
    ticket = Ticket(
        instance_id=instance.id,
        type=kind.code,
        nature=body.nature,
        channel=body.channel,
        priority=body.priority,
        unit_code=code,
        township_code=instance.township_code,
        origin_code=code,
        county_code=parsed.ancestor_at(Level.county) or code,
        state=instance.state,
        version=instance.version,
        due_at=instance.due_at,
        title=body.title.strip(),
        description=body.description.strip(),
        address=(body.address or "").strip() or None,
        latitude=body.latitude,
        longitude=body.longitude,
        household_id=body.household_id,
        reporter_account_id=actor.id if reporter_is_actor else None,
        reporter_name=None if body.anonymous else ((body.reporter_name or "").strip() or None),
        reporter_phone=(body.reporter_phone or "").strip() or None,
        anonymous=body.anonymous,
        confidential=kind.confidential if body.confidential is None else body.confidential,
        reported_by=actor.label if body.on_behalf else None,
        extra=extra,
        media_url=media,
        submitted_at=now,
        respond_due_at=respond_due,
        level=level_of(code),
        created_by=actor.label,
        updated_at=now,
    )
    conn = session.connection()
    try:
        # Prebuilt Core statements, not a flush: the creation path runs under load (bench/).
        ticket.id = conn.execute(INSERT_TICKET, _row_values(ticket)).inserted_primary_key[0]
        if key is not None:
            conn.execute(
                INSERT_KEY,
                {
                    "actor": actor.label,
                    "key": key,
                    "fingerprint": digest,
                    "ticket_id": ticket.id,
                    "created_at": now,
                },
            )
    except IntegrityError:  # the same key, sent concurrently, won: answer with its ticket
        session.rollback()
        if key is not None and (found := _replayed(session, actor, key, digest)) is not None:
            return found, False
        raise
    make_transient_to_detached(ticket)  # persistent from here on, as if it had been flushed
    session.add(ticket)
    emit(
        session,
        "ticket.created",
        code,
        subject=f"ticket:{ticket.id}",
        actor_id=actor.id if actor.kind == "account" else None,
        payload={
            "ticket_id": ticket.id,
            "type": kind.code,
            "priority": body.priority,
            "channel": body.channel,
            "unit_code": code,
        },
    )
    record(
        session,
        actor=actor.label,
        action="ticket.create",
        target_type="ticket",
        target_id=str(ticket.id),
        unit_code=code,
        after={"type": kind.code, "channel": body.channel, "priority": body.priority},
    )
    if commit:
        session.commit()
    return ticket, True


INSERT_TICKET = insert(Ticket.__table__)  # type: ignore[attr-defined]
INSERT_KEY = insert(TicketIdempotency.__table__)  # type: ignore[attr-defined]
TICKET_COLUMNS = tuple(c.key for c in Ticket.__table__.columns if c.key != "id")  # type: ignore[attr-defined]


def _row_values(ticket: Ticket) -> dict[str, Any]:
    """The new ticket's columns as its model set them (defaults included), for the INSERT."""
    return {name: getattr(ticket, name) for name in TICKET_COLUMNS}


KEYS = TicketIdempotency.__table__.c  # type: ignore[attr-defined]
KEY_LOOKUP = select(KEYS.fingerprint, KEYS.ticket_id).where(
    KEYS.actor == bindparam("actor"), KEYS.key == bindparam("key")
)


def _replayed(session: Session, actor: Actor, key: str, digest: str) -> Ticket | None:
    """The ticket an earlier request with this key made, or ``None``; 422 for another body."""
    row = session.connection().execute(KEY_LOOKUP, {"actor": actor.label, "key": key}).first()
    if row is None:
        return None
    if row.fingerprint != digest:
        raise _invalid(
            "Idempotency-Key",
            "该键已用于另一内容不同的请求 / the key was used for a different request",
        )
    return session.get(Ticket, row.ticket_id)


# -- reading -------------------------------------------------------------------------------


def readable(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """Tickets ``actor`` may read: those at units where it holds ``ticket.read``, and its own."""
    staff = scope_clause(actor, kernel.access, lifecycle.READ, col(Ticket.unit_code))
    if actor.kind != "account":
        return staff
    own = col(Ticket.reporter_account_id) == actor.id
    return own if staff is false() else or_(staff, own)


def get_ticket(session: Session, kernel: Kernel, actor: Actor, ticket_id: int) -> Ticket:
    """The ticket if ``actor`` may read it; 404 (the same for unknown and out of scope)."""
    found = session.exec(
        select(Ticket).where(col(Ticket.id) == ticket_id, readable(kernel, actor))
    ).first()
    if found is None:
        raise TicketError(404, NOT_FOUND)
    return found


def is_reporter(actor: Actor, ticket: Ticket) -> bool:
    return actor.kind == "account" and ticket.reporter_account_id == actor.id


# -- transitions ---------------------------------------------------------------------------


def _due(
    kind: TicketType, ticket: Ticket, transition: str, inputs: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The ticket's clocks after ``transition``: ``due_at`` of the state entered, and the
    response or handling deadline it (re)sets."""
    clocks = kind.clocks(ticket.priority)
    if transition in ("escalate", "return", "reopen"):
        respond = clocks.respond.due(now)
        return {"due_at": respond, "respond_due_at": respond}
    if transition in ("accept", "dispatch"):
        return {"due_at": ticket.respond_due_at}
    if transition == "sign":
        handle = clocks.handle.due(now)
        return {"due_at": handle, "handle_due_at": handle}
    if transition == "extend":
        base = ticket.handle_due_at or now
        handle = add_working_days(base - timedelta(microseconds=1), int(inputs["days"]))
        return {"due_at": handle, "handle_due_at": handle}
    if transition == "resolve":
        return {"due_at": clocks.visit.due(now)}
    return {"due_at": None}


def _missed_response(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """A response clock that ran out before anyone signed for the ticket is a miss, whatever
    happens after: escalating or returning it restarts the clock, not the record."""
    if (
        ticket.responded_on_time is None
        and ticket.respond_due_at is not None
        and now > ticket.respond_due_at
    ):
        return {"responded_on_time": False}
    return {}


def _milestones(
    ticket: Ticket, transition: str, moved: WorkflowInstance, inputs: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """What ``transition`` marks on the ticket besides the mirrored instance."""
    if transition == "accept":
        return {"accepted_at": ticket.accepted_at or now}
    if transition == "sign":
        changes: dict[str, Any] = {"signed_at": ticket.signed_at or now}
        if ticket.responded_on_time is None:
            changes["responded_on_time"] = (
                ticket.respond_due_at is None or now <= ticket.respond_due_at
            )
        return changes
    if transition == "escalate":
        return {
            "escalations": ticket.escalations + 1,
            "level": level_of(moved.unit_code),
            **_missed_response(ticket, now),
        }
    if transition == "return":
        return _missed_response(ticket, now)
    if transition == "resolve":
        return {
            "resolved_at": now,
            "resolved_on_time": ticket.handle_due_at is None or now <= ticket.handle_due_at,
            "resolved_level": ticket.level,
        }
    if transition == "reopen":
        return {
            "reopens": ticket.reopens + 1,
            "reopened_at": now,
            "resolved_at": None,
            "resolved_on_time": None,
            "resolved_level": None,
            "closed_at": None,
        }
    if transition == "rate":
        rating = int(inputs["rating"])
        return {
            "rating": rating,
            "satisfaction": SATISFACTION_LEVELS[rating][1],
            "rating_comment": inputs.get("comment"),
            "rated_at": now,
            "closed_at": now,
        }
    if transition in ("reject", "cancel"):
        return {"closed_at": now}
    return {}


def transition_ticket(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    ticket: Ticket,
    transition: str,
    version: int,
    inputs: dict[str, Any] | None = None,
    *,
    vouched: bool = False,
    now: datetime | None = None,
) -> Ticket:
    """Take ``transition`` on ``ticket`` (as read by :func:`get_ticket`) last seen at
    ``version``: 409 when stale or not allowed from its state, 403 without the permission,
    422 naming ``inputs.<name>``; the plugins' guards may refuse (422). ``vouched``: the
    caller decided that ``actor`` may (the reporter rating, the sweeper escalating). Updates
    the ticket's mirror, milestones and clocks, emits ``ticket.transitioned``; the caller
    commits."""
    kind = catalog_of(kernel).types.get(ticket.type)
    if kind is None:  # a plugin type whose plugin is gone: the core's clocks are unknown
        raise TicketError(409, f"type: 工单类型 {ticket.type} 已不可用 / the ticket type is gone")
    if transition == "reopen" and ticket.reopens >= MAX_REOPENS:
        raise TicketError(
            409, f"state: 已重办 {MAX_REOPENS} 次，请上报督办 / reopened twice already"
        )
    step = lifecycle.TICKET_WORKFLOW.transition(transition)
    if step is None:
        raise TicketError(404, f"transition: 工单没有「{transition}」这一步 / no such transition")
    now = now or kernel.workflows.clock()
    values = clean_inputs(step, dict(inputs or {}))
    clocks = _due(kind, ticket, transition, values, now)
    with OWNED.step():
        moved, taken = apply_transition(
            session,
            kernel,
            actor,
            ticket.instance_id,
            transition,
            version,
            values,
            plugin=lifecycle.PLUGIN,
            workflow=lifecycle.WORKFLOW,
            now=now,
            due_at=clocks["due_at"],
            vouched=vouched,
        )
    changes = {
        "state": moved.state,
        "version": moved.version,
        "unit_code": moved.unit_code,
        "township_code": moved.township_code,
        "updated_at": now,
        **clocks,
        **_milestones(ticket, transition, moved, taken.inputs, now),
    }
    if moved.closed or clocks["due_at"] is None:
        changes["due_at"] = moved.due_at
    for name, value in changes.items():
        setattr(ticket, name, value)
    session.add(ticket)
    session.flush()
    emit(
        session,
        "ticket.transitioned",
        moved.unit_code,
        subject=f"ticket:{ticket.id}",
        actor_id=actor.id if actor.kind == "account" else None,
        payload={
            "ticket_id": ticket.id,
            "type": ticket.type,
            "transition": transition,
            "from_state": taken.from_state,
            "to_state": moved.state,
            "unit_code": moved.unit_code,
            "version": moved.version,
        },
    )
    return ticket


def rate_ticket(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    ticket: Ticket,
    version: int,
    rating: int,
    comment: str | None = None,
    solved: bool | None = None,
    *,
    relayed: bool = False,
    now: datetime | None = None,
) -> Ticket:
    """The reporter rates a resolved ticket (1–5, domain.md §6.7). 不满意 (1) reopens it,
    at most twice; after that the rating stands and counts against 满意率. The caller
    commits.

    ``relayed``: ``actor`` records the rating the reporter gave by phone when called back
    (回访) — a hotline caller has no account to rate with. Only staff holding
    ``ticket.dispatch`` at the ticket's unit may relay one (403 otherwise).
    """
    if relayed:
        if not kernel.allowed(actor, lifecycle.DISPATCH, ticket.unit_code):
            raise TicketError(403, "只有派单督办人员可以代录回访评价 / dispatchers only")
    elif not is_reporter(actor, ticket):
        raise TicketError(403, "只有提交人可以评价 / only the reporter may rate")
    inputs: dict[str, Any] = {"rating": rating}
    if comment:
        inputs["comment"] = comment
    rated = transition_ticket(
        session, kernel, actor, ticket, "rate", version, inputs, vouched=True, now=now
    )
    rated.solved = solved
    if rated.satisfaction == "unsatisfied" and rated.reopens < MAX_REOPENS:
        transition_ticket(
            session,
            kernel,
            actor,
            rated,
            "reopen",
            rated.version,
            {"reason": "群众评价不满意，重新办理"},
            vouched=True,
            now=now,
        )
    return rated


def cancel_own(
    session: Session, kernel: Kernel, actor: Actor, ticket: Ticket, version: int, reason: str
) -> Ticket:
    """The reporter withdraws a ticket not yet being handled (撤销). The caller commits."""
    if not is_reporter(actor, ticket):
        raise TicketError(403, "只有提交人可以撤销 / only the reporter may cancel")
    return transition_ticket(
        session, kernel, actor, ticket, "cancel", version, {"reason": reason}, vouched=True
    )
