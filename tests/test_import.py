"""``sanmin import archive`` and ``sanmin import template``: validation with an errors file,
upsert by 身份证号 and 户号 (a re-run changes nothing), audited updates, dry runs, batches
that survive a crash, CSV (UTF-8 and GB18030) and XLSX. Every test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, inspect
from sqlmodel import select
from stdnum.cn import ric
from typer.testing import CliRunner

from core.archives.bulk_indexes import deferred_indexes, ensure_indexes
from core.archives.crypto import cipher_for
from core.archives.idnumbers import validate_phone
from core.archives.import_worker import ImportWorkerError
from core.archives.importer import ImportSummary, import_archive
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.archives.rowcheck import check_row
from core.archives.template import COLUMNS, SheetError
from core.audit.models import AuditEntry
from core.cli.main import app

TOWNSHIP = "330802001000"
GRID_A, GRID_B = "330802001001001", "330802002001001"  # inside and outside the township
FUTURE = "330802300001010014"  # check digit right, born in the year 3000
TODAY = date(2026, 11, 27)


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


def id_number(i: int) -> str:
    body = f"330802{date(1986, 1, 1) + timedelta(days=37 * i):%Y%m%d}{i % 1000:03d}"
    total = sum(int(d) * pow(2, 17 - k, 11) for k, d in enumerate(body))
    return body + "10X98765432"[total % 11]


def person(i: int, grid: str = GRID_A) -> dict[str, str]:
    """Row ``i``: three persons a household."""
    number = id_number(i)
    return {
        "姓名": f"居民{i}",
        "身份证号": number,
        "性别": "男" if int(number[16]) % 2 else "女",
        "出生日期": f"{ric.get_birth_date(number):%Y-%m-%d}",
        "联系电话": f"138{i:08d}",
        "户号": f"H{i // 3:05d}",
        "与户主关系": "户主" if i % 3 == 0 else "子女",
        "现住址": f"测试村{i // 3}号",
        "所属网格": grid,
    }


def bad_rows() -> list[dict[str, str]]:
    """A bad check digit, an ID born in the future, a grid outside the township, and a
    future 出生日期: rows 8 to 11 after six good ones."""
    wrong_digit = person(100) | {"身份证号": id_number(100)[:-1] + "9"}
    if wrong_digit["身份证号"] == id_number(100):
        wrong_digit["身份证号"] = id_number(100)[:-1] + "8"
    future = person(101) | {"身份证号": FUTURE, "性别": "", "出生日期": ""}
    return [
        wrong_digit,
        future,
        person(102, grid=GRID_B) | {"户号": "H-OUT"},
        person(103) | {"出生日期": "2999-01-01"},
    ]


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def units(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    return sanmin


def run(sanmin, path: Path, **kwargs) -> ImportSummary:  # type: ignore[no-untyped-def]
    kwargs.setdefault("today", TODAY)
    return import_archive(
        sanmin.engine,
        cipher_for(sanmin.kernel),
        path,
        unit_code=TOWNSHIP,
        actor="cli:test",
        **kwargs,
    )


def counts(sanmin) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        persons = session.exec(select(func.count()).select_from(ArchivePerson)).one()
        homes = session.exec(select(func.count()).select_from(ArchiveHousehold)).one()
    return persons, homes


def audit(sanmin, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)))


def test_bad_rows_are_rejected_with_row_and_reason_and_the_rest_import(
    units, tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(6)] + bad_rows())
    errors = tmp_path / "errors.csv"
    summary = run(units, sheet, errors=errors, source="公安户籍")
    assert summary == ImportSummary(inserted=6, updated=0, unchanged=0, rejected=4)
    assert counts(units) == (6, 2)
    with errors.open(encoding="utf-8-sig") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["行", "列", "值", "原因"]
    by_row = {int(row): (column, value, reason) for row, column, value, reason in lines[1:]}
    assert sorted(by_row) == [8, 9, 10, 11]
    assert by_row[8][0] == "身份证号" and "校验位" in by_row[8][2]
    assert by_row[9] == ("身份证号", FUTURE, by_row[9][2]) and "未来" in by_row[9][2]
    assert by_row[10][:2] == ("所属网格", GRID_B) and "范围" in by_row[10][2]
    assert by_row[11][:2] == ("出生日期", "2999-01-01") and "未来" in by_row[11][2]
    with units.session() as session:
        stored = session.exec(select(ArchivePerson).where(ArchivePerson.name == "居民4")).one()
        assert (stored.phone, stored.relation) == ("13800000004", "child")
        assert stored.source == "公安户籍"
        assert stored.unit_code == GRID_A and stored.birth_date == ric.get_birth_date(id_number(4))
        assert cipher_for(units.kernel).decrypt(stored.id_cipher) == id_number(4)
    [entry] = audit(units, "archive.import")
    assert entry.unit_code == TOWNSHIP and entry.actor == "cli:test"
    assert entry.after == {"inserted": 6, "updated": 0, "unchanged": 0, "rejected": 4}


def test_reimporting_the_same_file_reports_no_changes(units, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(6)] + bad_rows())
    run(units, sheet)
    again = run(units, sheet)
    assert again == ImportSummary(inserted=0, updated=0, unchanged=6, rejected=4)
    assert counts(units) == (6, 2)
    assert audit(units, "archive.person.update") == []
    with units.session() as session:
        assert {p.version for p in session.exec(select(ArchivePerson))} == {1}


def test_a_changed_row_updates_the_person_and_is_audited(units, tmp_path: Path) -> None:
    rows = [person(i) for i in range(6)]
    run(units, write_csv(tmp_path / "v1.csv", rows))
    rows[4] = rows[4] | {"联系电话": "13999998888", "姓名": "居民四"}
    summary = run(units, write_csv(tmp_path / "v2.csv", rows))
    assert summary == ImportSummary(inserted=0, updated=1, unchanged=5, rejected=0)
    with units.session() as session:
        stored = session.exec(select(ArchivePerson).where(ArchivePerson.name == "居民四")).one()
    assert (stored.phone, stored.version) == ("13999998888", 2)
    [entry] = audit(units, "archive.person.update")
    assert entry.target_id == str(stored.id) and entry.unit_code == GRID_A
    assert entry.before == {"name": "居民4", "phone": "138****0004"}
    assert entry.after == {"name": "居民四", "phone": "139****8888"}


def test_a_moved_household_updates_its_members_and_is_audited(units, tmp_path: Path) -> None:
    rows = [person(i) for i in range(3)]
    run(units, write_csv(tmp_path / "v1.csv", rows))
    moved = [r | {"现住址": "新村 8 号"} for r in rows]
    summary = run(units, write_csv(tmp_path / "v2.csv", moved))
    assert summary == ImportSummary(updated=3)
    [entry] = audit(units, "archive.household.update")
    assert entry.before == {"address": "测试村0号", "unit_code": GRID_A}
    assert entry.after == {"address": "新村 8 号", "unit_code": GRID_A}
    assert run(units, write_csv(tmp_path / "v3.csv", moved)) == ImportSummary(unchanged=3)


def test_a_crash_mid_way_then_a_rerun_gives_exactly_the_files_counts(units, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(23)] + bad_rows())
    batches: list[int] = []

    def crash_after_two(rows: int) -> None:
        batches.append(rows)
        if len(batches) == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run(units, sheet, batch_rows=5, progress=crash_after_two, first_import_batches=1)
    assert counts(units) == (10, 4)  # two whole batches, nothing of the third
    assert audit(units, "archive.import") == []
    summary = run(units, sheet, batch_rows=5)
    assert summary == ImportSummary(inserted=13, updated=0, unchanged=10, rejected=4)
    assert counts(units) == (23, 8)
    assert run(units, sheet, batch_rows=5) == ImportSummary(unchanged=23, rejected=4)


def test_a_dry_run_writes_nothing(units, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(6)] + bad_rows())
    summary = run(units, sheet, dry_run=True, errors=tmp_path / "errors.csv")
    assert summary == ImportSummary(inserted=6, updated=0, unchanged=0, rejected=4)
    assert counts(units) == (0, 0)
    assert audit(units, "archive.import") == []
    assert len((tmp_path / "errors.csv").read_text(encoding="utf-8-sig").splitlines()) == 5


def test_an_xlsx_sheet_with_number_and_date_cells_imports(units, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["备注", *COLUMNS])  # an extra column is ignored
    for i in range(4):
        values = person(i)
        values["出生日期"] = ric.get_birth_date(values["身份证号"])  # a date cell
        values["联系电话"] = int(values["联系电话"])  # a number cell
        sheet.append(["", *(values[c] for c in COLUMNS)])
    sheet.append([None] * (len(COLUMNS) + 1))  # a blank row
    sheet.append(["", *(bad_rows()[0][c] for c in COLUMNS)])
    book.save(tmp_path / "户籍.xlsx")
    errors = tmp_path / "errors.csv"
    summary = run(units, tmp_path / "户籍.xlsx", errors=errors)
    assert summary == ImportSummary(inserted=4, rejected=1)
    assert errors.read_text(encoding="utf-8-sig").splitlines()[1].startswith("7,身份证号,")
    with units.session() as session:
        phones = set(session.exec(select(ArchivePerson.phone)))
    assert phones == {f"138{i:08d}" for i in range(4)}
    assert run(units, tmp_path / "户籍.xlsx") == ImportSummary(unchanged=4, rejected=1)


def test_a_gb18030_csv_is_detected(units, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "gb.csv", [person(i) for i in range(3)], encoding="gb18030")
    assert run(units, sheet) == ImportSummary(inserted=3)
    with units.session() as session:
        assert set(session.exec(select(ArchiveHousehold.address))) == {"测试村0号"}


def test_repeats_within_a_batch_are_rejected(units, tmp_path: Path) -> None:
    rows = [person(0), person(1), person(0), person(2) | {"现住址": "别处"}]
    errors = tmp_path / "errors.csv"
    assert run(units, write_csv(tmp_path / "r.csv", rows), errors=errors) == ImportSummary(
        inserted=2, rejected=2
    )
    lines = errors.read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [line.split(",")[:2] for line in lines] == [["4", "身份证号"], ["5", "户号"]]


@pytest.fixture
def cli(units, sanmin_database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``sanmin …`` on the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("SANMIN_DATABASE_URL", sanmin_database_url)
    for name in ("SANMIN_DISABLED_PLUGINS", "SANMIN_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_the_template_round_trip_through_the_cli(cli, units, tmp_path: Path) -> None:
    template = tmp_path / "模板.xlsx"
    assert cli("import", "template", str(template))[0] == 0
    book = load_workbook(template)
    sheet = book.active
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    for row, i in enumerate(range(3), start=2):
        for column, header in enumerate(COLUMNS, start=1):
            sheet.cell(row=row, column=column, value=person(i)[header])
    book.save(template)
    code, out, _ = cli("import", "archive", str(template), "--unit", TOWNSHIP, "--dry-run")
    assert code == 0 and "新增 3，更新 0，未变 0，拒绝 0" in out and "试运行" in out
    assert counts(units) == (0, 0)
    code, out, _ = cli("import", "archive", str(template), "--unit", TOWNSHIP, "--source", "派出所")
    assert code == 0 and "新增 3，更新 0，未变 0，拒绝 0" in out
    code, out, _ = cli("import", "archive", str(template), "--unit", TOWNSHIP)
    assert code == 0 and "新增 0，更新 0，未变 3，拒绝 0" in out
    [first, _] = audit(units, "archive.import")
    assert first.source == "派出所" and first.actor.startswith("cli:")


def test_a_csv_template_and_the_cli_errors_file(cli, tmp_path: Path) -> None:
    template = tmp_path / "模板.csv"
    assert cli("import", "template", str(template))[0] == 0
    assert template.read_text(encoding="utf-8-sig").strip() == ",".join(COLUMNS)
    sheet = write_csv(tmp_path / "gb.csv", [person(0), bad_rows()[2]], encoding="gb18030")
    errors = tmp_path / "errors.csv"
    code, out, _ = cli(
        "import", "archive", str(sheet), "--unit", TOWNSHIP, "--encoding", "gb18030",
        "--errors", str(errors),
    )  # fmt: skip
    assert code == 0 and "新增 1，更新 0，未变 0，拒绝 1" in out and str(errors) in out
    assert errors.read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,所属网格,")


def test_cli_failures_are_one_line(cli, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "ok.csv", [person(0)])
    code, _, err = cli("import", "archive", str(sheet), "--unit", "330802999000")
    assert code == 1 and err.startswith("错误:") and len(err.strip().splitlines()) == 1
    partial = tmp_path / "partial.csv"
    partial.write_text("姓名,身份证号\n张三,1\n", encoding="utf-8")
    code, _, err = cli("import", "archive", str(partial), "--unit", TOWNSHIP)
    assert code == 1 and "缺少列" in err and "所属网格" in err
    code, _, err = cli("import", "archive", str(tmp_path / "none.txt"), "--unit", TOWNSHIP)
    assert code == 1 and err.startswith("错误:")
    code, _, err = cli("import", "template", str(tmp_path / "t.doc"))
    assert code == 1 and ".xlsx" in err
    code, _, err = cli("import", "archive", str(sheet), "--unit", TOWNSHIP, "--encoding", "nope")
    assert code == 1 and "encoding" in err


def index_names(sanmin) -> set[str]:  # type: ignore[no-untyped-def]
    found = inspect(sanmin.engine)
    return {
        index["name"]
        for table in ("archive_person", "archive_household")
        for index in found.get_indexes(table)
    }


def test_a_first_import_builds_the_secondary_indexes_after_the_load(units, tmp_path: Path) -> None:
    """Into an empty archive the non-unique indexes are dropped for the load and built again
    however it ends; into a non-empty one they stay; a start of the app rebuilds any missing."""
    deferred = {index.name for index in deferred_indexes()}
    assert deferred >= {"ix_archive_person_name", "ix_archive_household_unit_code_number"}
    full = index_names(units)
    assert deferred <= full
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(23)])
    during: list[set[str]] = []

    def crash_after_two(rows: int) -> None:
        during.append(index_names(units))
        if len(during) == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run(units, sheet, batch_rows=5, progress=crash_after_two, first_import_batches=1)
    assert not during[0] & deferred  # built after the load, not row by row
    assert index_names(units) == full  # and built again when the import failed
    during.clear()

    def watch(rows: int) -> None:
        during.append(index_names(units))

    summary = run(units, sheet, batch_rows=5, progress=watch)
    assert summary == ImportSummary(inserted=13, unchanged=10)
    assert all(seen == full for seen in during)  # not empty any more: nothing dropped
    with units.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_archive_person_name")
    ensure_indexes(units.engine)  # what every start of the application runs
    assert index_names(units) == full


def rows_with_every_problem() -> list[dict[str, str]]:
    """Good rows over several batches of 5, the bad rows, a repeat within a batch, a
    household disagreeing within a batch, and a row repeating one of an earlier batch."""
    rows = [person(i) for i in range(12)] + bad_rows()
    rows += [person(20), person(20), person(21), person(22) | {"现住址": "别处"}]
    return [*rows, person(3) | {"联系电话": "13900000003"}]


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_checking_process_imports_exactly_what_one_process_imports(
    units, tmp_path: Path, dry_run: bool
) -> None:
    sheet = write_csv(tmp_path / "户籍.csv", rows_with_every_problem())
    outcomes = []
    for parallel in (False, True):
        errors = tmp_path / f"errors-{parallel}.csv"
        summary = run(units, sheet, batch_rows=5, errors=errors, parallel=parallel, dry_run=True)
        outcomes.append((summary, errors.read_text(encoding="utf-8-sig")))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == ImportSummary(inserted=15, rejected=6)  # nothing kept between
    assert len(outcomes[0][1].splitlines()) == 7
    if dry_run:
        return
    summary = run(units, sheet, batch_rows=5, parallel=True)
    assert summary == ImportSummary(inserted=14, updated=1, rejected=6)
    with units.session() as session:
        third = session.exec(select(ArchivePerson).where(ArchivePerson.name == "居民3")).one()
    assert third.phone == "13900000003"  # across batches the later row wins
    assert counts(units) == (14, 6)
    again = run(units, sheet, batch_rows=5, parallel=True)  # 居民3 twice again: two updates
    assert again == ImportSummary(updated=2, unchanged=13, rejected=6)


def test_a_first_import_commits_every_few_batches(units, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(23)])
    seen: list[int] = []

    def crash_after_one(rows: int) -> None:
        seen.append(rows)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run(units, sheet, batch_rows=5, first_import_batches=2, progress=crash_after_one)
    assert seen == [10] and counts(units) == (10, 4)  # one transaction of two whole batches
    seen.clear()
    summary = run(units, sheet, batch_rows=5, first_import_batches=2, progress=seen.append)
    assert summary == ImportSummary(inserted=13, unchanged=10)
    assert seen == [5, 5, 5, 5, 3]  # not a first import any more: a commit per batch


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The checking processes the importer starts, as they start."""
    from core.archives import import_worker

    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(import_worker.subprocess, "Popen", Recorded)
    return started


