"""The archive import started from the admin page: an upload queued as a run, imported by
the worker in batches, with its progress shown while it runs.

``POST /archives/imports`` (page) or ``POST /api/v1/archives/imports`` (API) checks the file
(type, size, headers) and the unit (``archive.write`` there; 404 outside the scope), stores
the bytes with a ``queued`` run (:mod:`core.archives.import_models`) and answers at once. The
job ``archives.import_runs`` (every minute, once for the installation) claims queued runs one
at a time with a conditional UPDATE, so two workers never take the same run, and runs
:func:`core.archives.importer.import_archive` on them; after each batch the run's row count
and its lease (``claimed_until``) move forward. A worker that dies stops renewing the lease:
the run is claimed again once the lease has run out and imported again from the start, which
is correct because the importer is idempotent per batch (after :data:`MAX_ATTEMPTS` such
starts it is failed instead). A sheet or unit error fails the run with its message; any other
error is logged and the user sees a short message, never a traceback.

Runs are visible where the viewer holds ``archive.write`` (in the query). The errors CSV
masks ID numbers and phones unless the viewer holds ``archive.read_sensitive`` at the run's
unit, and that read is audited.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import ColumnElement, Row, and_, delete, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from core.archives import service
from core.archives.crypto import cipher_for
from core.archives.disclosure import reveal
from core.archives.exports import content_disposition
from core.archives.idnumbers import mask_id_number, mask_phone
from core.archives.import_models import (
    ERRORS,
    STATUSES,
    UPLOAD,
    ArchiveImportFile,
    ArchiveImportRun,
)
from core.archives.importer import import_archive
from core.archives.template import ID_NUMBER, PHONE, SheetError, estimate_rows, read_rows
from core.db.types import utcnow
from core.identity.access import Actor, scope_clause
from core.identity.web import require_actor, require_permission
from core.jobs.spec import Job, JobContext
from core.jobs.support import LEASE, lease_kept, worker_name
from core.kernel import Kernel
from core.units.codes import UnitCodeError, parse_code
from core.units.models import Unit
from core.units.service import UnitNotFound
from core.web.errors import plain_message
from core.web.inputs import RowId
from core.web.menu import MenuLink
from core.web.render import render

log = logging.getLogger("sanmin.archives")

api = APIRouter(prefix="/archives", tags=["archives"])
pages = APIRouter(prefix="/archives", dependencies=[Depends(require_actor)])
Writer = Annotated[Actor, Depends(require_permission(service.WRITE))]

MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_ATTEMPTS = 3
SUFFIXES = (".csv", ".xlsx")
PAGE = 50
RUNS = ArchiveImportRun.__table__  # type: ignore[attr-defined]
FILES = ArchiveImportFile.__table__  # type: ignore[attr-defined]
NO_RUN = "导入记录不存在或不在您的范围内 / no such import in your scope"
NO_UNIT = "单位不存在或不在您的可写范围内 / no such unit in your write scope"
INTERNAL = "导入出错，已记录日志，请联系管理员 / the import failed; the error was logged"
GAVE_UP = (
    f"导入中断 {MAX_ATTEMPTS} 次，已停止；请检查文件后重新上传 / "
    f"interrupted {MAX_ATTEMPTS} times, stopped"
)


class RunLost(Exception):
    """Another worker took the run over (this one was presumed dead): stop importing it."""


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


# -- queueing an upload --------------------------------------------------------------------


def _check_sheet(name: str, content: bytes) -> int | None:
    """Refuse a file that is not an archive sheet (422 naming ``file``, with the reason);
    return its estimated number of rows."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{PurePosixPath(name).suffix.lower()}"
        path.write_bytes(content)
        rows = read_rows(path)
        try:
            next(rows, None)  # reads the header: unknown type, unreadable or missing columns
        except SheetError as exc:
            raise _invalid("file", str(exc)) from None
        finally:
            rows.close()
        return estimate_rows(path)


