"""What the plugin's pages share: links at the request's unit, rendering with the common
context, form values read and validated with the API's models, refusals turned into
messages next to their fields, and the ticket part of a 转办 form."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from core import Actor, Kernel, TicketType, UnitNotFound, get_unit, render

from . import referral
from .deps import kernel_of
from .errors import split
from .schemas import NATURES, RESULTS, SOURCES, URGENCIES
from .scoping import request_township, zone_of
from .workflows import CALL_STATES, TRIP_STATES

BASE = "/p/mobile_office"
DONE = {
    "call": "来电已登记，请值班领导研判。",
    "answer": "已直接答复，来电办结。",
    "trip": "已派车。",
    "transfer": "已转办，生成工单。",
    "settle": "协调已办结。",
    "feedback": "已记录来电人评价。",
    "trip_new": "出车单已生成。",
    "depart": "已出发。",
    "arrive": "已到场，来电到场时间已记录。",
    "finish": "已返回。",
    "record": "现场处置记录已保存。",
    "closed": "当日已日清日结。",
}
# The ticket type a call of each category most likely becomes (the duty leader may change it).
CHINESE = {
    "missing": "为必填项",
    "string_type": "为必填项",
    "string_too_short": "不能为空",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不对",
    "literal_error": "请从选项中选择",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "date_parsing": "日期格式应为 年-月-日",
    "date_from_datetime_parsing": "日期格式应为 年-月-日",
    "datetime_parsing": "时间格式应为 年-月-日 时:分",
    "datetime_from_date_parsing": "时间格式应为 年-月-日 时:分",
    "too_short": "至少选择一项",
    "too_long": "选择过多",
    "bool_parsing": "应为是或否",
    "extra_forbidden": "不认识的字段",
}
M = TypeVar("M", bound=BaseModel)


def page_session(request: Request) -> Session:
    """A session whose objects stay readable after commit."""
    return Session(kernel_of(request).engine, expire_on_commit=False)


def page_actor(request: Request) -> Actor:
    """The signed-in actor (the township guard requires one)."""
    actor = getattr(request.state, "actor", None)
    if actor is None:
        raise HTTPException(401, "需要登录 / authentication required")
    return actor


def page_unit(request: Request) -> str:
    """The unit the page is about."""
    return request.state.scope.unit.code


def page_township(request: Request) -> str:
    """The township the page is about."""
    return request_township(request.state.scope)


def link(request: Request, path: str, **params: Any) -> str:
    """A page of the plugin at the request's unit, with query parameters."""
    query = {"unit": page_unit(request), **{k: v for k, v in params.items() if v is not None}}
    return f"{BASE}{path}?{urlencode(query, doseq=True)}"


def allowed(request: Request, permission: str, unit_code: str | None = None) -> bool:
    """Whether the viewer holds ``permission`` at a unit (the page's by default)."""
    return kernel_of(request).allowed(
        page_actor(request), permission, unit_code or page_unit(request)
    )


def need(request: Request, permission: str, unit_code: str | None = None) -> None:
    """403 naming ``permission`` unless the viewer holds it there."""
    if not allowed(request, permission, unit_code):
        raise HTTPException(403, f"没有权限 {permission} / permission {permission!r} required")


def problem(error: Any) -> str:
    """A pydantic error in Chinese, with pydantic's English after it."""
    chinese = CHINESE.get(error["type"])
    return f"{chinese} / {error['msg']}" if chinese else str(error["msg"])


def errors_of(exc: Exception) -> dict[str, str]:
    """A refusal as ``{field: message}``; ``""`` holds a message naming no field."""
    if isinstance(exc, ValidationError):
        found: dict[str, str] = {}
        for error in exc.errors():
            found.setdefault(".".join(str(p) for p in error["loc"]), problem(error))
        return found
    assert isinstance(exc, HTTPException)
    field, message = split(exc.detail)
    return {field or "": message}


async def attempt(work: Callable[[], Any]) -> tuple[Any, dict[str, str], int]:
    """Run a write in the threadpool: its result, or the refusal's messages and status.

    403 and 404 are raised as they are (the error page); 409 and 422 come back to show on
    the form."""
    try:
        return await run_in_threadpool(work), {}, 200
    except ValidationError as exc:
        return None, errors_of(exc), 422
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return None, errors_of(exc), exc.status_code