def test_a_checking_process_dying_mid_way_is_an_error_not_a_hang(
    units, tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    """The child is killed while it waits for the writer to take its next batches (far more
    than the pipe holds): the batches already sent are written, then the import fails."""
    sheet = write_csv(tmp_path / "户籍.csv", [person(i % 300) for i in range(3000)])

    def kill_the_child(rows: int) -> None:
        if children[0].poll() is None:
            children[0].kill()
            children[0].wait()

    with pytest.raises(ImportWorkerError, match="exit status -9"):
        run(
            units,
            sheet,
            batch_rows=5,
            first_import_batches=1,
            parallel=True,
            progress=kill_the_child,
        )
    assert counts(units)[0] % 5 == 0  # whole batches
    assert audit(units, "archive.import") == []
    assert run(units, sheet, batch_rows=5, parallel=True).rows == 3000  # a re-run completes
    assert counts(units)[0] == 300


def test_a_checking_process_dying_at_once_is_an_error(
    units, tmp_path: Path, children: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.archives import import_worker

    monkeypatch.setattr(import_worker, "BOOTSTRAP", "import sys; sys.exit('broken')")
    sheet = write_csv(tmp_path / "户籍.csv", [person(i) for i in range(3)])
    with pytest.raises(ImportWorkerError, match=r"exit status 1\):\nbroken"):
        run(units, sheet, parallel=True)
    assert counts(units) == (0, 0) and children[0].returncode == 1


def test_a_sheet_error_in_the_checking_process_is_a_sheet_error(units, tmp_path: Path) -> None:
    partial = tmp_path / "partial.csv"
    partial.write_text("姓名,身份证号\n张三,1\n", encoding="utf-8")
    with pytest.raises(SheetError, match="所属网格"):
        run(units, partial, parallel=True)
    assert counts(units) == (0, 0)


@pytest.mark.parametrize(
    "phone",
    [
        "13812345678",
        "138 1234 5678",
        "0570-3012345",
        "05703012345",
        "1381234567",
        "2381234567a",
        "１３８１２３４５６７８",
    ],
)
def test_a_row_takes_the_phones_validate_phone_takes(phone: str) -> None:
    values = tuple(person(0)[column] for column in COLUMNS)
    values = (*values[:4], phone, *values[5:])
    checked, problems = check_row(2, values, "330802001", TODAY, {GRID_A})
    try:
        expected = validate_phone(phone)
    except ValueError:
        assert checked is None and [p[1] for p in problems] == ["联系电话"]
    else:
        assert checked is not None and checked[4] == expected and not problems
