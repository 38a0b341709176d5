"""Export of an archive scope as CSV or XLSX, masked as the viewer's roles require, audited.

``GET /api/v1/archives/export?unit=…&format=csv|xlsx`` sends the persons of the caller's
``archive.read`` scope under ``unit`` (404 outside it) with their household's number, address
and grid, under the import template's Chinese headers, so that an unmasked export imports
again as it is. ID numbers and phones are masked unless the caller holds
``archive.read_sensitive`` at ``unit``. Every export is audited (``archive.export``: unit,
format, rows, masked) before its first byte leaves; an unmasked one also leaves the sensitive
read entry (``read.archive.read_sensitive``), so that a search for sensitive reads finds it.
``rows`` is counted when the export starts.

Rows are read in batches through a server-side cursor and written as they come: CSV streams
(UTF-8 with BOM, for Excel), XLSX is written by openpyxl's write-only workbook to a temporary
file and then streamed. Memory stays flat whatever the size of the county. ``sanmin export
archive`` writes the same files (:func:`export_file`).
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from sqlalchemy import ColumnElement, Connection, Select, and_, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.archives import service
from core.archives.crypto import ArchiveCipher, cipher_for
from core.archives.disclosure import SENSITIVE_FIELDS
from core.archives.idnumbers import mask_id_number, mask_phone
from core.archives.models import GENDERS, RELATIONS, ArchiveHousehold, ArchivePerson
from core.archives.template import COLUMNS
from core.audit.reads import READ_PREFIX
from core.audit.service import record
from core.identity.access import Actor, scope_clause
from core.identity.web import require_permission
from core.units.codes import UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit
from core.units.service import get_unit

api = APIRouter(prefix="/archives", tags=["archives"])
Reader = Annotated[Actor, Depends(require_permission(service.READ))]
Format = Literal["csv", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BATCH_ROWS = 1000
CHUNK_BYTES = 1 << 16
SHEET_TITLE = "户籍档案"
# A cell starting so is a formula to a spreadsheet: a stored "=HYPERLINK(…)" must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NO_UNIT = "单位不存在或不在您的范围内 / no such unit in your scope"
PERSONS, HOUSEHOLDS = ArchivePerson.__table__, ArchiveHousehold.__table__  # type: ignore[attr-defined]


# -- rows ----------------------------------------------------------------------------------


def under(unit: Unit) -> ColumnElement[bool]:
    """Persons in ``unit``'s subtree: a range on the indexed unit column."""
    column = PERSONS.c.unit_code
    return and_(column >= unit.path, column < path_upper_bound(unit.path))


def person_rows(where: ColumnElement[bool]) -> Select[Any]:
    """The export's columns, in the template's order, households by 户号."""
    return (
        select(
            PERSONS.c.name,
            PERSONS.c.id_cipher,
            PERSONS.c.gender,
            PERSONS.c.birth_date,
            PERSONS.c.phone,
            HOUSEHOLDS.c.number,
            PERSONS.c.relation,
            HOUSEHOLDS.c.address,
            PERSONS.c.unit_code,
        )
        .join(HOUSEHOLDS, HOUSEHOLDS.c.id == PERSONS.c.household_id)
        .where(where)
        .order_by(HOUSEHOLDS.c.number, PERSONS.c.id)
    )


def count_rows(conn: Connection | Session, where: ColumnElement[bool]) -> int:
    """How many persons the export holds."""
    return conn.scalar(select(func.count()).select_from(PERSONS).where(where)) or 0


def text_batches(
    engine: Engine, where: ColumnElement[bool], cipher: ArchiveCipher, masked: bool
) -> Iterator[list[list[str]]]:
    """The rows as text, :data:`BATCH_ROWS` at a time (a server-side cursor on PostgreSQL)."""
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=BATCH_ROWS).execute(person_rows(where))
        for batch in result.partitions():
            yield [_text_row(row, cipher, masked) for row in batch]


def _text_row(row: Any, cipher: ArchiveCipher, masked: bool) -> list[str]:
    number = cipher.decrypt(row.id_cipher) if row.id_cipher else ""
    phone = row.phone or ""
    if masked:
        number = mask_id_number(number) if number else ""
        phone = mask_phone(phone) if phone else ""
    return [
        row.name,
        number,
        GENDERS[row.gender],
        row.birth_date.isoformat(),
        phone,
        row.number,
        RELATIONS[row.relation],
        row.address,
        row.unit_code,
    ]


# -- files ---------------------------------------------------------------------------------


def csv_chunks(batches: Iterable[list[list[str]]]) -> Iterator[bytes]:
    """A CSV file, UTF-8 with BOM, one chunk per batch; formula-like cells get a ``'``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield codecs.BOM_UTF8 + buffer.getvalue().encode()
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(
            [f"'{v}" if v.startswith(FORMULA_START) else v for v in row] for row in batch
        )
        yield buffer.getvalue().encode()


def write_xlsx(batches: Iterable[list[list[str]]], target: Path | io.IOBase) -> None:
    """An XLSX workbook written in openpyxl's write-only mode (rows go straight to disk);
    every cell is text, so ID numbers keep their digits and nothing is a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    sheet.append(COLUMNS)

    def cell(value: str) -> Any:
        if not value.startswith("="):
            return value
        text = WriteOnlyCell(sheet, value)
        text.data_type = "s"  # written as a string, not the formula openpyxl guessed
        return text

    for batch in batches:
        for row in batch:
            sheet.append([cell(v) for v in row])
    book.save(target)


