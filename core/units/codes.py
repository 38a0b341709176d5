"""Administrative division codes: parsing, levels and the prefix path.

Codes follow the national 12-digit statistical division code: 2 digits of
province, 2 of city, 2 of county, 3 of township and 3 of village. Grids (网格)
append 3 more digits to their village's code. Trailing zero groups mean "this
level and above", so ``330802001000`` is a township and ``330802000000`` the
county above it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """The levels of the unit tree, from the top."""

    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"
    grid = "grid"

    @property
    def label(self) -> str:
        """The Chinese name of the level."""
        return LEVEL_LABELS[self]

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(self)


LEVEL_ORDER: tuple[Level, ...] = tuple(Level)
LEVEL_LABELS = {
    Level.province: "省",
    Level.city: "市",
    Level.county: "县区",
    Level.township: "乡镇街道",
    Level.village: "村社区",
    Level.grid: "网格",
}
# How many leading digits are significant at each level: the unit's path.
PATH_LENGTH = {
    Level.province: 2,
    Level.city: 4,
    Level.county: 6,
    Level.township: 9,
    Level.village: 12,
    Level.grid: 15,
}
# Levels at which per-plugin settings may be made (ARCHITECTURE §7).
TOGGLE_LEVELS = frozenset({Level.city, Level.county, Level.township})


class UnitCodeError(ValueError):
    """A string that is not a valid unit code; the message says why."""


@dataclass(frozen=True, slots=True)
class UnitCode:
    """A parsed, valid unit code."""

    code: str
    level: Level

    @property
    def path(self) -> str:
        """The significant prefix: every unit below this one has a path starting with it."""
        return self.code[: PATH_LENGTH[self.level]]

    @property
    def parent(self) -> str | None:
        """The code of the unit directly above, or ``None`` for a province."""
        if self.level is Level.province:
            return None
        parent_level = LEVEL_ORDER[self.level.depth - 1]
        keep = PATH_LENGTH[parent_level]
        return self.code[:keep].ljust(12, "0")

    def ancestor_at(self, level: Level) -> str | None:
        """The code of the ancestor (or self) at ``level``, or ``None`` if ``level`` is below."""
        if level.depth > self.level.depth:
            return None
        return self.code[: PATH_LENGTH[level]].ljust(12, "0")

    def ancestors(self) -> list[str]:
        """Codes from this unit up to its province, this one first."""
        return [
            self.code[: PATH_LENGTH[level]].ljust(12, "0") if level is not self.level else self.code
            for level in reversed(LEVEL_ORDER[: self.level.depth + 1])
        ]


@functools.lru_cache(maxsize=16384)
def parse_code(raw: str) -> UnitCode:
    """Parse and check a unit code, or raise :class:`UnitCodeError` saying why.

    Cached: it runs on every request that names a unit, and its result is immutable.
    """
    code = raw.strip() if isinstance(raw, str) else ""
    if not code.isascii() or not code.isdigit() or len(code) not in (12, 15):
        raise UnitCodeError(
            f"单位代码 {raw!r} 无效：应为 12 位数字（网格为 15 位）/ "
            "unit code must be 12 digits (15 for a grid)"
        )
    if len(code) == 15:
        if code[12:] == "000":
            raise UnitCodeError(
                f"单位代码 {code} 无效：网格号不能为 000 / grid number cannot be 000"
            )
        if code[9:12] == "000":
            raise UnitCodeError(
                f"单位代码 {code} 无效：网格必须属于村社区 / a grid must be in a village"
            )
        return UnitCode(code, Level.grid)
    if code[:2] == "00":
        raise UnitCodeError(f"单位代码 {code} 无效：省级代码不能为 00 / province part cannot be 00")
    groups = [
        (Level.village, 9, 12),
        (Level.township, 6, 9),
        (Level.county, 4, 6),
        (Level.city, 2, 4),
    ]
    for level, start, end in groups:
        if code[start:end].strip("0"):
            # Every group above must be non-zero too, or the code skips a level.
            for upper_level, upper_start, upper_end in groups:
                if upper_level.depth < level.depth and not code[upper_start:upper_end].strip("0"):
                    raise UnitCodeError(
                        f"单位代码 {code} 无效：缺少{upper_level.label}部分 / "
                        f"the {upper_level.value} part is zero"
                    )
            return UnitCode(code, level)
    return UnitCode(code, Level.province)


def path_upper_bound(path: str) -> str:
    """The smallest digit string greater than every string that starts with ``path``.

    ``subtree(path)`` is then ``path <= x < bound``: an index range scan on both
    SQLite and PostgreSQL, unlike ``LIKE 'path%'``, which SQLite runs as a scan.
    """
    return str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"