def queue_upload(
    kernel: Kernel,
    actor: Actor,
    *,
    unit_code: str,
    source: str,
    dry_run: bool,
    name: str,
    content: bytes,
) -> int:
    """Store an upload as a queued run and return its id.

    413 for a file over :data:`MAX_UPLOAD_MB` MB; 422 naming ``file``, ``unit_code`` or
    ``source`` for bad input; 404 for a unit outside the actor's ``archive.write`` scope.
    """
    name = PurePosixPath(name.replace("\\", "/").replace("\x00", "")).name[-200:]
    if not name.lower().endswith(SUFFIXES):
        raise _invalid("file", "只支持 .csv 和 .xlsx 文件 / only .csv and .xlsx files")
    if len(content) > MAX_UPLOAD_BYTES:
        raise HTTPException(
            413, f"file: 文件超过 {MAX_UPLOAD_MB} MB / the file is larger than {MAX_UPLOAD_MB} MB"
        )
    if not content:
        raise _invalid("file", "文件是空的 / the file is empty")
    source = source.strip()
    if not 1 <= len(source) <= 64 or "\x00" in source:
        raise _invalid("source", "数据来源应为 1–64 个字 / source: 1 to 64 characters")
    try:
        code = parse_code(unit_code.strip()).code
    except UnitCodeError as exc:
        raise _invalid("unit_code", str(exc)) from None
    with Session(kernel.engine) as session:
        writable = scope_clause(actor, kernel.access, service.WRITE, col(Unit.code))
        if session.scalar(select(col(Unit.code)).where(col(Unit.code) == code, writable)) is None:
            raise HTTPException(404, NO_UNIT)
    total = _check_sheet(name, content)
    with kernel.engine.begin() as conn:
        run_id = conn.execute(
            insert(RUNS)
            .values(
                unit_code=code,
                source=source,
                dry_run=dry_run,
                file_name=name,
                size=len(content),
                actor=actor.label,
                status="queued",
                total_rows=total,
                rows_done=0,
                inserted=0,
                updated=0,
                unchanged=0,
                rejected=0,
                attempts=0,
                created_at=utcnow(),
            )
            .returning(RUNS.c.id)
        ).scalar_one()
        conn.execute(insert(FILES).values(run_id=run_id, kind=UPLOAD, content=content))
    return run_id


# -- the job -------------------------------------------------------------------------------


def _claimable(now: Any) -> ColumnElement[bool]:
    """Queued runs, and running ones whose worker stopped renewing its lease."""
    stale = and_(RUNS.c.status == "running", RUNS.c.claimed_until < now)
    return or_(RUNS.c.status == "queued", stale)


def claim_next(engine: Engine, worker: str) -> int | None:
    """Take the oldest claimable run for ``worker`` (its id), or ``None`` when none is left.

    The UPDATE repeats the conditions it was chosen by, so of two workers choosing the same
    run only one changes it; the other looks again. A run claimed :data:`MAX_ATTEMPTS` times
    already is failed instead of started again.
    """
    while True:
        now = utcnow()
        with engine.connect() as conn:
            found = conn.execute(
                select(RUNS.c.id, RUNS.c.attempts)
                .where(_claimable(now))
                .order_by(RUNS.c.id)
                .limit(1)
            ).first()
        if found is None:
            return None
        same = and_(RUNS.c.id == found.id, _claimable(now), RUNS.c.attempts == found.attempts)
        if found.attempts >= MAX_ATTEMPTS:
            _finish(engine, same, {"status": "failed", "error": GAVE_UP}, None)
            continue
        with engine.begin() as conn:
            taken = conn.execute(
                update(RUNS)
                .where(same)
                .values(
                    status="running",
                    attempts=found.attempts + 1,
                    claimed_by=worker,
                    claimed_until=now + LEASE,
                    rows_done=0,
                    started_at=now,
                )
            )
        if taken.rowcount == 1:
            return found.id


def _finish(
    engine: Engine, where: ColumnElement[bool], values: dict[str, Any], errors: bytes | None
) -> None:
    """Settle the run matched by ``where`` (nothing when another worker owns it now): its
    final values, the upload deleted, the errors CSV kept."""
    with engine.begin() as conn:
        run_id = conn.execute(
            update(RUNS)
            .where(where)
            .values(**values, claimed_by=None, claimed_until=None, finished_at=utcnow())
            .returning(RUNS.c.id)
        ).scalar_one_or_none()
        if run_id is None:
            return
        conn.execute(delete(FILES).where(FILES.c.run_id == run_id, FILES.c.kind == UPLOAD))
        if errors is not None:
            conn.execute(insert(FILES).values(run_id=run_id, kind=ERRORS, content=errors))


