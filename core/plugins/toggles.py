"""Which plugins are on where: settings at city, county and township, with inheritance.

Every process keeps a :class:`Snapshot` of the settings and of the units that
may hold them, and checks the database's config version at most once per
``refresh_seconds``; a change made by another process is therefore seen within
that interval, without a restart and without a query on every request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio.to_thread
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.plugins.registry import PluginRegistry
from core.units.codes import TOGGLE_LEVELS, Level, UnitCode, parse_code
from core.units.service import UnitNotFound

log = logging.getLogger("sanmin.toggles")

SCOPE_LEVELS = (Level.province.value, *(level.value for level in TOGGLE_LEVELS))


@dataclass(frozen=True, slots=True)
class ScopeUnit:
    """A unit that can carry plugin settings (or a province above them)."""

    code: str
    name: str
    level: Level
    parent_code: str | None


Origin = Literal["core", "unit", "inherited", "default", "failed", "dependency"]


@dataclass(frozen=True, slots=True)
class PluginState:
    """Whether a plugin is on at a unit, and why."""

    plugin: str
    enabled: bool
    origin: Origin
    origin_unit: str | None = None  # the unit whose setting decided, for "unit"/"inherited"


@dataclass
class Snapshot:
    """Settings and scope units as of one config version. Immutable once built."""

    version: int
    units: dict[str, ScopeUnit]
    settings: dict[str, dict[str, bool]]
    defaults: dict[str, bool]
    essential: frozenset[str]
    depends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _enabled: dict[str, frozenset[str]] = field(default_factory=dict)

    def chain(self, scope_code: str) -> list[str]:
        """The unit and its ancestors that exist here, nearest first."""
        codes, code = [], scope_code
        while code is not None and code in self.units:
            codes.append(code)
            code = self.units[code].parent_code
        return codes

    def state(self, scope_code: str, plugin: str) -> PluginState:
        """The plugin's state at a scope unit, and the setting (or rule) that decided it."""
        chosen = self._chosen(scope_code, plugin)
        if chosen.enabled and plugin not in self.enabled(scope_code):
            return PluginState(plugin, False, "dependency", chosen.origin_unit)
        return chosen

    def _chosen(self, scope_code: str, plugin: str) -> PluginState:
        if plugin in self.essential:
            return PluginState(plugin, True, "core")
        for code in self.chain(scope_code):
            value = self.settings.get(code, {}).get(plugin)
            if value is not None:
                origin: Origin = "unit" if code == scope_code else "inherited"
                return PluginState(plugin, value, origin, code)
        return PluginState(plugin, self.defaults.get(plugin, False), "default")

    def enabled(self, scope_code: str) -> frozenset[str]:
        """Names of the plugins on at ``scope_code``, core plugins included (memoised)."""
        cached = self._enabled.get(scope_code)
        if cached is None:
            chosen = {name for name in self.defaults if self._chosen(scope_code, name).enabled}
            # A plugin whose required plugins are off here is off too (until nothing changes).
            while dropped := {
                n for n in chosen if not set(self.depends.get(n, ())) <= chosen | self.essential
            }:
                chosen -= dropped
            cached = self.essential | frozenset(chosen)
            self._enabled[scope_code] = cached
        return cached


class ToggleState:
    """The current :class:`Snapshot` of one process, refreshed when the database moves on."""

    def __init__(
        self,
        engine: Engine,
        registry: PluginRegistry,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")
        self._background = False

    @property
    def engine(self) -> Engine:
        return self._engine

    def invalidate(self) -> None:
        """After a change made in this process: refresh now, so it is seen at once.

        Blocking; called after a commit, from synchronous code."""
        self.refresh()

    def refresh(self) -> None:
        """Check the version now and reload if it moved (blocking: call it off the loop)."""
        with self._lock:
            self._refresh()

    async def run(self) -> None:
        """Keep the snapshot fresh from a worker thread, every refresh interval.

        While this runs (a server's lifespan starts it), :meth:`snapshot` never touches
        the database, so a request on the event loop cannot wait for a connection.
        """
        self._background = True
        try:
            await anyio.to_thread.run_sync(self.refresh)
            while True:
                await asyncio.sleep(max(self._refresh_seconds, 0.05))
                await anyio.to_thread.run_sync(self.refresh)
        finally:
            self._background = False

    def snapshot(self) -> Snapshot:
        """The current snapshot. Without a background refresher, checks the database version
        when the interval has passed (the CLI, scripts and tests)."""
        snapshot = self._snapshot
        if snapshot is not None and (
            self._background or self._clock() - self._checked_at < self._refresh_seconds
        ):
            return snapshot
        # Only the first load waits for another thread; later, whoever is refreshing
        # refreshes for everyone and the others keep serving the current snapshot.
        if not self._lock.acquire(blocking=snapshot is None):
            assert snapshot is not None
            return snapshot
        try:
            if self._snapshot is None or self._clock() - self._checked_at >= self._refresh_seconds:
                self._refresh()
            assert self._snapshot is not None
            return self._snapshot
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        try:
            with self._engine.connect() as conn:
                version = conn.execute(
                    text("SELECT version FROM config_version WHERE id = 1")
                ).scalar()
                if self._snapshot is None or version != self._snapshot.version:
                    self._snapshot = self._load(conn, version or 0)
        except SQLAlchemyError:
            if self._snapshot is None:
                raise
            log.exception(
                "Could not check plugin settings; keeping version %s", self._snapshot.version
            )
        self._checked_at = self._clock()

    def _load(self, conn, version: int) -> Snapshot:  # type: ignore[no-untyped-def]
        placeholders = ", ".join(f":l{i}" for i in range(len(SCOPE_LEVELS)))
        rows = conn.execute(
            text(
                f"SELECT code, name, level, parent_code FROM unit WHERE level IN ({placeholders})"
            ),
            {f"l{i}": level for i, level in enumerate(SCOPE_LEVELS)},
        )
        units = {
            code: ScopeUnit(code, name, Level(level), parent) for code, name, level, parent in rows
        }
        settings: dict[str, dict[str, bool]] = {}
        for unit_code, plugin, enabled in conn.execute(
            text("SELECT unit_code, plugin, enabled FROM plugin_setting")
        ):
            settings.setdefault(unit_code, {})[plugin] = bool(enabled)
        return Snapshot(
            version=version,
            units=units,
            settings=settings,
            defaults={p.name: p.manifest.default_enabled for p in self._registry.optional()},
            depends={p.name: p.manifest.depends_on for p in self._registry.optional()},
            essential=frozenset(p.name for p in self._registry.plugins.values() if p.essential),
        )

    def resolve(self, code: str, snapshot: Snapshot | None = None) -> tuple[ScopeUnit, UnitCode]:
        """The scope unit (township, or the county/city itself) for any unit code.

        :raises UnitCodeError: the code is malformed.
        :raises UnitNotFound: no such township, county or city is loaded.
        """
        parsed = parse_code(code)
        scope = parsed.ancestor_at(Level.township) or parsed.code
        unit = (snapshot or self.snapshot()).units.get(scope)
        if unit is None:
            raise UnitNotFound(scope)
        return unit, parsed
