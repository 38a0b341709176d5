"""Input types of the plugin's bodies and forms: the core's trimmed text (without NUL) under
the names the plugin uses, phone numbers and row ids, so that bad input is a 422 naming the
field and the database never refuses what the API let through.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from core import DB_INT_MAX, OptionalText, RequiredText, TrimmedText, clean_text

Line = TrimmedText
Required = RequiredText
Optional = OptionalText
Phone = Annotated[str, Field(pattern=r"^\d{7,20}$", description="7–20 位数字")]
RowId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]

__all__ = ["DB_INT_MAX", "Line", "Optional", "Phone", "Required", "RowId", "clean_text"]