def xlsx_chunks(batches: Iterable[list[list[str]]]) -> Iterator[bytes]:
    """:func:`write_xlsx` into a temporary file (deleted afterwards), sent in chunks."""
    with tempfile.TemporaryFile() as handle:
        write_xlsx(batches, handle)  # type: ignore[arg-type]
        handle.seek(0)
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def audit_export(
    db: Session | Connection,
    *,
    actor: str,
    unit_code: str,
    fmt: str,
    rows: int,
    masked: bool,
    source: str | None,
) -> None:
    """The export's audit entries, in ``db``'s transaction (commit before sending data)."""
    after = {"format": fmt, "rows": rows, "masked": masked}
    record(
        db,
        actor=actor,
        action="archive.export",
        target_type="unit",
        target_id=unit_code,
        unit_code=unit_code,
        after=after,
        source=source,
    )
    if not masked:
        record(
            db,
            actor=actor,
            action=f"{READ_PREFIX}{service.SENSITIVE}",
            target_type="export",
            target_id=unit_code,
            unit_code=unit_code,
            after={"permission": service.SENSITIVE, "fields": sorted(SENSITIVE_FIELDS)},
            source=source,
        )


def file_name(unit: Unit, fmt: str) -> tuple[str, str]:
    """The download's Chinese name and its ASCII fallback."""
    day = date.today().strftime("%Y%m%d")
    return f"民情档案-{unit.name}-{day}.{fmt}", f"archive-{unit.code}-{day}.{fmt}"


def content_disposition(name: str, fallback: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the UTF-8 ``filename*`` (RFC 5987)."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# -- surfaces ------------------------------------------------------------------------------


@api.get("/export", summary="导出档案 / export the persons of a unit")
def export_archive(
    request: Request,
    actor: Reader,
    unit: Annotated[str, Query(min_length=1, max_length=15, description="单位代码及其下级")],
    format: Annotated[Format, Query(description="csv 或 xlsx")] = "csv",
) -> StreamingResponse:
    """The persons under ``unit`` in the caller's scope, as a CSV or XLSX file."""
    kernel = request.app.state.kernel
    try:
        code = parse_code(unit).code
    except UnitCodeError as exc:
        raise RequestValidationError(
            [{"loc": ("query", "unit"), "msg": str(exc), "type": "value_error"}]
        ) from None
    with Session(kernel.engine, expire_on_commit=False) as session:
        scope = session.scalars(
            select(Unit).where(
                col(Unit.code) == code,
                scope_clause(actor, kernel.access, service.READ, col(Unit.code)),
            )
        ).first()
        if scope is None:
            raise HTTPException(404, NO_UNIT)
        where = and_(
            under(scope), scope_clause(actor, kernel.access, service.READ, PERSONS.c.unit_code)
        )
        masked = not kernel.allowed(actor, service.SENSITIVE, code)
        audit_export(
            session,
            actor=actor.label,
            unit_code=code,
            fmt=format,
            rows=count_rows(session, where),
            masked=masked,
            source=request.client.host if request.client else None,
        )
        session.commit()
    batches = text_batches(kernel.engine, where, cipher_for(kernel), masked)
    name, fallback = file_name(scope, format)
    return StreamingResponse(
        csv_chunks(batches) if format == "csv" else xlsx_chunks(batches),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": content_disposition(name, fallback),
            "Cache-Control": "no-store",
        },
    )


def export_file(
    engine: Engine,
    cipher: ArchiveCipher,
    path: Path,
    *,
    unit_code: str,
    fmt: str | None,
    masked: bool,
    actor: str,
) -> int:
    """``sanmin export archive``: every person under ``unit_code`` (the system's view: no
    scope), written to ``path`` as ``fmt`` (default: from the file's suffix); audited
    before the file is written. Returns the number of rows.

    :raises UnitNotFound: no such unit.
    :raises ValueError: neither ``fmt`` nor the suffix is ``csv`` or ``xlsx``.
    """
    chosen = fmt or path.suffix.lower().lstrip(".")
    if chosen not in MEDIA_TYPES:
        raise ValueError(f"format: 应为 csv 或 xlsx / must be csv or xlsx, not {chosen!r}")
    with Session(engine, expire_on_commit=False) as session:
        scope = get_unit(session, parse_code(unit_code).code)
        rows = count_rows(session, under(scope))
        audit_export(
            session,
            actor=actor,
            unit_code=scope.code,
            fmt=chosen,
            rows=rows,
            masked=masked,
            source="cli",
        )
        session.commit()
    batches = text_batches(engine, under(scope), cipher, masked)
    if chosen == "xlsx":
        write_xlsx(batches, path)
        return rows
    with path.open("wb") as handle:
        for chunk in csv_chunks(batches):
            handle.write(chunk)
    return rows
