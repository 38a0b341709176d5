"""The archive sheet: its Chinese column headers, the blank template, and reading a CSV or
XLSX file row by row in constant memory.

Rows come out as ``(row_number, values)`` where ``row_number`` is the line or sheet row a
department sees (the header is row 1) and ``values`` the texts of :data:`COLUMNS`, in that
order, stripped (other columns are ignored). XLSX cells are turned into text the way they
display (an integer ID or phone without ``.0``, a date cell as ``YYYY-MM-DD``). CSV files are
UTF-8 (with or without BOM) or GB18030, detected from the first bytes unless an encoding is
given.
"""

from __future__ import annotations

import codecs
import csv
import operator
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

NAME, ID_NUMBER, GENDER, BIRTH_DATE, PHONE = "姓名", "身份证号", "性别", "出生日期", "联系电话"
HOUSEHOLD, RELATION, ADDRESS, GRID = "户号", "与户主关系", "现住址", "所属网格"
COLUMNS = (NAME, ID_NUMBER, GENDER, BIRTH_DATE, PHONE, HOUSEHOLD, RELATION, ADDRESS, GRID)
NOTES = {
    NAME: "必填",
    ID_NUMBER: "必填，18 位，校验位须正确",
    GENDER: "男 / 女；可留空，按身份证号",
    BIRTH_DATE: "YYYY-MM-DD；可留空，按身份证号",
    PHONE: "手机 11 位或 区号-座机；可留空",
    HOUSEHOLD: "必填，同户成员填同一户号",
    RELATION: "户主、配偶、子女、儿媳/女婿、父母、孙子女、祖父母、兄弟姐妹、其他",
    ADDRESS: "必填",
    GRID: "15 位网格代码，须在导入单位范围内",
}
SNIFF_BYTES = 1 << 16
Row = tuple[int, tuple[str, ...]]


class SheetError(ValueError):
    """A file that cannot be read as an archive sheet (the message says why)."""


def write_template(path: Path) -> None:
    """Write the blank template: ``.xlsx`` (headers, a notes row in a second sheet, text
    format for the number columns) or ``.csv`` (the header line, UTF-8 with BOM)."""
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerow(COLUMNS)
        return
    if path.suffix.lower() != ".xlsx":
        raise SheetError(f"模板文件应为 .xlsx 或 .csv / template must be .xlsx or .csv: {path}")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "户籍档案"
    sheet.append(COLUMNS)
    for index, header in enumerate(COLUMNS, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = 22 if header in (ID_NUMBER, ADDRESS) else 14
        if header in (ID_NUMBER, PHONE, HOUSEHOLD, GRID, BIRTH_DATE):
            # text columns: Excel keeps every digit of an ID number and leading zeros
            sheet.column_dimensions[letter].number_format = "@"
    notes = book.create_sheet("填写说明")
    notes.append(("列", "说明"))
    for header in COLUMNS:
        notes.append((header, NOTES[header]))
    book.save(path)


def estimate_rows(path: Path) -> int | None:
    """Roughly how many data rows the file has, for a progress bar (``None`` if unknown)."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            rows = book.active.max_row
        finally:
            book.close()
        return rows - 1 if rows else None
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(SNIFF_BYTES):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


def read_rows(path: Path, encoding: str | None = None) -> Iterator[Row]:
    """The file's data rows, streamed; blank rows skipped.

    :raises SheetError: an unknown file type, an unreadable file, or required headers missing.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise SheetError(f"只支持 .csv 和 .xlsx 文件 / only .csv and .xlsx files: {path.name}")
    if not path.is_file():
        raise SheetError(f"文件不存在 / no such file: {path}")
    raw = enumerate(_xlsx_rows(path) if suffix == ".xlsx" else _csv_rows(path, encoding), 1)
    first = next(raw, None)
    if first is None:
        raise SheetError(f"文件为空 / the file is empty: {path.name}")
    header = [cell.strip().lstrip("\ufeff") for cell in first[1]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SheetError(
            f"缺少列 / missing columns: {'、'.join(missing)} (用 sanmin import template "
            "生成模板 / see sanmin import template)"
        )
    width = len(header)
    at = {name: index for index, name in enumerate(header)}  # a repeated header: the last
    pick = operator.itemgetter(*(at[column] for column in COLUMNS))
    for number, cells in raw:
        if len(cells) < width:
            cells = [*cells, *[""] * (width - len(cells))]
        values = tuple(map(str.strip, pick(cells)))
        if any(values) or any(cell.strip() for cell in cells[:width]):  # else a blank row
            yield number, values


def _csv_rows(path: Path, encoding: str | None) -> Iterator[list[str]]:
    chosen = encoding or _sniff_encoding(path)
    try:
        codecs.lookup(chosen)
    except LookupError as exc:
        raise SheetError(f"encoding: 未知编码 / unknown encoding {chosen!r}") from exc
    try:
        with path.open(encoding=chosen, newline="") as handle:
            yield from csv.reader(handle)
    except UnicodeDecodeError as exc:
        raise SheetError(
            f"文件不是 {chosen} 编码，请用 --encoding 指定 / not {chosen}: use --encoding"
        ) from exc


def _sniff_encoding(path: Path) -> str:
    """``utf-8-sig`` for UTF-8 (with or without BOM), else ``gb18030``."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise SheetError(f"无法读取 XLSX 文件 / cannot read the XLSX file: {exc}") from exc
    try:
        for cells in book.active.iter_rows(values_only=True):
            yield [_text(cell) for cell in cells]
    finally:
        book.close()


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
