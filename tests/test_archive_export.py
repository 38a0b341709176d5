"""Exporting an archive scope as CSV or XLSX under the import template's headers: masked
unless the caller holds ``archive.read_sensitive`` at the unit, 404 outside the scope,
audited before the data leaves, and an unmasked export imports again unchanged; the same
through ``sanmin export archive``. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from core.archives.crypto import cipher_for
from core.archives.importer import ImportSummary, import_archive
from core.archives.template import COLUMNS
from core.cli.main import app
from tests.test_import import GRID_A, GRID_B, TOWNSHIP, audit, id_number, person, write_csv

EXPORT = "/api/v1/archives/export"
OTHER_TOWNSHIP = GRID_B[:9] + "000"
SCOPED_PATHS = {EXPORT}  # 404 outside the scope: the grid worker's test below


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def world(sanmin, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Six persons in GRID_A; three in GRID_B, one household's address formula-like."""
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B, "二号网格")
    rows = [person(i) for i in range(6)]
    rows += [person(i, grid=GRID_B) | {"现住址": "=HYPERLINK(1)"} for i in range(6, 9)]
    load(sanmin, write_csv(tmp_path / "seed.csv", rows), "330802000000")
    return sanmin


def load(sanmin, path: Path, unit: str) -> ImportSummary:  # type: ignore[no-untyped-def]
    return import_archive(
        sanmin.engine, cipher_for(sanmin.kernel), path, unit_code=unit, actor="cli:test"
    )


def exports(sanmin) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def, type-arg]
    return [(e.actor, e.target_id, e.after) for e in audit(sanmin, "archive.export")]


def test_an_unmasked_csv_export_is_audited_first_and_imports_again_unchanged(
    world, tmp_path: Path
) -> None:
    cadre = world.client_as("county_admin", "330802000000", "county")
    answer = cadre.get(EXPORT, params={"unit": TOWNSHIP, "format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="archive-{TOWNSHIP}-')
    assert f"filename*=UTF-8''{quote('民情档案-')}" in disposition
    assert answer.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert lines[0] == list(COLUMNS) and len(lines) == 7  # GRID_B is another township
    assert dict(zip(COLUMNS, lines[1], strict=True)) == person(0)  # in full, as imported
    assert exports(world) == [
        ("account:county", TOWNSHIP, {"format": "csv", "rows": 6, "masked": False})
    ]
    [read] = audit(world, "read.archive.read_sensitive")
    assert (read.actor, read.target_type, read.target_id) == ("account:county", "export", TOWNSHIP)
    again = tmp_path / "export.csv"
    again.write_bytes(answer.content)
    assert load(world, again, TOWNSHIP) == ImportSummary(unchanged=6)


def test_a_grid_worker_gets_a_masked_xlsx_of_its_grid_and_404_elsewhere(
    world, tmp_path: Path
) -> None:
    answer = world.assert_scoped(
        "GET", EXPORT, role="grid_worker", inside=GRID_A, outside=GRID_B,
        params={"unit": GRID_A, "format": "xlsx"},
    )  # fmt: skip
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    (tmp_path / "export.xlsx").write_bytes(answer.content)
    sheet = load_workbook(tmp_path / "export.xlsx").active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == list(COLUMNS) and len(rows) == 7
    first = dict(zip(COLUMNS, rows[1], strict=True))
    number = id_number(0)
    assert first["身份证号"] == f"{number[:6]}********{number[-4:]}"
    assert first["联系电话"] == "138****0000" and first["姓名"] == "居民0"
    assert [e[2] for e in exports(world)] == [{"format": "xlsx", "rows": 6, "masked": True}]
    assert audit(world, "read.archive.read_sensitive") == []
    worker = world.client_as("grid_worker", GRID_A)
    assert worker.get(EXPORT, params={"unit": TOWNSHIP}).status_code == 404  # above its grid
    bad_unit = worker.get(EXPORT, params={"unit": "33x"})
    assert bad_unit.status_code == 422 and bad_unit.json()["detail"][0]["loc"] == ["query", "unit"]
    bad_format = worker.get(EXPORT, params={"unit": GRID_A, "format": "pdf"})
    assert bad_format.status_code == 422 and "format" in bad_format.json()["detail"][0]["loc"]
    resident = world.client_as("resident", GRID_A)
    assert resident.get(EXPORT, params={"unit": GRID_A}).status_code == 403
    assert len(exports(world)) == 1  # refused exports leave no entry


def test_the_cli_exports_masked_unless_asked_and_keeps_formulas_as_text(
    world, sanmin_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SANMIN_DATABASE_URL", sanmin_database_url)
    for name in ("SANMIN_DISABLED_PLUGINS", "SANMIN_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["export", "archive", *args])
        return result.exit_code, result.stdout, result.stderr

    masked = tmp_path / "b.xlsx"
    code, out, _ = cli(str(masked), "--unit", OTHER_TOWNSHIP)
    assert code == 0 and "已导出 3 人" in out and "已脱敏" in out
    cell = load_workbook(masked).active["H2"]
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")  # text, not a formula
    full = tmp_path / "b.txt"
    code, out, _ = cli(str(full), "--unit", OTHER_TOWNSHIP, "--format", "csv", "--unmasked")
    assert code == 0 and "未脱敏" in out
    first = full.read_text(encoding="utf-8-sig").splitlines()[1].split(",")
    assert first[1] == id_number(6) and first[7] == "'=HYPERLINK(1)"
    logged = [(actor.startswith("cli:"), after["masked"]) for actor, _, after in exports(world)]
    assert logged == [(True, True), (True, False)]
    assert len(audit(world, "read.archive.read_sensitive")) == 1
    code, _, err = cli(str(tmp_path / "c.pdf"), "--unit", OTHER_TOWNSHIP)
    assert code == 1 and "format" in err
    code, _, err = cli(str(masked), "--unit", "330802999000")
    assert code == 1 and err.startswith("错误:")
