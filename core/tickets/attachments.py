"""Photos of a ticket (附件): ``/api/v1/tickets/{id}/attachments…``.

Who: the reporter and staff who may read the ticket (:func:`core.tickets.service.get_ticket`;
anyone else gets the 404 of an unknown ticket). What: JPEG, PNG, WebP or HEIC/HEIF, told by
the file's first bytes, never by the name or the client's content type (415 otherwise);
at most ``SANMIN_ATTACHMENT_MAX_BYTES`` each (413) and :data:`MAX_PER_TICKET` a ticket
(422); none is added to a closed ticket (409). Every refusal names ``file``.

Where: ``SANMIN_ATTACHMENT_DIR`` (default ``./attachments``, relative to the working
directory like the default SQLite file), under a random name sharded by its first two
characters (``ab/ab12…``). The bytes go to a temporary file in the same directory, synced,
then renamed into place, so a reader never sees half a file; the row (with the sha256) is
committed after, and when the commit fails the file is removed. A crash between the rename
and the commit leaves a file no row names, never a row without its file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlmodel import Session, col, func, select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.audit.service import record
from core.events.outbox import emit
from core.identity.access import Actor
from core.kernel import Kernel
from core.tickets import service, views
from core.tickets.api import Signed, invalid
from core.tickets.models import Ticket, TicketAttachment
from core.web.inputs import RowId

router = APIRouter(prefix="/tickets", tags=["tickets"])  # mounted under /api/v1

MAX_PER_TICKET = 9
CHUNK = 64 * 1024
FORM_SLACK = 64 * 1024  # what a multipart body may hold besides the file (boundaries, headers)
FILE = ("body", "file")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")
_HEIC_BRANDS = {b"heic": "image/heic", b"heix": "image/heic", b"heim": "image/heic"}
_HEIC_BRANDS |= {b"heis": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif"}
_HEIC_BRANDS |= {b"hevc": "image/heic-sequence", b"hevx": "image/heic-sequence"}


def sniff(head: bytes) -> str | None:
    """The image type the first bytes announce (JPEG, PNG, WebP, HEIC/HEIF), or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _HEIC_BRANDS.get(head[8:12])
    return None