def execute(kernel: Kernel, run_id: int, worker: str) -> None:
    """Import run ``run_id``, claimed by ``worker``, and record how it ended."""
    engine = kernel.engine
    mine = and_(RUNS.c.id == run_id, RUNS.c.claimed_by == worker)
    with engine.connect() as conn:
        run = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one()
        content = conn.execute(
            select(FILES.c.content).where(FILES.c.run_id == run_id, FILES.c.kind == UPLOAD)
        ).scalar_one()

    def progress(rows: int) -> None:
        with engine.begin() as conn:
            kept = conn.execute(
                update(RUNS)
                .where(mine)
                .values(rows_done=RUNS.c.rows_done + rows, claimed_until=utcnow() + LEASE)
            )
        if kept.rowcount != 1:
            raise RunLost(run_id)

    with tempfile.TemporaryDirectory() as folder:
        sheet = Path(folder) / f"upload{PurePosixPath(run.file_name).suffix.lower()}"
        sheet.write_bytes(content)
        del content
        errors = Path(folder) / "errors.csv"
        try:
            with lease_kept(engine, RUNS, run_id, worker, utcnow):
                summary = import_archive(
                    engine,
                    cipher_for(kernel),
                    sheet,
                    unit_code=run.unit_code,
                    actor=run.actor,
                    source=run.source,
                    dry_run=run.dry_run,
                    errors=errors,
                    progress=progress,
                )
        except RunLost:
            log.warning("Import run %s was taken over by another worker", run_id)
        except (SheetError, UnitNotFound) as exc:
            _finish(engine, mine, {"status": "failed", "error": str(exc)}, None)
        except OperationalError:
            raise  # the database is away: the lease runs out and the run is taken again
        except Exception:
            log.exception("Import run %s failed", run_id)
            _finish(engine, mine, {"status": "failed", "error": INTERNAL}, None)
        else:
            counts = {
                "inserted": summary.inserted,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "rejected": summary.rejected,
            }
            rejected = errors.read_bytes() if summary.rejected else None
            _finish(engine, mine, {"status": "done", "error": None, **counts}, rejected)


def run_queue(ctx: JobContext) -> None:
    """Import every claimable run, one at a time, until none is left."""
    worker = worker_name()
    while (run_id := claim_next(ctx.kernel.engine, worker)) is not None:
        execute(ctx.kernel, run_id, worker)


JOBS: list[Job] = [
    Job("import_runs", "档案导入", timedelta(minutes=1), run_queue, per_township=False)
]
MENU: list[MenuLink] = [
    MenuLink(href="/archives/imports", label="档案导入", order=210, permission=service.WRITE)
]


# -- reading runs --------------------------------------------------------------------------


def _visible(actor: Actor, kernel: Kernel) -> ColumnElement[bool]:
    return scope_clause(actor, kernel.access, service.WRITE, RUNS.c.unit_code)


def visible_run(kernel: Kernel, actor: Actor, run_id: int) -> Row[Any]:
    """Run ``run_id`` if it lies in the actor's ``archive.write`` scope, else 404."""
    with kernel.engine.connect() as conn:
        found = conn.execute(
            select(RUNS).where(RUNS.c.id == run_id, _visible(actor, kernel))
        ).first()
    if found is None:
        raise HTTPException(404, NO_RUN)
    return found


def run_out(run: Row[Any]) -> dict[str, Any]:
    """A run as the API and the pages show it."""
    done = run.status == "done"
    return {
        "id": run.id,
        "unit_code": run.unit_code,
        "source": run.source,
        "dry_run": run.dry_run,
        "file_name": run.file_name,
        "size": run.size,
        "actor": run.actor,
        "status": run.status,
        "status_label": STATUSES[run.status],
        "total_rows": run.total_rows,
        "rows_done": run.rows_done,
        "summary": {
            "inserted": run.inserted,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "rejected": run.rejected,
        }
        if done
        else None,
        "error": run.error,
        "attempts": run.attempts,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "errors_url": f"/archives/imports/{run.id}/errors.csv" if done and run.rejected else None,
    }


def list_runs(kernel: Kernel, actor: Actor) -> list[dict[str, Any]]:
    """The latest runs in the actor's scope, newest first."""
    with kernel.engine.connect() as conn:
        rows = conn.execute(
            select(RUNS).where(_visible(actor, kernel)).order_by(RUNS.c.id.desc()).limit(PAGE)
        ).all()
    return [run_out(r) for r in rows]


def _masked_errors(content: bytes) -> bytes:
    """The errors CSV with the rejected ID numbers and phones masked."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
        if len(line) == 4 and line[1] == ID_NUMBER:
            line[2] = mask_id_number(line[2]) if len(line[2]) >= 10 else "*" * len(line[2])
        elif len(line) == 4 and line[1] == PHONE:
            line[2] = mask_phone(line[2])
        writer.writerow(line)
    return ("\ufeff" + out.getvalue()).encode()


# -- surfaces ------------------------------------------------------------------------------


async def _read_upload(file: UploadFile | None) -> tuple[str, bytes]:
    """The upload's name and bytes (at most one byte past the limit is read)."""
    if file is None or not file.filename:
        raise _invalid("file", "请选择要导入的文件 / choose a file")
    return file.filename, await file.read(MAX_UPLOAD_BYTES + 1)


