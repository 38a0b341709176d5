"""Where a plugin's metrics count: the unit-code ranges of the townships that have it on.

A plugin's records count only in townships where the plugin is enabled, decided at query
time from the toggles snapshot. Records attached directly to a county (or city, or
province) count where the plugin is on at that unit. Below a unit, the places that count
become a short list of code ranges, merged where they touch, so that a county with every
township on is one range scan and one with a township off is two.
"""

from __future__ import annotations

import threading

from sqlalchemy import ColumnElement, and_, or_

from core.plugins.toggles import ScopeUnit, Snapshot
from core.units.codes import LEVEL_ORDER, PATH_LENGTH, Level, UnitCode, path_upper_bound

Range = tuple[str, str]  # unit codes ``lo <= code < hi``


def own_prefix(unit: ScopeUnit) -> str:
    """The code prefix of the records a scope unit holds for itself: a township's whole
    subtree; for a county, city or province only the unit's own code (whose next level is
    all zeros), since the units below carry their own settings."""
    if unit.level is Level.township:
        return unit.code[: PATH_LENGTH[Level.township]]
    below = LEVEL_ORDER[unit.level.depth + 1]
    return unit.code[: PATH_LENGTH[below]]


def merge(prefixes: list[str]) -> tuple[Range, ...]:
    """Code ranges covering every code that starts with one of ``prefixes``, merged where
    they touch (lexicographic order, the order of the code index)."""
    ranges: list[Range] = []
    for prefix in sorted(prefixes):
        lo, hi = prefix, path_upper_bound(prefix)
        if ranges and lo <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        else:
            ranges.append((lo, hi))
    return tuple(ranges)


def in_ranges(column: ColumnElement[str], ranges: tuple[Range, ...]) -> ColumnElement[bool]:
    """SQL condition: the code in ``column`` lies in one of ``ranges`` (index range scans)."""
    conditions = [and_(column >= lo, column < hi) for lo, hi in ranges]
    return conditions[0] if len(conditions) == 1 else or_(*conditions)


class Coverage:
    """The ranges where a plugin counts below a unit, cached per toggles snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: tuple[Snapshot | None, dict[tuple[str, str], tuple[Range, ...]]] = (None, {})

    def ranges(self, snapshot: Snapshot, plugin: str, unit: UnitCode) -> tuple[Range, ...]:
        """The code ranges under ``unit`` where ``plugin``'s records count; empty when the
        plugin is on nowhere there (its metrics are then absent, not zero)."""
        if unit.level.depth >= Level.township.depth:
            township = unit.ancestor_at(Level.township)
            on = township in snapshot.units and plugin in snapshot.enabled(township)
            return ((unit.path, path_upper_bound(unit.path)),) if on else ()
        if unit.code not in snapshot.units:
            return ()  # no such county or city
        with self._lock:
            if self._cache[0] is not snapshot:
                self._cache = (snapshot, {})
            cache = self._cache[1]
        key = (plugin, unit.code)
        found = cache.get(key)
        if found is None:
            found = cache[key] = merge(
                [
                    own_prefix(scope)
                    for code, scope in snapshot.units.items()
                    if code.startswith(unit.path) and plugin in snapshot.enabled(code)
                ]
            )
        return found
