"""JSON API of the audit log: ``GET /api/v1/audit`` and ``GET /api/v1/audit/export``.

Read-only by design: no route here (nor anywhere) updates or deletes an entry, and the
database refuses both (triggers of the core migration; ``tests/test_toggles.py``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, field_serializer
from sqlmodel import Session

from core.audit.models import AuditEntry
from core.audit.search import (
    PERMISSION,
    AuditFilters,
    Cursor,
    FilterError,
    count_upto,
    iterate,
    newest_id,
    parse_filters,
    search,
)
from core.audit.service import record
from core.db.engine import get_session
from core.db.types import utcnow
from core.identity.access import AccessCatalog, Actor
from core.identity.web import access_catalog, require_permission

router = APIRouter(prefix="/audit", tags=["audit"])

EXPORT_MAX_ROWS = 100_000  # an export stops here, and says so (header and last line)
PAGE_MAX = 500


class AuditOut(BaseModel):
    """One audit entry; ``at`` in ISO 8601 with its zone (UTC)."""

    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    unit_code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: str | None

    @field_serializer("at")
    def _iso(self, at: datetime) -> str:
        return at.isoformat()


def invalid(error: FilterError) -> RequestValidationError:
    """A 422 whose details name each bad query parameter, like FastAPI's own."""
    return RequestValidationError(
        [
            {"loc": ("query", name), "msg": message, "type": "value_error"}
            for name, message in error.errors
        ]
    )


def audit_filters(
    actor: str | None = Query(
        None, description="操作人，精确或以 * 结尾的前缀（如 login:*）/ exact, or prefix with *"
    ),
    action: str | None = Query(
        None, description="操作，精确或前缀（auth. 或 auth*）/ exact, or a prefix (auth.)"
    ),
    target_type: str | None = Query(None, description="对象类型 / exact"),
    target_id: str | None = Query(None, description="对象编号 / exact"),
    unit: str | None = Query(None, description="单位及其下级 / this unit's subtree"),
    since: str | None = Query(
        None, description="起始时间（含），ISO 8601 带时区 / from (inclusive), with zone"
    ),
    until: str | None = Query(
        None, description="截止时间（不含），ISO 8601 带时区 / until (exclusive), with zone"
    ),
) -> AuditFilters:
    """Dependency: the validated filters (422 naming each bad one)."""
    raw = {
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "unit": unit,
        "since": since,
        "until": until,
    }
    try:
        return parse_filters(raw)
    except FilterError as error:
        raise invalid(error) from None


def out(entry: AuditEntry) -> AuditOut:
    return AuditOut.model_validate(entry, from_attributes=True)


@router.get(
    "",
    summary="查询审计日志（辖区内）/ search the audit log in your scope",
    response_model=list[AuditOut],
    responses={422: {"description": "无效的筛选条件 / a filter is invalid (named in loc)"}},
)
def list_audit(
    request: Request,
    response: Response,
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
    filters: AuditFilters = Depends(audit_filters),
    cursor: str | None = Query(
        None, description="上一页响应头 X-Sanmin-Next-Cursor 的值 / from the previous page"
    ),
    limit: int = Query(100, ge=1, le=PAGE_MAX),
    session: Session = Depends(get_session),
) -> list[AuditOut]:
    """Newest first. When more entries follow, the response carries ``X-Sanmin-Next-Cursor``
    and a ``Link: <…>; rel="next"`` header for the next (older) page."""
    try:
        after = Cursor.parse(cursor) if cursor else None
    except FilterError as error:
        raise invalid(error) from None
    page = search(session, actor, access, filters, limit=limit, cursor=after)
    if page.next is not None:
        response.headers["X-Sanmin-Next-Cursor"] = str(page.next)
        response.headers["Link"] = (
            f'<{request.url.include_query_params(cursor=str(page.next))}>; rel="next"'
        )
    return [out(entry) for entry in page.entries]


# -- export --------------------------------------------------------------------------------

