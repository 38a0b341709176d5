"""The one error the plugin's services raise: an HTTP status and a message naming the field.

A 422 message starts with the field it is about (``inputs.opens_at: …``, ``choice: …``), so
the API answers at that field and the pages show it next to the input; other refusals (403,
404, 409) name their reason in Chinese, with an English gloss.
"""

from __future__ import annotations

from fastapi import HTTPException

NOT_FOUND = "议题不存在或不在您的范围内 / no such matter in your scope"


class DeliberationError(HTTPException):
    """A refused request: 404 outside scope, 403 not allowed, 409 conflict, 422 bad input."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)


def invalid(field: str, reason: str) -> DeliberationError:
    """422 naming ``field``."""
    return DeliberationError(422, f"{field}: {reason}")
