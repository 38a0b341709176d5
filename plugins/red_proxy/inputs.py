"""Input types of the plugin's bodies and forms: text trimmed, without NUL, bounded, so that
bad input is a 422 naming the field and the database never refuses what the API let through.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

DB_INT_MAX = 2**31 - 1
NUL = "不能含有 NUL 字符 / must not contain a NUL character"


def clean_text(value: str) -> str:
    """Trimmed text; refuses a NUL character."""
    if "\x00" in value:
        raise ValueError(NUL)
    return value.strip()


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


Line = Annotated[str, AfterValidator(clean_text)]
Required = Annotated[str, AfterValidator(required_text)]
Optional = Annotated[str | None, AfterValidator(optional_text)]
Phone = Annotated[str, Field(pattern=r"^\d{7,20}$", description="7–20 位数字")]
RowId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
