"""The tables of imports started from the admin page: ``archive_import_run`` (one uploaded
sheet, its state, progress and summary) and ``archive_import_file`` (the uploaded bytes, and
the errors CSV once the run is over).

The files live in the database, apart from the run row so that lists never load them: every
server process and worker, on any machine, reads the same upload without a shared directory,
and a run and its file are written in one transaction. The upload is deleted when the run
ends; the errors CSV is kept for download.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow

STATUSES: dict[str, str] = {
    "queued": "排队中",
    "running": "导入中",
    "done": "已完成",
    "failed": "失败",
}
UPLOAD, ERRORS = "upload", "errors"


class ArchiveImportRun(SQLModel, table=True):
    """One uploaded sheet to import into ``unit_code``: ``queued``, then ``running`` (claimed
    by a worker that keeps ``claimed_until`` in the future while it lives), then ``done`` with
    the summary or ``failed`` with a message for the user."""

    __tablename__ = "archive_import_run"

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    source: str = Field(max_length=64)
    dry_run: bool = False
    file_name: str = Field(max_length=200)
    size: int  # bytes
    actor: str = Field(max_length=200)  # who uploaded it, as the audit log names actors
    status: str = Field(default="queued", max_length=10, index=True)
    total_rows: int | None = None  # estimated at upload, for the progress bar
    rows_done: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ArchiveImportFile(SQLModel, table=True):
    """A file of a run: ``upload`` (the sheet as sent) or ``errors`` (the rejected rows)."""

    __tablename__ = "archive_import_file"

    run_id: int = Field(foreign_key="archive_import_run.id", primary_key=True)
    kind: str = Field(sa_column=Column(String(8), primary_key=True))
    content: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