CSV_HEADER = (
    "编号 id",
    "时间(UTC) at",
    "操作人 actor",
    "操作 action",
    "对象类型 target_type",
    "对象 target_id",
    "单位 unit_code",
    "变更前 before",
    "变更后 after",
    "来源 source",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell. Text that a spreadsheet would run as a formula (a username typed at a
    failed login can be anything) is prefixed with ``'`` so that it stays text."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_row(entry: AuditEntry) -> list[str]:
    return [
        cell(entry.id),
        entry.at.isoformat(),
        cell(entry.actor),
        cell(entry.action),
        cell(entry.target_type),
        cell(entry.target_id),
        cell(entry.unit_code),
        cell(entry.before),
        cell(entry.after),
        cell(entry.source),
    ]


def csv_lines(entries: Iterator[AuditEntry], truncated: bool, cap: int) -> Iterator[str]:
    """The CSV text in pieces: a UTF-8 BOM (so that Excel reads the Chinese right), the
    header, the rows, and a last line saying so when the export stopped at ``cap``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def drain() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + drain()
    for n, entry in enumerate(entries, 1):
        writer.writerow(csv_row(entry))
        if n % 500 == 0:
            yield drain()
    if truncated:
        writer.writerow(
            [f"# 已截断：只导出了最新的 {cap} 条，请缩小筛选范围 / truncated to the newest {cap}"]
        )
    yield drain()


def export_unit(actor: Actor, access: AccessCatalog, filters: AuditFilters) -> str | None:
    """Where an export is recorded: the filtered unit when it lies in the actor's scope,
    else the actor's outermost unit with ``audit.read`` (so that the exporter's peers and
    superiors see it)."""
    if filters.unit and actor.role_allows(access, PERMISSION, filters.unit):
        return filters.unit
    held = sorted(
        (r for r in actor.roles if access.grants(r.role, PERMISSION)), key=lambda r: len(r.path)
    )
    return held[0].unit_code if held else None


@router.get(
    "/export",
    summary="导出审计日志 CSV（辖区内）/ export the audit log as CSV",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": "UTF-8 CSV with a BOM; X-Sanmin-Truncated says whether it stopped "
            f"at {EXPORT_MAX_ROWS} rows",
        },
        422: {"description": "无效的筛选条件 / a filter is invalid (named in loc)"},
    },
)
def export_audit(
    request: Request,
    actor: Actor = Depends(require_permission(PERMISSION)),
    access: AccessCatalog = Depends(access_catalog),
    filters: AuditFilters = Depends(audit_filters),
    export_format: Literal["csv"] = Query("csv", alias="format", description="只支持 csv"),
) -> StreamingResponse:
    """Every entry the search would show (all pages), newest first, up to the cap. The
    export itself is audited (``audit.export``, with the filters and the row count) before
    the first byte is sent."""
    kernel = request.app.state.kernel
    cap = EXPORT_MAX_ROWS
    with Session(kernel.engine) as session:
        max_id = newest_id(session)
        total = count_upto(session, actor, access, filters, cap, max_id)
        truncated = total > cap
        rows = min(total, cap)
        record(
            session,
            actor=actor.label,
            action="audit.export",
            target_type="audit_log",
            target_id=export_format,
            unit_code=export_unit(actor, access, filters),
            after={
                "format": export_format,
                "filters": filters.as_params(),
                "rows": rows,
                "truncated": truncated,
                "up_to_id": max_id,
            },
            source=request.client.host if request.client else None,
        )
        session.commit()
    entries = iterate(kernel.engine, actor, access, filters, max_rows=cap, max_id=max_id)
    stamp = utcnow().strftime("%Y%m%d-%H%M%SZ")
    filename = f"sanmin-audit-{stamp}.csv"
    localized = quote(f"审计日志-{stamp}.csv")
    return StreamingResponse(
        csv_lines(entries, truncated, cap),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{filename}\"; filename*=UTF-8''{localized}"
            ),
            "X-Sanmin-Truncated": "true" if truncated else "false",
            "X-Sanmin-Rows": str(rows),
            "Cache-Control": "no-store",
        },
    )
