"""SQL conditions on a unit-code column: "the row lies where this plugin is on"."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, not_, or_

from core.plugins.toggles import Snapshot
from core.units.codes import Level, UnitCode, path_upper_bound


def enabled_where(
    snapshot: Snapshot, plugin: str, under: UnitCode, unit_column: ColumnElement[str]
) -> ColumnElement[bool] | None:
    """SQL condition: the row's unit (within ``under``'s subtree) lies where ``plugin`` is on.

    A row at a township or below follows its township's setting; a row at a county or city
    follows that unit's own. Returns ``None`` when no condition is needed (``under`` lies
    within one township, which the caller's guard has checked, or the plugin is on
    everywhere below ``under``). The condition lists the shorter of the enabled and the
    disabled townships as code ranges, so it stays small and uses the column's index.
    """
    if under.level.depth >= Level.township.depth:
        return None
    on: list[ColumnElement[bool]] = []
    off: list[ColumnElement[bool]] = []
    for unit in snapshot.units.values():
        if not unit.code.startswith(under.path):
            continue
        if unit.level is Level.township:
            path = unit.code[:9]
            where = and_(unit_column >= path, unit_column < path_upper_bound(path))
        else:  # a county or city (or province) at or below ``under``: its own setting
            where = unit_column == unit.code
        (on if plugin in snapshot.enabled(unit.code) else off).append(where)
    if not off:
        return None
    if not on:
        return false()
    return or_(*on) if len(on) <= len(off) else not_(or_(*off))
