"""Checking an archive sheet for the import, a batch of rows at a time: every rule a row must
pass, the rules across a batch's rows, and the keyed hash and ciphertext of each valid row's
ID number. What comes out is plain data (tuples of text), ready for the writer.

The import's checking process (:mod:`core.archives.import_worker`) runs this module without
the rest of Sanmin: it imports only the standard library, ``stdnum``, ``cryptography`` and
the light modules below, never the database code.

A row is checked column by column, each problem with its row, column, value and reason: the
required columns; the lengths; the ID number (check digit, the birth date and region it
carries, no birth in the future or before 1900); gender and birth date, optional but agreeing
with the ID number, no birth date in the future; the phone; 与户主关系; the grid (a 15-digit
grid code inside the importing unit, and one that exists). Then, within a batch: a repeated
ID number, and a household given another address or grid than its first row.
"""

from __future__ import annotations

import functools
from collections.abc import Container, Iterator
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from core.archives.crypto import ArchiveCipher
from core.archives.idnumbers import IdNumberError, read_id_number, validate_phone
from core.archives.template import (
    ADDRESS,
    BIRTH_DATE,
    GENDER,
    GRID,
    HOUSEHOLD,
    ID_NUMBER,
    NAME,
    PHONE,
    RELATION,
    Row,
    read_rows,
)
from core.archives.vocabulary import GENDERS, RELATIONS
from core.units.codes import Level, UnitCodeError, parse_code

GENDER_KEYS = {label: key for key, label in GENDERS.items()}
RELATION_KEYS = {label: key for key, label in RELATIONS.items()} | {
    "本人": "head",
    "妻": "spouse",
    "夫": "spouse",
    "子": "child",
    "女": "child",
    "儿媳": "child_in_law",
    "女婿": "child_in_law",
    "父": "parent",
    "母": "parent",
    "孙子": "grandchild",
    "孙女": "grandchild",
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
NAME_LIMIT, HOUSEHOLD_LIMIT, ADDRESS_LIMIT = 50, 32, 200  # characters, as the columns
REQUIRED = "必填 / required"
NO_SUCH_GRID = "网格不存在 / no such grid"
REPEATED = "与本批前面的行身份证号重复 / ID number repeated in the file"
OTHER_HOME = "同一户号的住址或网格与前面的行不一致 / household differs from above"

# One reason a row was rejected: (row, column, value, reason).
Problem = tuple[int, str, str, str]
# A valid row: (ID number, name, gender, birth date as YYYY-MM-DD, phone, 户号, relation,
# address, grid).
Checked = tuple[str, str, str, str, str | None, str, str, str, str]
# A new or updated person as the writer takes it: (name, gender, birth date, phone, 户号,
# relation, grid, keyed hash, ciphertext).
PersonValues = tuple[str, str, str, str | None, str, str, str, str, str]


class CheckedBatch(NamedTuple):
    """One batch of the file, checked: ``rows`` read, of which ``rejected`` rows with
    ``problems`` (in row order, each row's in column order); the valid rows' ``households``
    (户号, address, grid) in the order first met, and ``persons`` (:data:`PersonValues`) in
    row order. Plain data, so that it crosses from the checking process as cheaply as data
    can (``marshal``)."""

    rows: int
    rejected: int
    problems: list[Problem]
    households: list[tuple[str, str, str]]
    persons: list[PersonValues]


def _parse_date(text: str) -> date | None:
    if len(text) == 10 and text[4] == "-":  # YYYY-MM-DD, nearly every row: no strptime
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # the formats below say
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=4096)
def _grid_problem(text: str, scope_path: str) -> str | None:
    """Why ``text`` cannot be a grid of the importing unit (``None``: it can), memoised: a
    file names the same few hundred grids on every row."""
    try:
        code = parse_code(text)
    except UnitCodeError as exc:
        return str(exc)
    if code.level is not Level.grid:
        return "应为 15 位网格代码 / must be a grid"
    if not code.code.startswith(scope_path):
        return "网格不在导入单位范围内 / grid outside the importing unit's scope"
    return None


