"""Open311 GeoReport v2 at ``/open311/v2/`` (ARCHITECTURE §5: a public contract), so that
existing civic-tech clients can list the request types, submit requests and follow them.

Resources, each as ``.json`` or ``.xml`` (:mod:`core.tickets.open311_format`; errors are the
specification's array of ``{code, description}`` in the requested format — 400 for a bad
request, 403 for a missing or wrong ``api_key``, 404 for what does not exist):

- ``GET discovery`` — the endpoint, its specification and formats;
- ``GET services`` — the ticket types offered in the jurisdiction (``type`` is always
  ``realtime``: a request gets its id at once); ``GET services/{service_code}`` — the type's
  extra fields as attributes (:data:`DATATYPES`; a yes/no field is a ``singlevaluelist``
  of ``true``/``false``, a date a ``datetime`` whose date is kept);
- ``POST requests`` — a form (``application/x-www-form-urlencoded``; no files), with an
  ``api_key`` of this installation (``sanmin apikeys create``; also taken from
  ``X-Api-Key``): a ticket on channel ``open311`` created as that key by
  :func:`core.tickets.service.create_ticket` (no idempotency key: the specification has
  none), answered 201 with ``[{service_request_id, service_notice, account_id}]``;
- ``GET requests`` (filters ``service_request_id``, ``service_code``, ``start_date``,
  ``end_date``, ``status``; by default the last 90 days, at most 1000, newest first; a
  range may span at most 90 days) and ``GET requests/{id}``;
- ``GET tokens/{token}`` — always 404: requests get their id at once, no token is issued.

Choices where the specification leaves room or Sanmin differs:

- ``jurisdiction_id`` is a township's 12-digit code (乡镇街道); when absent, the setting
  ``SANMIN_OPEN311_JURISDICTION``; with neither, 400. Requests are those reported in the
  township (their origin unit), wherever they are handled now.
- Where a request is filed: the township is too coarse to handle a request, so a client may
  name the unit with the Sanmin extension ``unit_code`` (a grid, village or the township
  itself, where the key holds ``ticket.create``: otherwise 404, as everywhere in Sanmin
  outside one's scope); without it, the key's home unit when it lies in the jurisdiction,
  the township itself when the key's unit is above it, else 403.
- ``first_name``/``last_name`` become the reporter's name in Chinese order (family name
  first), ``phone`` the reporter's phone (spaces and dashes dropped); ``email`` and
  ``device_id`` are accepted and not kept (a ticket has no place for them), ``account_id``
  is echoed in the answer. ``media_url``, the address of a photo, is kept on the ticket
  when it is an ``http`` or ``https`` URL with a host, at most 2000 characters
  (:func:`core.tickets.service.checked_media_url`; else 400 naming it); Sanmin stores and
  shows it, never fetches it (no server-side request forgery), and files are refused
  (photos uploaded to Sanmin are the tickets API's attachments). ``address_id`` alone is
  refused: Sanmin has no address register. The title is the description's first
  line (or the type's name); ``description`` may hold 2000 characters, not 4000.
- ``status``: ``closed`` once resolved (已办结, 已回访, 已评价, 已归档) or rejected or
  withdrawn, ``open`` otherwise; ``status_notes`` is the state's name;
  ``agency_responsible`` the unit handling it now; ``expected_datetime`` its current
  deadline; ``updated_datetime`` its last change (every step, a reopen included, sets
  it). Times carry the installation's offset.

Privacy (domain.md §4.4, 举报人保密): the reads need no key, so they show only tickets that
are neither confidential nor anonymous nor legal disputes (法律纠纷: counts only), never the
reporter, and no free text: the
description is the ticket's ``public_summary`` when one was written, its own text only when
the ticket was published (公示), otherwise the type and the state (``公共维修（办理中）``);
``address`` is the name of the unit it came from, ``lat``/``long`` and ``media_url`` are
withheld (a request's place may be a resident's home, a photo may show a person). A read
with a valid ``api_key`` (parameter or ``X-Api-Key``) whose key holds ``ticket.read`` also
sees the requests that key submitted — confidential ones included — with their
description, address, coordinates and ``media_url`` (still never the reporter): a client
follows what it filed. A wrong key is a 403, never a silent public answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.forms.fields import FormField
from core.identity.access import Actor
from core.identity.service import actor_from_api_key
from core.kernel import Kernel
from core.tickets import lifecycle, service
from core.tickets.models import Ticket
from core.tickets.open311_format import (
    FORMATS,
    Open311Error,
    answer,
    error_answer,
    format_of,
    parse_w3c,
    w3c,
)
from core.tickets.types import NEVER_PUBLISHED, TicketType
from core.tickets.views import CLOSED_STATES, state_label
from core.units.codes import Level, UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit
from core.web.inputs import DB_INT_MAX

router = APIRouter(prefix="/open311/v2", tags=["open311"])

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-27T00:00:00+08:00"  # when this endpoint's contract last changed
SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_FIELDS = 200
TITLE_CHARS = 40
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
DATATYPES = {
    "text": "string",
    "textarea": "text",
    "integer": "number",
    "number": "number",
    "boolean": "singlevaluelist",
    "date": "datetime",
    "datetime": "datetime",
    "choice": "singlevaluelist",
    "multichoice": "multivaluelist",
}
# Sanmin's states that Open311 calls closed: resolved (it may still be visited and rated,
# or reopened, which makes it open again), or ended without being resolved
CLOSED = frozenset(CLOSED_STATES) | {"resolved", "visited"}
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")
# the service's field names as the Open311 request names them
FIELD_NAMES = {
    "type": "service_code",
    "title": "description",
    "description": "description",
    "address": "address_string",
    "latitude": "lat",
    "longitude": "long",
    "reporter_name": "last_name",
    "reporter_phone": "phone",
    "unit_code": "unit_code",
    "media_url": "media_url",
}
NOT_FOUND = "service_request_id: 没有这个诉求，或它不公开 / no such request, or it is not public"


def _kernel(request: Request) -> Kernel:
    return request.app.state.kernel


def _session(kernel: Kernel) -> Session:
    return Session(kernel.engine, expire_on_commit=False)


def _answered(extension: str, produce: Callable[[str], Response]) -> Response:
    """``produce(fmt)``, or the error it raised in the spec's format (XML when the
    extension itself is wrong)."""
    fmt = extension if extension in FORMATS else "xml"
    try:
        return produce(format_of(extension))
    except Open311Error as exc:
        return error_answer(fmt, exc)


# -- inputs --------------------------------------------------------------------------------


class Inputs:
    """A request's parameters (query string or form): first value of each, stripped; an
    empty one is absent (the spec's "optional"); too long or with a NUL byte is a 400."""

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        self.pairs: list[tuple[str, str]] = []
        for name, value in pairs:
            if len(self.pairs) >= MAX_FIELDS:
                raise Open311Error(400, f"request: 参数过多（最多 {MAX_FIELDS} 个）/ too many")
            if isinstance(value, UploadFile):
                raise Open311Error(
                    400, f"{name}: 不接受文件，照片请用 media_url / no files: use media_url"
                )
            self.pairs.append((name, str(value)))

    def one(self, name: str, limit: int) -> str | None:
        for key, value in self.pairs:
            if key == name:
                return _checked_text(name, value, limit)
        return None

    def joined(self, name: str, limit: int) -> str | None:
        """All values of ``name`` joined by commas (``status=open&status=closed``)."""
        values = [v.strip() for k, v in self.pairs if k == name and v.strip()]
        return _checked_text(name, ",".join(values), limit) if values else None


def _checked_text(name: str, value: str, limit: int) -> str | None:
    value = value.strip()
    if not value:
        return None
    if "\x00" in value:
        raise Open311Error(400, f"{name}: 不能含 NUL 字符 / must not contain a NUL byte")
    if len(value) > limit:
        raise Open311Error(400, f"{name}: 最多 {limit} 个字符 / at most {limit} characters")
    return value


def _jurisdiction(session: Session, kernel: Kernel, inputs: Inputs) -> Unit:
    """The township named by ``jurisdiction_id`` (or the installation's default)."""
    raw = inputs.one("jurisdiction_id", 100) or kernel.settings.open311_jurisdiction
    if not raw:
        raise Open311Error(
            400, "jurisdiction_id: 必填，为乡镇街道的 12 位代码 / jurisdiction_id was not provided"
        )
    try:
        parsed = parse_code(raw)
    except UnitCodeError:
        parsed = None
    found = session.get(Unit, parsed.code) if parsed and parsed.level is Level.township else None
    if found is None:
        raise Open311Error(
            404,
            f"jurisdiction_id: 没有辖区 {raw}（应为乡镇街道的 12 位代码）/ "
            "jurisdiction_id not found (a township's 12-digit code)",
        )
    return found


def _key_actor(session: Session, raw: str | None) -> Actor:
    """The actor of an API key; a missing or wrong one is a 403."""
    if raw is None:
        raise Open311Error(403, "api_key: 提交诉求须提供 API 密钥 / api_key is required")
    actor = actor_from_api_key(session, raw)
    if actor is None:
        raise Open311Error(403, "api_key: API 密钥无效或已吊销 / invalid api_key")
    return actor


def _offered(kernel: Kernel, township: Unit) -> dict[str, TicketType]:
    return {kind.code: kind for kind in service.types_at(kernel, township.code)}


def _service_type(kernel: Kernel, township: Unit, code: str | None) -> TicketType:
    if code is None:
        raise Open311Error(400, "service_code: 必填 / service_code was not provided")
    kind = _offered(kernel, township).get(code)
    if kind is None:
        raise Open311Error(
            404, f"service_code: 本辖区没有「{code[:40]}」类诉求 / service_code not found"
        )
    return kind


# -- discovery and services ----------------------------------------------------------------


@router.get("/discovery.{fmt}", summary="Open311 服务发现 / service discovery")
def discovery(fmt: str, request: Request) -> Response:
    def produce(fmt: str) -> Response:
        url = str(request.url_for("open311_services", fmt=fmt)).rsplit("/", 1)[0]
        return answer(
            fmt,
            "discovery",
            {
                "changeset": CHANGESET,
                "contact": "请联系所在县区的三民平台管理员 / the county's Sanmin administrator",
                "key_service": "API 密钥由县区管理员签发 / API keys are issued by the county",
                "endpoints": [
                    {
                        "specification": SPECIFICATION,
                        "url": url,
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["text/xml", "application/json"],
                    }
                ],
            },
        )

    return _answered(fmt, produce)


def _service(kind: TicketType) -> dict[str, Any]:
    return {
        "service_code": kind.code,
        "service_name": kind.label,
        "description": kind.description,
        "metadata": bool(kind.form_fields),
        "type": "realtime",
        "keywords": ", ".join(kind.keywords),
        "group": kind.group,
    }


@router.get("/services.{fmt}", name="open311_services", summary="Open311 服务列表 / service list")
def services(fmt: str, request: Request) -> Response:
    kernel = _kernel(request)

    def produce(fmt: str) -> Response:
        with _session(kernel) as session:
            township = _jurisdiction(session, kernel, Inputs(request.query_params.multi_items()))
        kinds = _offered(kernel, township).values()
        return answer(fmt, "services", [_service(kind) for kind in kinds])

    return _answered(fmt, produce)


def _hint(field: FormField) -> str | None:
    """``datatype_description``: what to send, in Chinese."""
    bounds = ""
    if field.minimum is not None or field.maximum is not None:
        low, high = (
            "" if bound is None else str(int(bound) if float(bound).is_integer() else bound)
            for bound in (field.minimum, field.maximum)
        )
        bounds = f"，{low}–{high}"
    hints = {
        "integer": f"整数{bounds}",
        "number": f"数字{bounds}",
        "boolean": "true 是 / false 否",
        "date": "日期，如 2026-12-01",
        "datetime": "时间，如 2026-12-01T09:00:00+08:00",
        "multichoice": "可多选",
    }
    if field.kind in ("text", "textarea"):
        return f"最多 {field.max_length} 字" if field.max_length else None
    return hints.get(field.kind)


def _attribute(order: int, field: FormField) -> dict[str, Any]:
    if field.kind == "boolean":
        values = [{"key": "true", "name": "是"}, {"key": "false", "name": "否"}]
    else:
        values = [{"key": value, "name": label} for value, label in field.choices]
    return {
        "variable": True,
        "code": field.name,
        "datatype": DATATYPES[field.kind],
        "required": field.required,
        "datatype_description": _hint(field),
        "order": order,
        "description": f"{field.title}：{field.description}" if field.description else field.title,
        "values": values,
    }


@router.get("/services/{service_code}.{fmt}", summary="Open311 服务定义 / service definition")
def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    kernel = _kernel(request)

    def produce(fmt: str) -> Response:
        with _session(kernel) as session:
            township = _jurisdiction(session, kernel, Inputs(request.query_params.multi_items()))
        kind = _service_type(kernel, township, service_code[:40])
        attributes = [_attribute(i, f) for i, f in enumerate(kind.form_fields, start=1)]
        return answer(
            fmt, "service_definition", {"service_code": kind.code, "attributes": attributes}
        )

    return _answered(fmt, produce)


# -- submitting ----------------------------------------------------------------------------


def _attributes(inputs: Inputs, kind: TicketType) -> dict[str, Any]:
    """``attribute[code]=value`` (``attribute[code][]=`` for each value of a list) as the
    type's extra fields; the type's model then validates them (400 naming the attribute)."""
    fields = {f.name: f for f in kind.form_fields}
    sent: dict[str, list[str]] = {}
    for key, value in inputs.pairs:
        matched = ATTRIBUTE.match(key)
        if matched is None:
            continue
        code = matched.group(1)
        if code not in fields:
            raise Open311Error(400, f"{key[:60]}: 「{kind.label}」没有此项 / unknown attribute")
        if value.strip():
            sent.setdefault(code, []).append(value.strip())
    return {code: _attribute_value(fields[code], values) for code, values in sent.items()}


def _attribute_value(field: FormField, values: list[str]) -> Any:
    name = f"attribute[{field.name}]"
    if field.kind == "multichoice":
        return [field.choice_value(v) for v in values]
    if len(values) > 1:
        raise Open311Error(400, f"{name}: 只能有一个值 / only one value")
    value = values[0]
    if len(value) > 2000 or "\x00" in value:
        raise Open311Error(400, f"{name}: 最多 2000 个字符 / at most 2000 characters")
    if field.kind == "boolean":
        known = {"true": True, "1": True, "false": False, "0": False}
        if value.lower() not in known:
            raise Open311Error(400, f"{name}: 应为 true 或 false / true or false")
        return known[value.lower()]
    if field.kind == "choice":
        return field.choice_value(value)
    if field.kind == "date" and "T" in value:
        return value.split("T", 1)[0]  # a datetime for a date: its date
    return value  # numbers, dates and text: the type's model converts and checks them


def _coordinates(inputs: Inputs) -> tuple[float | None, float | None]:
    raw = {name: inputs.one(name, 40) for name in ("lat", "long")}
    if (raw["lat"] is None) != (raw["long"] is None):
        missing = "long" if raw["long"] is None else "lat"
        raise Open311Error(400, f"{missing}: lat 与 long 须同时提供 / send both lat and long")
    found: dict[str, float | None] = {}
    for name, value in raw.items():
        try:
            number = None if value is None else float(value)
        except ValueError:
            number = math.nan
        if number is not None and not math.isfinite(number):
            raise Open311Error(400, f"{name}: 应为数字（WGS84）/ a number (WGS84)")
        found[name] = number
    return found["lat"], found["long"]


def _reporter(inputs: Inputs) -> tuple[str | None, str | None]:
    """The reporter's name (family name first) and phone (digits only)."""
    parts = [inputs.one("last_name", 50), inputs.one("first_name", 50)]
    name = "".join(p for p in parts if p) or None
    phone = inputs.one("phone", 40)
    if phone is not None:
        phone = re.sub(r"[\s\-()]", "", phone)
        if not (phone.isdigit() and 7 <= len(phone) <= 20):
            raise Open311Error(400, "phone: 电话号码应为 7–20 位数字 / 7 to 20 digits")
    return name, phone


def _filed_at(
    session: Session, kernel: Kernel, actor: Actor, township: Unit, raw: str | None
) -> str:
    """The unit the request is filed at (see the module's docstring)."""
    path = township.path
    if raw is not None:
        try:
            code = parse_code(raw).code
        except UnitCodeError as exc:
            raise Open311Error(400, f"unit_code: {exc}") from None
        if (
            not code.startswith(path)
            or session.get(Unit, code) is None
            or not kernel.allowed(actor, lifecycle.CREATE, code)
        ):
            raise Open311Error(
                404,
                f"unit_code: 辖区内没有单位 {code}，或不在此 API 密钥的范围内 / "
                "no such unit in this jurisdiction within the key's scope",
            )
        return code
    home = actor.home_unit or ""
    if home.startswith(path) and kernel.allowed(actor, lifecycle.CREATE, home):
        return home
    if kernel.allowed(actor, lifecycle.CREATE, township.code):
        return township.code
    raise Open311Error(
        403, "api_key: 此 API 密钥不能在该辖区提交诉求 / the key may not submit here"
    )


def _title(kind: TicketType, description: str) -> str:
    first = description.splitlines()[0].strip() if description else ""
    if len(first) > TITLE_CHARS:
        return first[: TITLE_CHARS - 1] + "…"
    return first or kind.label


def _refused(exc: HTTPException) -> Open311Error:
    """The ticket service's refusal, naming the Open311 parameter."""
    detail = str(exc.detail)
    field, sep, rest = detail.partition(": ")
    if sep and field.startswith("extra."):
        name = field.removeprefix("extra.").split(".")[0]
        detail = f"attribute[{name}]: {rest}" if name else f"attribute: {rest}"
    elif sep and field in FIELD_NAMES:
        detail = f"{FIELD_NAMES[field]}: {rest}"
    return Open311Error(exc.status_code if exc.status_code in (403, 404) else 400, detail)


def _create(kernel: Kernel, inputs: Inputs, fmt: str) -> Response:
    with _session(kernel) as session:
        actor = _key_actor(session, inputs.one("api_key", 200))
        township = _jurisdiction(session, kernel, inputs)
        kind = _service_type(kernel, township, inputs.one("service_code", 100))
        latitude, longitude = _coordinates(inputs)
        address = inputs.one("address_string", 200)
        if latitude is None and address is None:
            refused = "address_id: 不支持地址编码，请用 address_string 或 lat/long / unsupported"
            if inputs.one("address_id", 200) is not None:
                raise Open311Error(400, refused)
            raise Open311Error(
                400, "address_string: 须提供 lat/long 或 address_string / a location is required"
            )
        unit = _filed_at(session, kernel, actor, township, inputs.one("unit_code", 15))
        description = inputs.one("description", 2000) or kind.label
        for name, limit in (("email", 254), ("device_id", 200)):
            inputs.one(name, limit)  # accepted, not kept: checked only
        # kept as sent (checked by the service: http/https only); never fetched by Sanmin,
        # so a client naming an internal address gains nothing (no request forgery)
        media_url = inputs.one("media_url", service.MEDIA_URL_CHARS)
        account_id = inputs.one("account_id", 200)
        name, phone = _reporter(inputs)
        body = service.TicketIn(
            type=kind.code,
            unit_code=unit,
            title=_title(kind, description),
            description=description,
            channel="open311",
            address=address,
            latitude=latitude,
            longitude=longitude,
            reporter_name=name,
            reporter_phone=phone,
            extra=_attributes(inputs, kind),
        )
        try:
            ticket, _ = service.create_ticket(session, kernel, actor, body, media_url=media_url)
        except HTTPException as exc:
            raise _refused(exc) from None
    clocks = kind.clocks(ticket.priority)
    notice = f"已受理登记，{clocks.respond.label}内响应，签收后{clocks.handle.label}内办结"
    content = [
        {"service_request_id": str(ticket.id), "service_notice": notice, "account_id": account_id}
    ]
    return answer(fmt, "service_requests", content, 201)


@router.post("/requests.{fmt}", summary="Open311 提交诉求 / submit a request")
async def post_request(fmt: str, request: Request) -> Response:
    """Form-encoded, as the specification says (``application/x-www-form-urlencoded``)."""
    kernel = _kernel(request)
    shown = fmt if fmt in FORMATS else "xml"
    try:
        chosen = format_of(fmt)
        sent = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if sent not in ("", *FORM_TYPES):
            raise Open311Error(
                400,
                "content-type: 应为表单 application/x-www-form-urlencoded / send a form",
            )
        try:
            form = await request.form()
        except StarletteHTTPException as exc:
            raise Open311Error(
                400, f"request: 表单无法解析 / unreadable form ({exc.detail})"
            ) from None
        pairs = [*form.multi_items()]
        if not any(k == "api_key" for k, _ in pairs):
            header = request.headers.get("x-api-key") or request.query_params.get("api_key")
            if header:
                pairs.append(("api_key", header))
        inputs = Inputs(pairs)
        return await run_in_threadpool(_create, kernel, inputs, chosen)
    except Open311Error as exc:
        return error_answer(shown, exc)


# -- reading -------------------------------------------------------------------------------


def _reader(session: Session, kernel: Kernel, request: Request, inputs: Inputs) -> str | None:
    """Who reads: ``None`` for the public, or the label of a key holding ``ticket.read``
    (``api_key`` parameter or ``X-Api-Key`` header; a wrong key is a 403)."""
    raw = inputs.one("api_key", 200) or request.headers.get("x-api-key", "").strip() or None
    return None if raw is None else _reading_as(kernel, _key_actor(session, raw))


def _reading_as(kernel: Kernel, actor: Actor) -> str | None:
    """The audit label of a reading key that holds ``ticket.read``: it sees what it filed."""
    return actor.label if actor.paths_with(kernel.access, lifecycle.READ) else None


def _visible(township: Unit, reader: str | None) -> ColumnElement[bool]:
    """Reported in the township; public (neither confidential nor anonymous), or filed by
    the reading key."""
    origin = col(Ticket.origin_code)
    within = and_(origin >= township.path, origin < path_upper_bound(township.path))
    public = and_(
        col(Ticket.confidential).is_(False),
        col(Ticket.anonymous).is_(False),
        col(Ticket.type).not_in(NEVER_PUBLISHED),  # 法律纠纷: counts only, never one by one
    )
    own = false() if reader is None else col(Ticket.created_by) == reader
    return and_(within, or_(public, own))


def _views(
    session: Session, kernel: Kernel, tickets: list[Ticket], reader: str | None
) -> list[dict[str, Any]]:
    """The tickets as Open311 service requests (what each shows: the module's docstring)."""
    codes = {t.unit_code for t in tickets} | {t.origin_code for t in tickets}
    named = select(col(Unit.code), col(Unit.name)).where(col(Unit.code).in_(codes))
    units: dict[str, str] = dict(session.exec(named).all()) if codes else {}
    kinds = service.catalog_of(kernel).types
    zone = ZoneInfo(kernel.settings.timezone)
    found = []
    for ticket in tickets:
        kind = kinds.get(ticket.type)
        label = kind.label if kind else ticket.type
        state = state_label(ticket.state)
        own = reader is not None and ticket.created_by == reader
        if own or (ticket.public and not ticket.public_summary):
            description = ticket.description
        else:
            description = ticket.public_summary or f"{label}（{state}）"
        closed = ticket.state in CLOSED
        found.append(
            {
                "service_request_id": str(ticket.id),
                "status": "closed" if closed else "open",
                "status_notes": state,
                "service_name": label,
                "service_code": ticket.type,
                "description": description,
                "agency_responsible": units.get(ticket.unit_code),
                "service_notice": None,
                "requested_datetime": w3c(ticket.submitted_at, zone),
                "updated_datetime": w3c(ticket.updated_at, zone),
                "expected_datetime": None if closed else w3c(ticket.due_at, zone),
                "address": (ticket.address if own else None) or units.get(ticket.origin_code),
                "address_id": None,
                "zipcode": None,
                "lat": ticket.latitude if own else None,
                "long": ticket.longitude if own else None,
                "media_url": ticket.media_url if own else None,
            }
        )
    return found


def _ids(raw: str) -> list[int]:
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit() and 1 <= int(part) <= DB_INT_MAX):
            raise Open311Error(
                400, f"service_request_id: {part[:20]!r} 不是有效的编号 / not a request id"
            )
        ids.append(int(part))
    if len(ids) > MAX_REQUESTS:
        raise Open311Error(400, f"service_request_id: 最多 {MAX_REQUESTS} 个 / at most 1000")
    return ids


