"""Error responses: JSON for the API, a page for browsers; never a traceback."""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.identity.web import CsrfFailed, Forbidden, NotAuthenticated
from core.plugins.errors import PluginDisabled
from core.units.codes import UnitCodeError
from core.units.service import UnitNotFound

log = logging.getLogger("sanmin.web")

BUSY = "系统繁忙，请稍后重试 / the database is busy: retry in a moment"
REFUSED_INPUT = (
    "输入超出范围或含有不允许的字符 / input out of range or contains a character the "
    "database refuses"
)

TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "未找到",
    409: "冲突",
    422: "输入有误",
    500: "服务器错误",
}


# Chinese for pydantic's validation errors (its messages are English only), by error type;
# ``{name}`` is filled from the error's context. Messages a route wrote itself are Chinese
# already and kept as they are.
VALIDATION_ZH = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "decimal_parsing": "应为数字",
    "bool_parsing": "应为“是”或“否”",
    "bool_type": "应为“是”或“否”",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式应为 YYYY-MM-DDTHH:MM",
    "datetime_from_date_parsing": "时间格式应为 YYYY-MM-DDTHH:MM",
    "less_than_equal": "不能大于 {le}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "应小于 {lt}",
    "greater_than": "应大于 {gt}",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文字",
    "json_invalid": "不是有效的 JSON",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "extra_forbidden": "不接受此字段",
}


def chinese_first(error: dict) -> str:  # type: ignore[type-arg]
    """A validation error's message, Chinese first (``中文 / English``)."""
    message = str(error.get("msg", ""))
    if any("\u4e00" <= ch <= "\u9fff" for ch in message):
        return message
    template = VALIDATION_ZH.get(str(error.get("type", "")))
    if template is None:
        return message
    try:
        chinese = template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        chinese = template.split("{")[0].rstrip("：: ") or template
    return f"{chinese} / {message}"


def wants_html(request: Request) -> bool:
    """Pages for browsers, JSON for the API and for clients that do not ask for HTML."""
    path = request.url.path
    if path.startswith(("/api/", "/open311/")) or path == "/metrics":
        return False
    return "text/html" in request.headers.get("accept", "")


async def error_response(
    request: Request, status_code: int, detail: object, extra: dict | None = None
) -> Response:
    if not wants_html(request):
        return JSONResponse({"detail": detail, **(extra or {})}, status_code=status_code)
    from core.web.render import render

    message = plain_message(detail)
    try:
        return await render(
            request,
            "core/error.html",
            {
                "status_code": status_code,
                "title": TITLES.get(status_code, "出错了"),
                "message": message,
            },
            status_code=status_code,
        )
    except Exception:  # an error page must never fail: fall back to one without the layout
        log.exception("Error page failed to render; sending a plain one")
        body = f"<!doctype html><meta charset=utf-8><h1>{status_code}</h1><p>{escape(message)}</p>"
        return HTMLResponse(body, status_code=status_code)


def plain_message(detail: object) -> str:
    """An error detail (a string, or FastAPI's list of validation errors) as one line."""
    if isinstance(detail, str):
        return detail
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
        for e in detail  # type: ignore[union-attr]
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn kernel errors into 4xx answers."""

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return JSONResponse(
            {"detail": "需要登录 / authentication required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return await error_response(request, 403, str(exc), {"permission": exc.permission})

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return await error_response(
            request, 403, "csrf_token: 表单已过期，请刷新页面后重试 / missing or wrong CSRF token"
        )

    @app.exception_handler(PluginDisabled)
    async def plugin_disabled(request: Request, exc: PluginDisabled) -> Response:
        return await error_response(
            request, 404, str(exc), {"plugin": exc.plugin, "unit": exc.unit_code}
        )

    @app.exception_handler(UnitNotFound)
    async def unit_not_found(request: Request, exc: UnitNotFound) -> Response:
        return await error_response(request, 404, str(exc), {"unit": exc.code})

    @app.exception_handler(UnitCodeError)
    async def bad_unit_code(request: Request, exc: UnitCodeError) -> Response:
        return await error_response(request, 400, f"unit: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = (
            exc.detail
            if exc.status_code != 404 or exc.detail != "Not Found"
            else "页面不存在 / not found"
        )
        response = await error_response(request, exc.status_code, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e["loc"]), "msg": chinese_first(e), "type": e["type"]}
            for e in exc.errors()
        ]
        return await error_response(request, 422, errors)

    async def refused_input(request: Request, exc: Exception) -> Response:
        """The database (or its driver) refused a value the route let through: a number past
        its range, a NUL in text. A 422, logged as a warning without a traceback; routes
        should bound their input (:mod:`core.web.inputs`) so that the field gets named."""
        cause = getattr(exc, "orig", None) or exc
        first = str(cause).splitlines()[0] if str(cause) else ""
        log.warning(
            "Input refused on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(cause).__name__,
            first[:200],
        )
        return await error_response(request, 422, REFUSED_INPUT)

    app.add_exception_handler(DataError, refused_input)
    app.add_exception_handler(OverflowError, refused_input)

    @app.exception_handler(OperationalError)
    async def busy_or_broken(request: Request, exc: OperationalError) -> Response:
        """SQLite's writer lock not won within its busy timeout (many concurrent writers on
        the embedded database): nothing was written, so a 503 asking for a retry (which
        ``Idempotency-Key`` makes safe), not a 500. Any other operational error is one."""
        if "database is locked" not in str(exc.orig):
            return await unexpected(request, exc)
        log.warning("Database busy on %s %s: answered 503", request.method, request.url.path)
        response = await error_response(request, 503, BUSY)
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return await error_response(request, 500, "服务器内部错误，已记录 / internal error, logged")
