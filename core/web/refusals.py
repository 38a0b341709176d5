"""Refusals shown where the user typed them: pydantic's validation errors and a service's
``"field: message"`` refusals, by field and in Chinese, for pages and JSON APIs alike.

A service refuses with ``HTTPException(422, "field: message")`` (the field a dotted path
such as ``inputs.result``); a page shows the message next to that field
(:func:`refusal_by_field`), an API answers FastAPI's own 422 shape with ``loc`` naming it
(:func:`fields_named`), and a form model's errors become the same ``{field: message}``
(:func:`field_errors`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

FIELD = re.compile(r"^([A-Za-z_][\w.\-]*): ")
PLACED = {"Idempotency-Key": "header", "unit": "query"}  # fields with a place of their own
# pydantic's error types in Chinese; ``{…}`` takes the error's context
MESSAGES = {
    "missing": "此项为必填项",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "不能为空",
    "string_pattern_mismatch": "格式不正确",
    "int_parsing": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "literal_error": "应为以下之一：{expected}",
    "date_parsing": "日期格式应为 年-月-日",
    "date_from_datetime_parsing": "日期格式应为 年-月-日",
    "datetime_parsing": "时间格式不正确",
    "datetime_from_date_parsing": "时间格式不正确",
    "too_long": "最多 {max_length} 项",
}


def validation_message(error: Any) -> str:
    """One pydantic error in Chinese: a validator's own message as it is, pydantic's by its
    type (its English when the type has no translation)."""
    text = str(error.get("msg", ""))
    if error.get("type") == "value_error":
        return text.removeprefix("Value error, ")
    template = MESSAGES.get(str(error.get("type")))
    if template is None:
        return text
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template.split("{")[0].rstrip("：: ")


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A model's validation errors by dotted field (the first for each), in Chinese."""
    found: dict[str, str] = {}
    for error in exc.errors():
        found.setdefault(".".join(str(p) for p in error["loc"]), validation_message(error))
    return found


def refusal_by_field(detail: Any) -> dict[str, str]:
    """A service refusal (``"field: message"``) as ``{field: message}``; ``""`` holds a
    message naming no field."""
    text = str(detail)
    named = FIELD.match(text)
    return {named.group(1): text[named.end() :]} if named else {"": text}


@contextmanager
def fields_named(where: str = "body") -> Iterator[None]:
    """In an API route: turn a service's 422 ``"field: message"`` into FastAPI's validation
    error at that field (``where`` is ``body`` or ``query``; ``Idempotency-Key`` is a
    header and ``unit`` a query parameter wherever they are named). Any other refusal
    passes through."""
    try:
        yield
    except HTTPException as exc:
        named = FIELD.match(exc.detail) if isinstance(exc.detail, str) else None
        if exc.status_code != 422 or named is None:
            raise
        field, message = named.group(1), exc.detail[named.end() :]
        if field in PLACED:
            loc: tuple[str, ...] = (PLACED[field], field)
        else:
            loc = (where, *field.split("."))
        raise RequestValidationError(
            [{"loc": loc, "msg": message, "type": "value_error"}]
        ) from None
