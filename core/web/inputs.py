"""Input types shared by the routes, so that bad input is a 422 naming the field, never a 500.

* :data:`RowId`: a row id in a path, within the database's ``INTEGER`` (SQLite raises
  ``OverflowError`` past 64 bits, PostgreSQL refuses numbers past its column's range).
* :data:`Offset`: how many rows a list skips; bounded so that no driver overflows.
* :data:`Text` (and :func:`no_nul`): text without a NUL character, which PostgreSQL
  refuses in any text value (and SQLite would store, silently differing from PostgreSQL).
* :data:`TrimmedText`, :data:`RequiredText`, :data:`OptionalText` (and :func:`clean_text`):
  the same, trimmed; required text refuses an empty value, optional text makes it ``None``.
  For request bodies and form models (422 naming the field).

Use them in route signatures and request models::

    def get_thing(thing_id: RowId, q: Annotated[str | None, Query(None), AfterValidator(no_nul)])

:mod:`core.web.errors` also answers 422 to the database's own refusals
(``DataError``, ``OverflowError``) as a safety net, but a typed parameter names the field.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator

DB_INT_MAX = 2**31 - 1  # the smallest INTEGER of the supported databases (PostgreSQL int4)
OFFSET_MAX = 1_000_000
NUL_MESSAGE = "不能含有 NUL 字符 / must not contain a NUL character"

S = TypeVar("S", bound=str | None)


def no_nul(value: S) -> S:
    """Refuse text holding a NUL character (pydantic reports it under the field's name)."""
    if value is not None and "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


Text = Annotated[str, AfterValidator(no_nul)]
RowId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="编号 / id")]
Offset = Annotated[
    int, Query(ge=0, le=OFFSET_MAX, description="跳过的条数 / rows to skip (at most 1,000,000)")
]


def clean_text(value: str) -> str:
    """Trimmed text; refuses a NUL character."""
    return no_nul(value).strip()


def required_text(value: str) -> str:
    """Trimmed text that is not empty."""
    value = clean_text(value)
    if not value:
        raise ValueError("不能为空 / must not be empty")
    return value


def optional_text(value: str | None) -> str | None:
    """Trimmed text, ``None`` when empty."""
    if value is None:
        return None
    return clean_text(value) or None


TrimmedText = Annotated[str, AfterValidator(clean_text)]
RequiredText = Annotated[str, AfterValidator(required_text)]
OptionalText = Annotated[str | None, AfterValidator(optional_text)]
