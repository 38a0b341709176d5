"""Unit codes, the tree, subtree queries and CSV loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from core import Level, Unit, UnitCodeError, UnitNotFound, list_units, parse_code
from core.units.codes import path_upper_bound
from core.units.service import UnitLoadError, load_units, read_units_csv


@pytest.mark.parametrize(
    ("code", "level", "parent", "path"),
    [
        ("330800000000", Level.city, "330000000000", "3308"),
        ("330802000000", Level.county, "330800000000", "330802"),
        ("330802001000", Level.township, "330802000000", "330802001"),
        ("330802001001", Level.village, "330802001000", "330802001001"),
        ("330802001001002", Level.grid, "330802001001", "330802001001002"),
    ],
)
def test_codes_give_level_parent_and_path(code: str, level: Level, parent: str, path: str) -> None:
    parsed = parse_code(code)
    assert (parsed.level, parsed.parent, parsed.path) == (level, parent, path)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("33080200100", "12 位"),
        ("33080200100x", "12 位"),
        ("330800001000", "县区"),
        ("330802001000001", "网格必须属于村社区"),
        ("330802001001000", "000"),
        ("000000000000", "00"),
    ],
)
def test_bad_codes_are_refused_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(UnitCodeError, match=reason):
        parse_code(code)


def test_path_upper_bound_closes_every_prefix() -> None:
    assert path_upper_bound("330802001") == "330802002"
    assert path_upper_bound("330802999") == "330803000"
    assert "330802001999" < path_upper_bound("330802001") <= "330802002"


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "units.csv"
    path.write_text(text, encoding=encoding)
    return path


DEMO_CSV = (
    "区划代码,名称\n330800000000,衢州市\n330802000000,柯城区\n330802001000,府山街道\n"
    "330802001001,府山社区\n330802001001001,第一网格\n330802002000,荷花街道\n"
    "330803000000,衢江区\n330803104000,莲花镇\n"
)


def test_units_load_from_csv_and_subtree_is_a_prefix_range(sanmin, tmp_path: Path) -> None:
    rows = read_units_csv(write_csv(tmp_path, DEMO_CSV, encoding="utf-8-sig"))
    with Session(sanmin.engine) as session:
        report = load_units(session, rows)
        session.commit()
        assert len(report.created) == 8
        under = [u.code for u in list_units(session, "330802000000")]
        assert under == [
            "330802000000",
            "330802001000",
            "330802001001",
            "330802001001001",
            "330802002000",
        ]
        assert [u.code for u in list_units(session, "330802001000", level=Level.grid)] == [
            "330802001001001"
        ]
        grid = session.get(Unit, "330802001001001")
        assert grid is not None and grid.parent_code == "330802001001"
        assert session.get(Unit, "330800000000").parent_code == "330000000000"  # loaded above


def test_reloading_the_same_units_changes_nothing(sanmin, tmp_path: Path) -> None:
    rows = read_units_csv(write_csv(tmp_path, DEMO_CSV))
    with Session(sanmin.engine) as session:
        load_units(session, rows)
        session.commit()
        report = load_units(session, rows)
        session.commit()
    assert (report.created, report.updated, report.unchanged) == ([], [], 8)


def test_a_bad_file_names_every_problem_and_writes_nothing(sanmin, tmp_path: Path) -> None:
    text = (
        "code,name\n330800000000,衢州市\n330802000000,\n3308020010,坏代码\n"
        "330805001000,无上级\n330800000000,重复\n"
    )
    rows = read_units_csv(write_csv(tmp_path, text))
    with Session(sanmin.engine) as session:
        before = session.exec(select(Unit.code)).all()
    with Session(sanmin.engine) as session, pytest.raises(UnitLoadError) as caught:
        load_units(session, rows)
    problems = caught.value.problems
    assert any(p.startswith("第 3 行 name") for p in problems)
    assert any(p.startswith("第 4 行 code") for p in problems)
    assert any("330805000000" in p and "上级" in p for p in problems)
    assert any(p.startswith("第 6 行 code") and "重复" in p for p in problems)
    with Session(sanmin.engine) as session:
        assert session.exec(select(Unit.code)).all() == before


def test_a_file_without_the_headers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnitLoadError, match="表头"):
        read_units_csv(write_csv(tmp_path, "编号,单位\n330800000000,衢州市\n"))


def test_unknown_and_malformed_units_are_distinguished(sanmin) -> None:
    sanmin.unit("330802001000")
    with Session(sanmin.engine) as session:
        with pytest.raises(UnitNotFound, match="330802009000"):
            list_units(session, "330802009000")
        with pytest.raises(UnitCodeError):
            list_units(session, "3308")


def test_units_api_lists_a_subtree_and_a_unit_with_children(sanmin) -> None:
    sanmin.unit("330802001001001")
    sanmin.unit("330802002000")
    listed = sanmin.client.get("/api/v1/units", params={"under": "330802001000"}).json()
    assert [u["code"] for u in listed] == ["330802001000", "330802001001", "330802001001001"]
    detail = sanmin.client.get("/api/v1/units/330802000000").json()
    assert detail["level"] == "county" and detail["level_label"] == "县区"
    assert [c["code"] for c in detail["children"]] == ["330802001000", "330802002000"]
    missing = sanmin.client.get("/api/v1/units/330802009000")
    assert missing.status_code == 404 and "330802009000" in missing.json()["detail"]
    bad = sanmin.client.get("/api/v1/units", params={"under": "12"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("unit:")
