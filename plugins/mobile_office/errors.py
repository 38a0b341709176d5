"""Refusals of the plugin's services, each naming the field at fault.

Services raise :class:`Refusal` (an ``HTTPException`` whose detail reads ``"field: 消息 /
message"``, as the core's services do); the API turns a 422 into a validation error at
``["body", *field]`` and the pages show the message next to the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException

FIELD = re.compile(r"^([A-Za-z_][\w.\-]*): ")


class Refusal(HTTPException):
    """A refused request: a status and a message, naming ``field`` when there is one."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(status, f"{field}: {message}" if field else message)
        self.field = field


def split(detail: object) -> tuple[str | None, str]:
    """A detail ``"field: message"`` as ``(field, message)``; ``(None, text)`` otherwise."""
    text = str(detail)
    named = FIELD.match(text)
    return (named.group(1), text[named.end() :]) if named else (None, text)


@contextmanager
def fields_under(prefix: str, renamed: dict[str, str] | None = None) -> Iterator[None]:
    """Re-raise a core service's 422 naming ``field`` as naming ``prefix.field``.

    ``renamed`` maps a core field to this plugin's (a workflow's ``inputs.answer`` is the
    request's ``answer``). Other refusals pass unchanged.
    """
    try:
        yield
    except HTTPException as exc:
        field, message = split(exc.detail)
        if exc.status_code != 422 or field is None:
            raise
        if renamed and field in renamed:
            raise Refusal(422, message, renamed[field]) from None
        raise Refusal(422, message, f"{prefix}.{field}" if prefix else field) from None