@api.post("/imports", status_code=202, summary="上传档案导入 / queue an archive import")
async def upload_api(
    request: Request,
    actor: Writer,
    unit_code: Annotated[str, Form(max_length=15)],
    file: Annotated[UploadFile | None, File()] = None,
    source: Annotated[str, Form(max_length=64)] = "import",
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Queue a CSV or XLSX sheet for import into ``unit_code``; poll the run it returns."""
    kernel = request.app.state.kernel
    name, content = await _read_upload(file)
    run_id = await run_in_threadpool(
        lambda: queue_upload(
            kernel,
            actor,
            unit_code=unit_code,
            source=source,
            dry_run=dry_run,
            name=name,
            content=content,
        )
    )
    return run_out(await run_in_threadpool(visible_run, kernel, actor, run_id))


@api.get("/imports/{run_id}", summary="导入进度 / one import run")
def get_run_api(run_id: RowId, request: Request, actor: Writer) -> dict[str, Any]:
    """A run's status, progress and summary."""
    return run_out(visible_run(request.app.state.kernel, actor, run_id))


async def _imports_page(
    request: Request,
    actor: Actor,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    runs = await run_in_threadpool(list_runs, request.app.state.kernel, actor)
    return await render(
        request,
        "core/archives_imports.html",
        {
            "runs": runs,
            "values": values,
            "error": error,
            "max_mb": MAX_UPLOAD_MB,
        },
        status_code=status_code,
    )


@pages.get("/imports", response_class=HTMLResponse)
async def imports_page(request: Request, actor: Writer) -> Response:
    """档案导入: the upload form and the latest runs in the viewer's scope."""
    values = {"unit_code": actor.home_unit or "", "source": "", "dry_run": False}
    return await _imports_page(request, actor, values)


@pages.post("/imports", response_class=HTMLResponse)
async def upload_page(
    request: Request,
    actor: Writer,
    file: Annotated[UploadFile | None, File()] = None,
    unit_code: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    """Queue the upload and go to its run; the form again with the reason if refused."""
    kernel = request.app.state.kernel
    values = {"unit_code": unit_code, "source": source, "dry_run": dry_run}
    try:
        name, content = await _read_upload(file)
        run_id = await run_in_threadpool(
            lambda: queue_upload(
                kernel,
                actor,
                unit_code=unit_code,
                source=source or "import",
                dry_run=dry_run,
                name=name,
                content=content,
            )
        )
    except HTTPException as exc:
        return await _imports_page(request, actor, values, str(exc.detail), exc.status_code)
    except RequestValidationError as exc:
        return await _imports_page(request, actor, values, plain_message(exc.errors()), 422)
    return RedirectResponse(f"/archives/imports/{run_id}", status_code=303)


@pages.get("/imports/{run_id}", response_class=HTMLResponse)
async def run_page(run_id: RowId, request: Request, actor: Writer) -> Response:
    """One run: status, progress (the page reloads itself while it runs) and summary."""
    run = await run_in_threadpool(visible_run, request.app.state.kernel, actor, run_id)
    return await render(request, "core/archives_import.html", {"run": run_out(run)})


@pages.get("/imports/{run_id}/errors.csv")
def errors_csv(run_id: RowId, request: Request, actor: Writer) -> Response:
    """The rejected rows (行, 列, 值, 原因); ID numbers and phones masked unless the viewer
    holds ``archive.read_sensitive`` at the run's unit (then the read is audited first)."""
    run = visible_run(request.app.state.kernel, actor, run_id)
    with request.app.state.kernel.engine.connect() as conn:
        content = conn.execute(
            select(FILES.c.content).where(FILES.c.run_id == run_id, FILES.c.kind == ERRORS)
        ).scalar_one_or_none()
    if content is None:
        raise HTTPException(404, "这次导入没有被拒绝的行 / no rejected rows in this import")
    if not reveal(request, actor, "import", run_id, run.unit_code):
        content = _masked_errors(content)
    name = content_disposition(f"导入错误-{run_id}.csv", f"import-{run_id}-errors.csv")
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": name, "Cache-Control": "no-store"},
    )
