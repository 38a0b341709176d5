"""Importing from the admin page: an upload becomes a queued run, the worker imports it in
batches with its progress, the summary and the errors CSV are shown; a dry run writes
nothing, a run left by a dead worker is taken again, failures show a message. Every test runs
on SQLite and PostgreSQL; the worker is driven pass by pass with a fake clock."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import update

from core.archives import import_runs
from core.archives.crypto import cipher_for
from core.archives.import_models import ArchiveImportRun
from core.archives.importer import import_archive
from core.db.types import utcnow
from core.testing import TEST_PASSWORD
from tests.helpers import Clock
from tests.test_import import (
    FUTURE,
    GRID_A,
    GRID_B,
    TOWNSHIP,
    audit,
    bad_rows,
    counts,
    id_number,
    person,
    write_csv,
)

VILLAGE = GRID_A[:12]
# Every route of the imports, each shown to answer 404 outside the scope below.
SCOPED_PATHS = {
    "/archives/imports",
    "/archives/imports/{run_id}",
    "/archives/imports/{run_id}/errors.csv",
    "/api/v1/archives/imports",
    "/api/v1/archives/imports/{run_id}",
}
HTML = {"Accept": "text/html"}
RUNS = ArchiveImportRun.__table__  # type: ignore[attr-defined]


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def world(sanmin, tmp_path: Path):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    sanmin.clock = Clock()
    sanmin.sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(6)] + bad_rows())
    return sanmin


def upload(client: TestClient, path: Path, unit: str = TOWNSHIP, **form: str):  # type: ignore[no-untyped-def]
    """POST the sheet to the API; returns the answer."""
    return client.post(
        "/api/v1/archives/imports",
        files={"file": (path.name, path.read_bytes(), "text/csv")},
        data={"unit_code": unit, **form},
    )


def work(world) -> None:  # type: ignore[no-untyped-def]
    """One worker pass in the next job period."""
    world.clock.now += timedelta(minutes=1)
    world.worker(clock=world.clock).run_once()


def errors_of(client: TestClient, run_id: int) -> dict[int, tuple[str, str]]:
    answer = client.get(f"/archives/imports/{run_id}/errors.csv")
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert lines[0] == ["行", "列", "值", "原因"]
    return {int(row): (column, value) for row, column, value, _ in lines[1:]}


def test_an_upload_runs_in_the_worker_with_the_cli_counts_and_a_rerun_changes_nothing(
    world,
) -> None:
    expected = import_archive(  # what `sanmin import archive --dry-run` reports
        world.engine,
        cipher_for(world.kernel),
        world.sheet,
        unit_code=TOWNSHIP,
        actor="cli:test",
        dry_run=True,
    )
    admin = world.client_as("township_admin", TOWNSHIP, "fu-admin")
    form = {"unit_code": TOWNSHIP, "source": "公安户籍"}
    files = {"file": ("户籍.csv", world.sheet.read_bytes(), "text/csv")}
    posted = admin.post("/archives/imports", data=form, files=files, follow_redirects=False)
    assert posted.status_code == 303
    run_id = int(posted.headers["location"].rsplit("/", 1)[1])
    queued = admin.get(f"/api/v1/archives/imports/{run_id}").json()
    assert (queued["status"], queued["rows_done"], queued["total_rows"]) == ("queued", 0, 10)
    assert queued["summary"] is None and counts(world) == (0, 0)
    work(world)
    done = admin.get(f"/api/v1/archives/imports/{run_id}").json()
    assert (done["status"], done["rows_done"], done["attempts"]) == ("done", 10, 1)
    assert (
        done["summary"]
        == asdict(expected)
        == {
            "inserted": 6,
            "updated": 0,
            "unchanged": 0,
            "rejected": 4,
        }
    )
    assert counts(world) == (6, 2)
    [entry] = audit(world, "archive.import")
    assert (entry.actor, entry.source, entry.unit_code) == (
        "account:fu-admin",
        "公安户籍",
        TOWNSHIP,
    )
    page = admin.get(f"/archives/imports/{run_id}", headers=HTML).text
    assert "已完成" in page and "拒绝 4" in page and 'http-equiv="refresh"' not in page
    assert done["errors_url"] in page
    rejected = errors_of(admin, run_id)  # a township admin reads them unmasked, audited
    assert sorted(rejected) == [8, 9, 10, 11] and rejected[9] == ("身份证号", FUTURE)
    [read] = audit(world, "read.archive.read_sensitive")
    assert (read.target_type, read.target_id) == ("import", str(run_id))

    again = upload(admin, world.sheet, source="公安户籍").json()
    work(world)
    rerun = admin.get(f"/api/v1/archives/imports/{again['id']}").json()
    assert rerun["summary"] == {"inserted": 0, "updated": 0, "unchanged": 6, "rejected": 4}
    listing = admin.get("/archives/imports", headers=HTML).text
    assert f'href="/archives/imports/{run_id}"' in listing
    assert f'href="/archives/imports/{again["id"]}"' in listing
    assert 'href="/archives/imports">档案导入</a>' in listing  # the menu entry

    outsider = world.client_as("township_admin", "330802002000")
    assert outsider.get(f"/api/v1/archives/imports/{run_id}").status_code == 404
    assert outsider.get(f"/archives/imports/{run_id}/errors.csv").status_code == 404
    assert f"/archives/imports/{run_id}" not in outsider.get("/archives/imports").text
    below = world.client_as("grid_worker", GRID_A)  # writes its grid, not the township
    assert below.get(f"/archives/imports/{run_id}", headers=HTML).status_code == 404


def test_a_dry_run_of_an_xlsx_writes_nothing_and_a_grid_worker_gets_masked_errors(
    world, tmp_path: Path
) -> None:
    book = Workbook()
    with world.sheet.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.reader(handle):
            book.active.append(row)
    book.save(tmp_path / "户籍.xlsx")
    worker = world.client_as("grid_worker", VILLAGE)
    answer = upload(worker, tmp_path / "户籍.xlsx", unit=VILLAGE, dry_run="true")
    assert answer.status_code == 202 and answer.json()["dry_run"] is True
    assert (answer.json()["file_name"], answer.json()["total_rows"]) == ("户籍.xlsx", 10)
    work(world)
    run = worker.get(f"/api/v1/archives/imports/{answer.json()['id']}").json()
    assert run["status"] == "done"
    assert run["summary"] == {"inserted": 6, "updated": 0, "unchanged": 0, "rejected": 4}
    assert counts(world) == (0, 0) and audit(world, "archive.import") == []
    rejected = errors_of(worker, run["id"])
    assert rejected[9] == ("身份证号", f"{FUTURE[:6]}********{FUTURE[-4:]}")
    assert FUTURE not in str(rejected) and audit(world, "read.archive.read_sensitive") == []


def test_bad_uploads_are_refused_naming_the_field(
    world, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = world.client_as("township_admin", TOWNSHIP)
    text = tmp_path / "户籍.txt"
    text.write_text("姓名\n", encoding="utf-8")
    wrong = upload(admin, text)
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "file"]
    partial = tmp_path / "partial.csv"
    partial.write_text("姓名,身份证号\n张三,1\n", encoding="utf-8")
    missing = upload(admin, partial)
    assert missing.status_code == 422 and "缺少列" in missing.json()["detail"][0]["msg"]
    assert upload(admin, world.sheet, unit="3308").json()["detail"][0]["loc"] == [
        "body",
        "unit_code",
    ]
    assert upload(admin, world.sheet, unit="330802002000").status_code == 404
    elsewhere = admin.post(
        "/archives/imports",
        data={"unit_code": "330802002000"},
        files={"file": ("户籍.csv", world.sheet.read_bytes(), "text/csv")},
        headers=HTML,
    )
    assert elsewhere.status_code == 404 and "不在您的可写范围内" in elsewhere.text
    monkeypatch.setattr(import_runs, "MAX_UPLOAD_BYTES", 100)
    page = admin.post(
        "/archives/imports",
        data={"unit_code": TOWNSHIP},
        files={"file": ("户籍.csv", world.sheet.read_bytes(), "text/csv")},
        headers=HTML,
    )
    assert page.status_code == 413 and "file: 文件超过" in page.text
    assert f'value="{TOWNSHIP}"' in page.text  # the form again, filled in
    volunteer = world.client_as("volunteer", GRID_A)
    assert volunteer.get("/archives/imports", headers=HTML).status_code == 403
    assert upload(volunteer, world.sheet, unit=GRID_A).status_code == 403
    assert admin.get("/api/v1/archives/imports/1").status_code == 404  # nothing was queued


def test_the_page_form_needs_the_csrf_token(world) -> None:
    world.account("township_admin", TOWNSHIP, "browser-admin")
    browser = TestClient(world.app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)[1]  # type: ignore[index]
    login = {"username": "browser-admin", "password": TEST_PASSWORD, "csrf_token": token}
    assert browser.post("/login", data=login, follow_redirects=False).status_code == 303
    form_page = browser.get("/archives/imports", headers=HTML).text
    assert 'enctype="multipart/form-data"' in form_page and f'value="{TOWNSHIP}"' in form_page
    files = {"file": ("户籍.csv", world.sheet.read_bytes(), "text/csv")}
    form = {"unit_code": TOWNSHIP}
    forged = browser.post("/archives/imports", data=form, files=files, headers=HTML)
    assert forged.status_code == 403
    sent = browser.post(
        "/archives/imports",
        data={**form, "csrf_token": token},
        files=files,
        headers=HTML,
        follow_redirects=False,
    )
    assert sent.status_code == 303
    running = browser.get(sent.headers["location"], headers=HTML).text
    assert "排队中" in running and 'http-equiv="refresh"' in running


def test_a_run_left_by_a_dead_worker_is_taken_again_and_finished(world, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "大表.csv", [person(i) for i in range(23)])
    admin = world.client_as("township_admin", TOWNSHIP)
    dead, alive, hopeless = (upload(admin, sheet).json()["id"] for _ in range(3))
    batches: list[int] = []

    def crash_after_two(rows: int) -> None:
        batches.append(rows)
        if len(batches) == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):  # the dead worker's two batches
        import_archive(
            world.engine,
            cipher_for(world.kernel),
            sheet,
            unit_code=TOWNSHIP,
            actor="account:x",
            batch_rows=5,
            first_import_batches=1,  # a commit per batch, as into a non-empty archive
            progress=crash_after_two,
        )
    now = utcnow()
    with world.engine.begin() as conn:
        for run_id, lease, attempts in (
            (dead, now - timedelta(seconds=1), 1),
            (alive, now + timedelta(hours=1), 1),
            (hopeless, now - timedelta(seconds=1), import_runs.MAX_ATTEMPTS),
        ):
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(
                    status="running",
                    claimed_by=f"w{run_id}",
                    claimed_until=lease,
                    attempts=attempts,
                )
            )
    work(world)
    runs = {r: admin.get(f"/api/v1/archives/imports/{r}").json() for r in (dead, alive, hopeless)}
    assert (runs[dead]["status"], runs[dead]["attempts"]) == ("done", 2)
    assert runs[dead]["summary"] == {"inserted": 13, "updated": 0, "unchanged": 10, "rejected": 0}
    assert counts(world) == (23, 8)
    assert runs[alive]["status"] == "running"  # its worker keeps the lease: left alone
    assert runs[hopeless]["status"] == "failed" and "中断" in runs[hopeless]["error"]


def test_a_failing_run_shows_a_message_never_a_traceback(
    world, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    admin = world.client_as("township_admin", TOWNSHIP)
    broken = tmp_path / "坏编码.csv"
    good = write_csv(tmp_path / "head.csv", [person(0)]).read_bytes()
    broken.write_bytes(good + b",,,,,,,,\n" * 8000 + b"\xff\xfe\n")  # past the sniffed head
    first = upload(admin, broken).json()["id"]
    work(world)
    failed = admin.get(f"/api/v1/archives/imports/{first}").json()
    assert failed["status"] == "failed" and "编码" in failed["error"]

    def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    monkeypatch.setattr(import_runs, "import_archive", explode)
    second = upload(admin, world.sheet).json()["id"]
    work(world)
    crashed = admin.get(f"/api/v1/archives/imports/{second}").json()
    assert crashed["status"] == "failed" and crashed["error"] == import_runs.INTERNAL
    page = admin.get(f"/archives/imports/{second}", headers=HTML).text
    assert "已记录日志" in page and "secret internals" not in page
    assert id_number(0) not in page
