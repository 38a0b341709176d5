"""The one error the plugin's services raise: an HTTP status and a message naming the field.

A message starts with the field it is about (``item_id: …``, ``inputs.reason: …``), so the
API can answer 422 at that field and the pages can show it next to the input.
"""

from __future__ import annotations

from fastapi import HTTPException

NOT_FOUND = "代办单不存在或不在您的范围内 / no such order in your scope"


class ProxyError(HTTPException):
    """A refused request: 404 outside scope, 403 not allowed, 409 conflict, 422 bad input."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)


def invalid(field: str, reason: str) -> ProxyError:
    """422 naming ``field``."""
    return ProxyError(422, f"{field}: {reason}")
