"""Queries on the unit tree and loading units from CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import ColumnElement, and_
from sqlmodel import Session, col, select

from core.units.codes import Level, UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit

CODE_HEADERS = ("code", "区划代码", "统计用区划代码", "代码", "单位代码")
NAME_HEADERS = ("name", "名称", "单位名称")
ROOT_LEVELS = frozenset({Level.province, Level.city})


class UnitNotFound(LookupError):
    """No unit with that code; the message names the code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"单位 {code} 不存在 / unit {code} does not exist")
        self.code = code


class OutOfScope(UnitNotFound):
    """A unit the actor may not see: answered exactly like a unit that does not exist."""

    def __init__(self, code: str) -> None:
        message = f"单位 {code} 不存在或不在您的范围内 / no such unit in your scope"
        LookupError.__init__(self, message)
        self.code = code


class UnitLoadError(ValueError):
    """A unit file with problems; ``problems`` lists each with its line."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f"; …共 {len(problems)} 处" if len(problems) > 5 else "")
        super().__init__(shown)
        self.problems = problems


def in_subtree(path: str) -> ColumnElement[bool]:
    """SQL condition: the unit's path lies under (or at) ``path``; one index range scan."""
    return and_(col(Unit.path) >= path, col(Unit.path) < path_upper_bound(path))


def get_unit(session: Session, code: str, *, visible: ColumnElement[bool] | None = None) -> Unit:
    """The unit with ``code``, if ``visible`` (a scope condition) lets the caller see it.

    :raises UnitCodeError: malformed code. :raises UnitNotFound: no such unit (or, with
        ``visible``, :class:`OutOfScope`: the same answer for a unit outside the caller's scope).
    """
    parsed = parse_code(code)
    if visible is None:
        unit = session.get(Unit, parsed.code)
        if unit is None:
            raise UnitNotFound(parsed.code)
        return unit
    unit = session.exec(select(Unit).where(col(Unit.code) == parsed.code, visible)).first()
    if unit is None:
        raise OutOfScope(parsed.code)
    return unit


def list_units(
    session: Session,
    under: str | None = None,
    *,
    level: Level | None = None,
    limit: int | None = None,
    offset: int = 0,
    visible: ColumnElement[bool] | None = None,
) -> list[Unit]:
    """Units in code order, optionally restricted to the subtree of ``under`` and one level.

    ``visible`` is the caller's scope condition (:func:`core.scope_clause` on ``Unit.code``);
    an ``under`` outside it answers :class:`OutOfScope`, like a unit that does not exist.
    """
    query = select(Unit) if visible is None else select(Unit).where(visible)
    if under is not None:
        unit = get_unit(session, under, visible=visible)
        query = query.where(in_subtree(unit.path))
    if level is not None:
        query = query.where(col(Unit.level) == level.value)
    query = query.order_by(col(Unit.path)).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def children(
    session: Session, code: str, *, visible: ColumnElement[bool] | None = None
) -> list[Unit]:
    """Units directly below ``code`` (that ``visible`` lets the caller see)."""
    query = select(Unit).where(col(Unit.parent_code) == code)
    if visible is not None:
        query = query.where(visible)
    return list(session.exec(query.order_by(col(Unit.path))))


def chunks(items: list[str], size: int = 5000) -> list[list[str]]:
    """Slices small enough for one IN list (PostgreSQL allows 65,535 parameters a statement)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass
class LoadReport:
    """What a CSV load did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0


def read_units_csv(path: Path) -> list[tuple[str, str]]:
    """Read ``(code, name)`` pairs from a CSV with a header row; raise :class:`UnitLoadError`.

    Headers may be English (``code,name``) or the Chinese ones departments use
    (``区划代码,名称``). A UTF-8 byte-order mark, as Excel writes, is accepted.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            headers = reader.fieldnames or []
            code_header = next((h for h in headers if h.strip() in CODE_HEADERS), None)
            name_header = next((h for h in headers if h.strip() in NAME_HEADERS), None)
            if code_header is None or name_header is None:
                raise UnitLoadError(
                    [f"第 1 行：表头须包含 code 与 name（或 区划代码 与 名称），实际为 {headers}"]
                )
            return [
                ((row.get(code_header) or "").strip(), (row.get(name_header) or "").strip())
                for row in reader
            ]
    except UnicodeDecodeError as exc:
        raise UnitLoadError([f"文件不是 UTF-8 编码 / file is not UTF-8: {exc.reason}"]) from exc
    except OSError as exc:
        raise UnitLoadError([f"无法读取文件 {path}: {exc.strerror}"]) from exc


def load_units(session: Session, rows: Iterable[tuple[str, str]]) -> LoadReport:
    """Insert or update units, all or nothing.

    Every row is checked first (code valid, name present, no duplicate, parent
    present in the file or the database unless the unit is a city or
    province); any problem raises :class:`UnitLoadError` listing each with its
    line number, and nothing is written. A re-run of the same rows changes
    nothing. The caller commits.
    """
    problems: list[str] = []
    wanted: dict[str, Unit] = {}
    for line, (code, name) in enumerate(rows, start=2):
        try:
            unit = Unit.build(code, name)
        except UnitCodeError as exc:
            problems.append(f"第 {line} 行 code：{exc}")
            continue
        if not name:
            problems.append(f"第 {line} 行 name：名称不能为空 / name is empty")
        elif len(name) > 100:
            problems.append(f"第 {line} 行 name：名称超过 100 字 / name longer than 100")
        if unit.code in wanted:
            problems.append(f"第 {line} 行 code：{unit.code} 重复 / duplicate code")
        wanted[unit.code] = unit
    existing = (
        {
            unit.code: unit
            for chunk in chunks(list(wanted))
            for unit in session.exec(select(Unit).where(col(Unit.code).in_(chunk)))
        }
        if wanted
        else {}
    )
    missing_parents = {
        unit.parent_code
        for unit in wanted.values()
        if unit.parent_code
        and unit.parent_code not in wanted
        and Level(unit.level) not in ROOT_LEVELS
    }
    if missing_parents:
        found = {
            code
            for chunk in chunks(list(missing_parents))
            for code in session.exec(select(Unit.code).where(col(Unit.code).in_(chunk)))
        }
        for unit in wanted.values():
            if unit.parent_code in missing_parents - found:
                problems.append(
                    f"code {unit.code}：上级单位 {unit.parent_code} 不存在 / parent does not exist"
                )
    if problems:
        raise UnitLoadError(problems)
    report = LoadReport()
    for unit in sorted(wanted.values(), key=lambda u: (Level(u.level).depth, u.code)):
        if Level(unit.level) in ROOT_LEVELS and unit.parent_code not in wanted:
            parent_exists = session.get(Unit, unit.parent_code) if unit.parent_code else None
            unit.parent_code = unit.parent_code if parent_exists else None
        current = existing.get(unit.code)
        if current is None:
            session.add(unit)
            report.created.append(unit.code)
        elif (current.name, current.parent_code) != (unit.name, unit.parent_code):
            current.name, current.parent_code = unit.name, unit.parent_code
            session.add(current)
            report.updated.append(unit.code)
        else:
            report.unchanged += 1
    session.flush()
    return report