def clean_filename(name: str | None) -> str:
    """The client's file name without any directory part or control character, at most 200
    characters (its extension kept); ``photo`` when nothing is left."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE_NAME.sub("", base).strip().strip(".") or "photo"
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = f"{stem[: 199 - len(ext)]}.{ext}" if dot and len(ext) <= 10 else base[:200]
    return base


def attachment_dir(request: Request) -> Path:
    return Path(request.app.state.kernel.settings.attachment_dir)


def stored_path(root: Path, stored_name: str) -> Path:
    return root / stored_name[:2] / stored_name


def _refused(status: int, message: str) -> HTTPException:
    return HTTPException(status, f"file: {message}")


@dataclass(frozen=True)
class Spooled:
    """An upload checked and written to its final place under a random name."""

    path: Path
    stored_name: str
    content_type: str
    size: int
    sha256: str


def spool(upload: UploadFile, root: Path, limit: int) -> Spooled:
    """Copy ``upload`` to a temporary file beside its final place, checking its type on the
    first bytes and its size as it goes (415, 413); then sync it and rename it into place.
    The caller removes ``path`` when what it writes after this fails."""
    upload.file.seek(0)
    head = upload.file.read(CHUNK)
    content_type = sniff(head)
    if content_type is None:
        raise _refused(
            415, "只接受 JPEG、PNG、WebP 或 HEIC 照片 / only JPEG, PNG, WebP or HEIC photos"
        )
    stored_name = secrets.token_hex(16)
    final = stored_path(root, stored_name)
    final.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, temporary = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise _refused(413, f"照片不能超过 {limit} 字节 / larger than {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
                chunk = upload.file.read(CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return Spooled(final, stored_name, content_type, size, digest.hexdigest())


def discard(spooled: list[Spooled]) -> None:
    """Remove files written by :func:`spool` that no committed row names."""
    for one in spooled:
        with contextlib.suppress(FileNotFoundError):
            one.path.unlink()


def lock_for_photos(session: Session, ticket_id: int, adding: int) -> Ticket:
    """The ticket, locked (PostgreSQL) so that two uploads at once cannot pass the limit
    together; 409 when it is closed, 422 when ``adding`` more would exceed
    :data:`MAX_PER_TICKET`."""
    ticket = session.exec(select(Ticket).where(col(Ticket.id) == ticket_id).with_for_update()).one()
    if ticket.state in views.CLOSED_STATES:
        raise _refused(409, "工单已办结归档，不能再添加照片 / the ticket is closed")
    count = session.exec(
        select(func.count())
        .select_from(TicketAttachment)
        .where(col(TicketAttachment.ticket_id) == ticket_id)
    ).one()
    if count + adding > MAX_PER_TICKET:
        raise invalid(
            FILE, f"每件工单最多 {MAX_PER_TICKET} 张照片 / at most {MAX_PER_TICKET} photos"
        )
    return ticket


def attach(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    ticket: Ticket,
    spooled: Spooled,
    filename: str | None,
) -> TicketAttachment:
    """The row of a spooled photo, its audit entry and its event, in the caller's
    transaction (not committed)."""
    assert ticket.id is not None
    row = TicketAttachment(
        ticket_id=ticket.id,
        stored_name=spooled.stored_name,
        filename=clean_filename(filename),
        content_type=spooled.content_type,
        size=spooled.size,
        sha256=spooled.sha256,
        actor=actor.label,
        created_at=kernel.workflows.clock(),
    )
    session.add(row)
    session.flush()
    facts = {
        "attachment_id": row.id,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
    }
    record(
        session,
        actor=actor.label,
        action="ticket.attach",
        target_type="ticket",
        target_id=str(ticket.id),
        unit_code=ticket.unit_code,
        after=facts,
    )
    emit(
        session,
        "ticket.attachment_added",
        ticket.unit_code,
        subject=f"ticket:{ticket.id}",
        actor_id=actor.id if actor.kind == "account" else None,
        payload={"ticket_id": ticket.id, **facts},
    )
    return row


def store(request: Request, actor: Actor, ticket_id: int, upload: UploadFile) -> dict[str, Any]:
    """Check who and how many, write the file, then the row, the audit entry and the event
    in one commit; the file is removed when anything after writing it fails."""
    kernel = request.app.state.kernel
    with Session(kernel.engine, expire_on_commit=False) as session:
        service.get_ticket(session, kernel, actor, ticket_id)
        ticket = lock_for_photos(session, ticket_id, 1)
        spooled = spool(upload, attachment_dir(request), kernel.settings.attachment_max_bytes)
        try:
            row = attach(session, kernel, actor, ticket, spooled, upload.filename)
            session.commit()
        except BaseException:
            discard([spooled])
            raise
        return views.attachment_view(row)


@router.post(
    "/{ticket_id}/attachments",
    status_code=201,
    summary="上传照片（提交人或可查看的工作人员）/ attach a photo",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def add_attachment(ticket_id: RowId, request: Request, actor: Signed) -> dict[str, Any]:
    """A photo in the multipart field ``file``: 201 with its id, type, size and sha256. A
    body that announces more than the limit is refused before it is read (413)."""
    limit = request.app.state.kernel.settings.attachment_max_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + FORM_SLACK:
        raise _refused(413, f"照片不能超过 {limit} 字节 / larger than {limit} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise invalid(FILE, "请以 multipart/form-data 上传字段 file / send multipart field file")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except StarletteHTTPException as exc:  # a malformed body, or more than one file
        raise invalid(FILE, f"无法读取上传内容 / unreadable upload: {exc.detail}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise invalid(FILE, "为必填项，应为一个文件 / a file is required")
    try:
        return await run_in_threadpool(store, request, actor, ticket_id, upload)
    finally:
        await form.close()


@router.get(
    "/{ticket_id}/attachments/{attachment_id}",
    summary="查看照片 / one photo's bytes",
    response_class=FileResponse,
)
def get_attachment(
    ticket_id: RowId, attachment_id: RowId, request: Request, actor: Signed
) -> FileResponse:
    """The photo as stored, with its type, its original name and ``nosniff``; 404 for a
    photo of another ticket or of a ticket the caller may not read."""
    kernel = request.app.state.kernel
    with Session(kernel.engine, expire_on_commit=False) as session:
        service.get_ticket(session, kernel, actor, ticket_id)
        row = session.get(TicketAttachment, attachment_id)
    if row is None or row.ticket_id != ticket_id:
        raise HTTPException(404, "照片不存在 / no such attachment")
    path = stored_path(attachment_dir(request), row.stored_name)
    if not path.is_file():
        raise HTTPException(404, "照片文件已不在存储目录中 / the stored file is missing")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="inline",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=0",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