def check_row(
    row: int, values: tuple[str, ...], scope_path: str, today: date, grids: Container[str]
) -> tuple[Checked | None, list[Problem]]:
    """Row ``row`` of the sheet (its :data:`~core.archives.template.COLUMNS` values, as
    :func:`~core.archives.template.read_rows` gives them): canonical values and no
    problems, or ``None`` and every column that is wrong. ``grids``: the grid codes that
    exist inside the importing unit (``scope_path``)."""
    name, id_text, gender_text, born_text, phone_text, household, relation_text, address, grid = (
        values
    )
    problems: list[Problem] = []
    if not (name and id_text and household and relation_text and address and grid):
        required = ((NAME, name), (ID_NUMBER, id_text), (HOUSEHOLD, household))
        required += ((RELATION, relation_text), (ADDRESS, address), (GRID, grid))
        problems += [(row, column, "", REQUIRED) for column, value in required if not value]
    if len(name) > NAME_LIMIT or len(household) > HOUSEHOLD_LIMIT or len(address) > ADDRESS_LIMIT:
        limited = ((NAME, name, NAME_LIMIT), (HOUSEHOLD, household, HOUSEHOLD_LIMIT))
        for column, value, limit in (*limited, (ADDRESS, address, ADDRESS_LIMIT)):
            if len(value) > limit:
                reason = f"超过 {limit} 个字 / longer than {limit} characters"
                problems.append((row, column, value, reason))
    number, id_born, id_gender = "", None, ""
    if id_text:
        try:
            number, id_born, id_gender = read_id_number(id_text, today)
        except IdNumberError as exc:
            problems.append((row, ID_NUMBER, id_text, str(exc)))
    gender = GENDER_KEYS.get(gender_text) if gender_text else None
    if gender_text and gender is None:
        problems.append((row, GENDER, gender_text, "性别应为 男 或 女 / gender must be 男 or 女"))
    elif gender and number and gender != id_gender:
        problems.append(
            (row, GENDER, gender_text, "性别与身份证号不符 / does not match the ID number")
        )
    born = _parse_date(born_text) if born_text else None
    if born_text and born is None:
        reason = "日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD"
        problems.append((row, BIRTH_DATE, born_text, reason))
    elif born and born > today:
        problems.append((row, BIRTH_DATE, born_text, "出生日期在未来 / birth date in the future"))
    elif born and number and born != id_born:
        reason = "出生日期与身份证号不符 / does not match the ID number"
        problems.append((row, BIRTH_DATE, born_text, reason))
    phone = None
    if phone_text:
        if (
            len(phone_text) == 11
            and phone_text[0] == "1"
            and phone_text.isascii()
            and phone_text.isdigit()
        ):
            phone = phone_text  # a mobile number as written, nearly every row
        else:
            try:
                phone = validate_phone(phone_text)
            except ValueError as exc:
                problems.append((row, PHONE, phone_text, str(exc)))
    relation = RELATION_KEYS.get(relation_text, "")
    if relation_text and not relation:
        reason = "与户主关系应为 " + "、".join(RELATIONS.values()) + " 之一 / unknown"
        problems.append((row, RELATION, relation_text, reason))
    if grid:
        reason = _grid_problem(grid, scope_path) or (None if grid in grids else NO_SUCH_GRID)
        if reason is not None:
            problems.append((row, GRID, grid, reason))
    if problems:
        return None, problems
    birth = (born or id_born or today).isoformat()
    return (
        number,
        name,
        gender or id_gender,
        birth,
        phone,
        household,
        relation,
        address,
        grid,
    ), problems


def check_batch(
    rows: list[Row],
    scope_path: str,
    today: date,
    grids: Container[str],
    cipher: ArchiveCipher,
) -> CheckedBatch:
    """Check a batch of rows, each alone and then against the batch's earlier rows (a
    repeated ID number; a household given another address or grid), and hash and encrypt
    the valid rows' ID numbers."""
    problems: list[Problem] = []
    rejected = 0
    ids: set[str] = set()
    homes: dict[str, tuple[str, str]] = {}
    valid: list[Checked] = []
    for row, values in rows:
        checked, found = check_row(row, values, scope_path, today, grids)
        if checked is not None:
            number, household, address, grid = checked[0], checked[5], checked[7], checked[8]
            if number in ids:
                found.append((row, ID_NUMBER, number, REPEATED))
            if homes.setdefault(household, (address, grid)) != (address, grid):
                found.append((row, HOUSEHOLD, household, OTHER_HOME))
            ids.add(number)
        if found:
            rejected += 1
            problems += found
        elif checked is not None:
            valid.append(checked)
    numbers = [checked[0] for checked in valid]
    hashes = [cipher.lookup_hash(number) for number in numbers]
    sealed = cipher.encrypt_many(numbers)
    households: dict[str, tuple[str, str, str]] = {}
    persons: list[PersonValues] = []
    for (
        _,
        name,
        gender,
        birth,
        phone,
        household,
        relation,
        address,
        grid,
    ), hashed, cipher_text in zip(valid, hashes, sealed, strict=True):
        if household not in households:
            households[household] = (household, address, grid)
        persons.append((name, gender, birth, phone, household, relation, grid, hashed, cipher_text))
    return CheckedBatch(len(rows), rejected, problems, list(households.values()), persons)


def checked_batches(
    path: Path,
    encoding: str | None,
    size: int,
    scope_path: str,
    today: date,
    grids: Container[str],
    cipher: ArchiveCipher,
) -> Iterator[CheckedBatch]:
    """The sheet's rows ``size`` at a time, each batch checked (:func:`check_batch`).

    :raises SheetError: the file is unreadable or lacks a required column.
    """
    rows = read_rows(path, encoding)
    while batch := list(islice(rows, size)):
        yield check_batch(batch, scope_path, today, grids, cipher)
        del batch  # before the next is read: one batch of rows in memory, not two
