"""Resident ID numbers (身份证号) and phone numbers: validation and masking.

:func:`stdnum.cn.ric.validate` checks the length, the digits, the ISO 7064 check digit, that
the birth date exists and that the region code was assigned *in the birth year*. That last
check is wrong for real people: the region code is where the number was first issued, and
resident ID numbers were first issued from 1984, so everyone born earlier carries a code of
the 1980s or later (stdnum refuses 330802195001011234, a 柯城区 elder's number, because 柯城区
was created in 1985). :func:`validate_id_number` therefore runs stdnum's steps itself and
accepts a region code that existed in some year from the later of the birth year and 1984
until today. It also refuses a birth date in the future or before 1900.
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
FIRST_ISSUED = 1984  # the first resident ID numbers (居民身份证试行)
CANONICAL_RE = re.compile(r"\d{17}[\dX]")  # what compact() leaves of a well-typed number
PHONE_RE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")  # mobile, or 区号-landline


class IdNumberError(ValueError):
    """An ID number that cannot be right; the message says why (中文 / English)."""


def validate_id_number(value: str, today: date | None = None) -> str:
    """The canonical 18-character ID number (upper-case ``X``), or :class:`IdNumberError`."""
    return read_id_number(value, today)[0]


def read_id_number(value: str, today: date | None = None) -> tuple[str, date, str]:
    """What :func:`validate_id_number` checks, returning the canonical number with the birth
    date and gender (``male`` / ``female``) written in it: one pass for the import's rows."""
    try:
        number, born = _validate(value)
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
    if born > (today or date.today()):
        raise IdNumberError("身份证号的出生日期在未来 / the ID number's birth date is future")
    if born < EARLIEST_BIRTH:
        raise IdNumberError("身份证号的出生日期早于 1900 年 / birth date before 1900")
    return number, born, gender_of(number)


def _validate(value: str) -> tuple[str, date]:
    """:func:`stdnum.cn.ric.validate`, step for step, with the region checked as the module
    docstring says and its lookup memoised; the number and its birth date.

    The lookup (``numdb``, which region codes existed in which year) depends only on the
    first six digits and the birth year, and costs most of a validation: an import of a
    county's archive validates the same few hundred regions a million times.
    """
    upper = value.upper()
    # stdnum's compact() strips spaces and dashes character by character; a number already
    # in canonical form (nearly every row of an import) skips it.
    number = upper if CANONICAL_RE.fullmatch(upper) else ric.compact(value)
    if len(number) != 18:
        raise InvalidLength()
    if not number[:-1].isascii() or not number[:-1].isdigit():
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    born = _birth_date(number[6:14])
    if born is None or not _region_issued(number[:6], born.year):
        raise InvalidComponent()
    return number, born


@functools.lru_cache(maxsize=65536)
def _region_issued(region: str, born: int) -> bool:
    """Whether a person born in ``born`` can carry region code ``region``: the code existed
    in some year from ``max(born, 1984)`` until this year (a birth year still ahead is
    left to the caller's check of the date)."""
    this_year = date.today().year
    start = min(max(born, FIRST_ISSUED), this_year)
    return any(_region_existed(region, year) for year in range(start, this_year + 1))


@functools.lru_cache(maxsize=65536)
def _region_existed(region: str, year: int) -> bool:
    """Whether region code ``region`` was assigned in ``year`` (stdnum's own lookup)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000")
    except InvalidComponent:
        return False
    return True


def birth_date_of(number: str) -> date:
    """The birth date written in a canonical ID number (:class:`InvalidComponent` when
    that date does not exist); :func:`stdnum.cn.ric.get_birth_date` without its compact()."""
    born = _birth_date(number[6:14])
    if born is None:
        raise InvalidComponent()
    return born


@functools.lru_cache(maxsize=65536)
def _birth_date(digits: str) -> date | None:
    """``YYYYMMDD`` as a date, ``None`` if no such day; memoised (a century has ~37,000 days,
    and an import meets each of them many times)."""
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def gender_of(number: str) -> str:
    """``male`` or ``female``, from the 17th digit of a valid ID number (odd for men)."""
    return "male" if number[16] in "13579" else "female"


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