def text_of(form: FormData, name: str) -> str:
    """A form value, trimmed (empty when missing)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional_of(form: FormData, name: str) -> str | None:
    """A form value, trimmed, ``None`` when empty."""
    return text_of(form, name) or None


def ids_of(form: FormData, name: str) -> list[str]:
    """The non-empty values of a repeated form field (ticked boxes)."""
    return [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate the form's values with the API's model (the same rules and messages)."""
    return model.model_validate(data)


def when(kernel: Kernel) -> Callable[[datetime | None], str]:
    """How pages show a moment: local time, to the minute."""
    zone = zone_of(kernel)

    def shown(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "—"

    return shown


async def page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """Render one of the plugin's templates with what every page uses."""
    kernel = kernel_of(request)
    done = request.query_params.get("done", "")
    values = {
        "base": BASE,
        "link": lambda path, **params: link(request, path, **params),
        "when": when(kernel),
        "done": DONE.get(done),
        "call_states": CALL_STATES,
        "trip_states": TRIP_STATES,
        "urgencies": URGENCIES,
        "sources": SOURCES,
        "results": RESULTS,
        "may": lambda permission, unit=None: allowed(request, permission, unit),
        **context,
    }
    return await render(request, f"mobile_office/{template}", values, status_code=status)


def redirect(request: Request, path: str, **params: Any) -> Response:
    """303 to a page of the plugin at the request's unit (after a post)."""
    return RedirectResponse(link(request, path, **params), status_code=303)


def unit_name(session: Session, code: str) -> str:
    """A unit's name (its code when it is gone)."""
    try:
        return get_unit(session, code).name
    except UnitNotFound:
        return code


def ticket_state_label(kernel: Kernel, state: str) -> str:
    """The Chinese label of a core ticket's state, from the ticket workflow's declaration."""
    workflow = kernel.workflows.get("tickets", "ticket")
    found = workflow.state(state) if workflow is not None else None
    return found.label if found is not None else state


def new_key() -> str:
    """A fresh submission key for a rendered form (a double submit saves once)."""
    return secrets.token_urlsafe(16)


def ticket_from_form(
    kind: TicketType | None, form: FormData
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ticket part of a form (``ticket.*``): the body to validate and the values shown."""
    extra: dict[str, Any] = {}
    shown_extra: dict[str, Any] = {}
    for field in kind.form_fields if kind else ():
        name = f"ticket.extra.{field.name}"
        if field.kind == "multichoice":
            picked = ids_of(form, name)
            shown_extra[field.name] = picked
            if picked:
                extra[field.name] = [field.choice_value(v) for v in picked]
            continue
        raw = text_of(form, name)
        shown_extra[field.name] = raw
        if not raw:
            continue
        if field.kind == "choice":
            extra[field.name] = field.choice_value(raw)
        elif field.kind == "boolean":
            extra[field.name] = {"true": True, "false": False}.get(raw, raw)
        else:
            extra[field.name] = raw
    values = {
        "type": text_of(form, "ticket.type"),
        "title": text_of(form, "ticket.title"),
        "priority": text_of(form, "ticket.priority"),
        "nature": text_of(form, "ticket.nature") or "help",
        "extra": shown_extra,
    }
    body = {
        "type": values["type"],
        "title": values["title"] or None,
        "priority": values["priority"] or None,
        "nature": values["nature"],
        "extra": extra,
    }
    return body, values


def ticket_choice(
    kernel: Kernel, unit_code: str, wanted: str | None, fallback: str
) -> dict[str, Any]:
    """The ticket types offered at a unit and the one chosen (``wanted``, else ``fallback``)."""
    offered = referral.offered_types(kernel, unit_code)
    chosen = referral.find_type(kernel, unit_code, wanted) or referral.find_type(
        kernel, unit_code, fallback
    )
    chosen = chosen or (offered[0] if offered else None)
    return {"types": offered, "kind": chosen, "natures": NATURES}


def blank_ticket(kind: TicketType | None, title: str, priority: str) -> dict[str, Any]:
    """The ticket part of a form before anything is typed."""
    return {
        "type": kind.code if kind else "",
        "title": title,
        "priority": priority,
        "nature": "help",
        "extra": {f.name: "" for f in (kind.form_fields if kind else ())},
    }