def _choices(name: str, raw: str, known: Iterable[str]) -> list[str]:
    known = list(known)
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    for part in chosen:
        if part not in known:
            raise Open311Error(
                400, f"{name}: {part[:40]!r} 应为以下之一 / one of: {', '.join(known)}"
            )
    return chosen


def _filters(kernel: Kernel, inputs: Inputs) -> list[ColumnElement[bool]]:
    """The list's filters; ``service_request_id`` overrides the others."""
    if (ids := inputs.joined("service_request_id", 20_000)) is not None:
        return [col(Ticket.id).in_(_ids(ids))]
    found: list[ColumnElement[bool]] = []
    if (codes := inputs.joined("service_code", 4000)) is not None:
        known = service.catalog_of(kernel).types
        found.append(col(Ticket.type).in_(_choices("service_code", codes, known)))
    if (statuses := inputs.joined("status", 100)) is not None:
        chosen = set(_choices("status", statuses, ("open", "closed")))
        if chosen == {"open"}:
            found.append(col(Ticket.state).not_in(CLOSED))
        elif chosen == {"closed"}:
            found.append(col(Ticket.state).in_(CLOSED))
    start_raw, end_raw = inputs.one("start_date", 40), inputs.one("end_date", 40)
    start = None if start_raw is None else parse_w3c("start_date", start_raw)
    end = None if end_raw is None else parse_w3c("end_date", end_raw)
    if end is None:
        end = start + SPAN if start is not None else kernel.workflows.clock()
    if start is None:
        start = end - SPAN
    if end < start:
        raise Open311Error(400, "end_date: 不能早于 start_date / end_date is before start_date")
    if end - start > SPAN:
        raise Open311Error(400, "end_date: 查询范围不能超过 90 天 / the range spans over 90 days")
    found += [col(Ticket.submitted_at) >= start, col(Ticket.submitted_at) <= end]
    return found


