"""Input types of the plugin's bodies and forms: the core's trimmed text (without NUL) under
the names the plugin uses, row ids, and floor areas as exact decimals with at most two
places. Bad input is a 422 naming the field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from core import DB_INT_MAX, OptionalText, RequiredText

MAX_AREA = 100_000_00  # 100,000 m² in hundredths: more than any one 专有部分


def hundredths(value: object) -> int:
    """A floor area in square metres (``"89.5"``, ``89.5``, ``90``) as an exact number of
    hundredths of a square metre; more than two decimal places, zero or less are refused."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("应为面积数字，如 89.50 / must be a number of square metres")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("应为面积数字，如 89.50 / must be a number of square metres") from None
    scaled = amount * 100
    if not amount.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError("面积最多保留两位小数 / at most two decimal places")
    if not 0 < scaled <= MAX_AREA:
        raise ValueError("面积应大于 0 且不超过 100000 平方米 / out of range")
    return int(scaled)


def square_metres(value: int) -> str:
    """Hundredths of a square metre as text: ``8950`` → ``"89.50"``."""
    return f"{value // 100}.{value % 100:02d}"


Required = RequiredText
Optional = OptionalText
RowId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
Area = Annotated[
    int,
    BeforeValidator(hundredths),
    WithJsonSchema(
        {"type": "string", "examples": ["89.50"], "description": "平方米，最多两位小数"}
    ),
]
