"""Resident ID numbers (身份证号) and phone numbers: validation and masking.

:func:`stdnum.cn.ric.validate` checks the length, the digits, the ISO 7064 check digit, that
the birth date exists and that the region code was assigned in the birth year. It does not
know today's date: :func:`validate_id_number` also refuses a birth date in the future or
before 1900.
"""

from __future__ import annotations

import functools
import re
from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

EARLIEST_BIRTH = date(1900, 1, 1)
PHONE_RE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")  # mobile, or 区号-landline


class IdNumberError(ValueError):
    """An ID number that cannot be right; the message says why (中文 / English)."""


def validate_id_number(value: str, today: date | None = None) -> str:
    """The canonical 18-character ID number (upper-case ``X``), or :class:`IdNumberError`."""
    try:
        number = _validate(value)
    except InvalidChecksum as exc:
        raise IdNumberError("身份证号校验位错误 / the ID number's check digit is wrong") from exc
    except InvalidComponent as exc:
        raise IdNumberError(
            "身份证号的出生日期或地区码无效 / the ID number's birth date or region is invalid"
        ) from exc
    except ValidationError as exc:
        raise IdNumberError(
            "身份证号应为 18 位，前 17 位为数字 / 17 digits and a check character"
        ) from exc
    born = ric.get_birth_date(number)
    if born > (today or date.today()):
        raise IdNumberError("身份证号的出生日期在未来 / the ID number's birth date is future")
    if born < EARLIEST_BIRTH:
        raise IdNumberError("身份证号的出生日期早于 1900 年 / birth date before 1900")
    return number


def _validate(value: str) -> str:
    """:func:`stdnum.cn.ric.validate`, step for step, with its region lookup memoised.

    The lookup (``numdb``, which region codes existed in which year) depends only on the
    first six digits and the birth year, and costs most of a validation: an import of a
    county's archive validates the same few hundred regions a million times.
    """
    number = ric.compact(value)
    if len(number) != 18:
        raise InvalidLength()
    if not number[:-1].isascii() or not number[:-1].isdigit():
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    born = ric.get_birth_date(number)  # InvalidComponent when the date does not exist
    if not _region_existed(number[:6], born.year):
        raise InvalidComponent()
    return number


@functools.lru_cache(maxsize=65536)
def _region_existed(region: str, year: int) -> bool:
    """Whether region code ``region`` was assigned in ``year`` (stdnum's own lookup)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000")
    except InvalidComponent:
        return False
    return True


def birth_date_of(number: str) -> date:
    """The birth date written in a valid ID number."""
    return ric.get_birth_date(number)


def gender_of(number: str) -> str:
    """``male`` or ``female``, from the 17th digit of a valid ID number (odd for men)."""
    return "male" if int(number[16]) % 2 else "female"


def validate_phone(value: str) -> str:
    """A mobile (11 digits from 1) or landline number, or :class:`ValueError`."""
    phone = value.strip().replace(" ", "")
    if not PHONE_RE.match(phone):
        raise ValueError("联系电话格式不正确 / not a phone number")
    return phone


def mask_id_number(number: str) -> str:
    """``330802199001011234`` → ``330802********1234``: region and the last four."""
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``: the first three and last four digits."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