@router.get("/requests.{fmt}", summary="Open311 诉求列表 / service requests")
def list_requests(fmt: str, request: Request) -> Response:
    kernel = _kernel(request)

    def produce(fmt: str) -> Response:
        inputs = Inputs(request.query_params.multi_items())
        with _session(kernel) as session:
            reader = _reader(session, kernel, request, inputs)
            township = _jurisdiction(session, kernel, inputs)
            query = (
                select(Ticket)
                .where(_visible(township, reader), *_filters(kernel, inputs))
                .order_by(col(Ticket.submitted_at).desc(), col(Ticket.id).desc())
                .limit(MAX_REQUESTS)
            )
            tickets = list(session.exec(query))
            return answer(fmt, "service_requests", _views(session, kernel, tickets, reader))

    return _answered(fmt, produce)


@router.get("/requests/{request_id}.{fmt}", summary="Open311 单个诉求 / one service request")
def get_request(request_id: str, fmt: str, request: Request) -> Response:
    kernel = _kernel(request)

    def produce(fmt: str) -> Response:
        inputs = Inputs(request.query_params.multi_items())
        with _session(kernel) as session:
            reader = _reader(session, kernel, request, inputs)
            township = _jurisdiction(session, kernel, inputs)
            if not (request_id.isascii() and request_id.isdigit()):
                raise Open311Error(404, NOT_FOUND)
            number = int(request_id)
            found = None
            if 1 <= number <= DB_INT_MAX:
                found = session.exec(
                    select(Ticket).where(col(Ticket.id) == number, _visible(township, reader))
                ).first()
            if found is None:
                raise Open311Error(404, NOT_FOUND)
            return answer(fmt, "service_requests", _views(session, kernel, [found], reader))

    return _answered(fmt, produce)


@router.get("/tokens/{token}.{fmt}", summary="Open311 令牌（不使用）/ tokens (not used)")
def get_token(token: str, fmt: str) -> Response:
    """Every request gets its id at once (``type`` ``realtime``): no token exists."""

    def produce(fmt: str) -> Response:
        raise Open311Error(
            404,
            "token: 没有此令牌：本服务提交即返回编号 / token not found: ids are returned at once",
        )

    return _answered(fmt, produce)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    summary="未知的 Open311 资源 / unknown resource",
)
def unknown(rest: str) -> Response:
    """Anything else under ``/open311/v2/`` (or another method): 404 in the spec's format."""
    fmt = "json" if rest.endswith(".json") else "xml"
    missing = Open311Error(
        404, "url: 没有这个 Open311 资源或方法 / no such Open311 resource or method"
    )
    return error_answer(fmt, missing)
