"""The audit log page: ``GET /admin/audit``, a filter form and the entries in scope.

The form is a GET (nothing changes, so no CSRF token); times typed without a zone are
read as Beijing time, the zone the page shows them in.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from core.audit.api import PAGE_MAX
from core.audit.search import (
    BEIJING,
    FIELDS,
    PERMISSION,
    AuditFilters,
    Cursor,
    FilterError,
    Page,
    parse_filters,
    search,
    sees_unitless,
)
from core.identity.access import AccessCatalog, Actor
from core.identity.web import require_permission
from core.units.models import Unit
from core.web.render import render

pages = APIRouter()

PAGE_SIZE = 50
FIELD_LABELS = {
    "actor": "操作人",
    "action": "操作",
    "target_type": "对象类型",
    "target_id": "对象",
    "unit": "单位",
    "since": "起始时间",
    "until": "截止时间",
    "cursor": "翻页",
    "limit": "每页条数",
}
ACTION_PREFIXES = {
    "auth.": "登录与退出",
    "account.": "账号",
    "role.": "角色",
    "apikey.": "API key",
    "plugin.": "插件启停",
    "read.": "敏感信息查看",
    "audit.": "审计日志导出",
}


def local_time(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def as_json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load(
    engine: Any,
    actor: Actor,
    access: AccessCatalog,
    filters: AuditFilters,
    limit: int,
    cursor: Cursor | None,
    also: list[str],
) -> tuple[Page, dict[str, str]]:
    """One page of entries (none when ``limit`` is 0) and the names of the units they
    and ``also`` name."""
    with Session(engine) as session:
        page = (
            search(session, actor, access, filters, limit=limit, cursor=cursor)
            if limit
            else Page([], None)
        )
        codes = {e.unit_code for e in page.entries if e.unit_code} | set(also)
        names = (
            dict(session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(codes))).all())
            if codes
            else {}
        )
    return page, names


@pages.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request, actor: Actor = Depends(require_permission(PERMISSION))
) -> Response:
    kernel = request.app.state.kernel
    access: AccessCatalog = kernel.access
    params = request.query_params
    form = {name: (params.get(name) or "").strip() for name in FIELDS}
    errors: list[tuple[str, str]] = []
    filters = AuditFilters()
    try:
        filters = parse_filters(form, assume=BEIJING)
    except FilterError as error:
        errors.extend(error.errors)
    cursor: Cursor | None = None
    if params.get("cursor"):
        try:
            cursor = Cursor.parse(params["cursor"])
        except FilterError as error:
            errors.extend(error.errors)
    limit = PAGE_SIZE
    if params.get("limit"):
        try:
            limit = int(params["limit"])
            if not 1 <= limit <= PAGE_MAX:
                raise ValueError
        except ValueError:
            errors.append(("limit", f"应为 1–{PAGE_MAX} 的整数 / an integer from 1 to {PAGE_MAX}"))
            limit = PAGE_SIZE

    scope_codes = sorted({r.unit_code for r in actor.roles if access.grants(r.role, PERMISSION)})
    page, names = await run_in_threadpool(
        _load, kernel.engine, actor, access, filters, 0 if errors else limit, cursor, scope_codes
    )
    kept = {name: value for name, value in form.items() if value}
    if limit != PAGE_SIZE:
        kept["limit"] = str(limit)
    rows = [
        {
            "entry": e,
            "local": local_time(e.at),
            "unit_name": names.get(e.unit_code or ""),
            "before": as_json(e.before),
            "after": as_json(e.after),
        }
        for e in page.entries
    ]
    return await render(
        request,
        "core/audit.html",
        {
            "form": form,
            "errors": [(FIELD_LABELS.get(name, name), message) for name, message in errors],
            "error_fields": {name for name, _ in errors},
            "rows": rows,
            "first_page": cursor is None,
            "newest_href": f"/admin/audit?{urlencode(kept)}" if kept else "/admin/audit",
            "next_href": (
                f"/admin/audit?{urlencode({**kept, 'cursor': str(page.next)})}"
                if page.next
                else None
            ),
            "export_href": (
                None
                if errors
                else f"/api/v1/audit/export?{urlencode({'format': 'csv', **filters.as_params()})}"
            ),
            "scope_units": [(code, names.get(code, code)) for code in scope_codes],
            "sees_unitless": sees_unitless(actor, access),
            "action_prefixes": ACTION_PREFIXES,
            "unit_code": filters.unit,  # the layout's home link: only a valid code
        },
        status_code=422 if errors else 200,
    )
