"""Loading plugins into one pluggy manager, and reporting those that fail.

A plugin that fails to import, has a bad manifest, supports another core
version, implements an unknown hook or lacks a plugin it requires is recorded
with the reason and left out; everything else starts (tox, pretix).
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from pluggy import PluginManager, PluginValidationError
from pydantic import ValidationError

from core import hookspecs
from core.plugins.errors import StartupError
from core.plugins.manifest import PluginManifest, plugin_name_problem
from core.version import __version__

log = logging.getLogger("sanmin.plugins")

ENTRY_POINT_GROUP = "sanmin"
# Core services registered as always-on plugins (pytest's essential_plugins).
ESSENTIAL: tuple[str, ...] = (
    "core.web.home",
    "core.web.workbench",
    "core.identity.plugin",
    "core.identity.accounts",
    "core.audit.plugin",
    "core.units.plugin",
    "core.plugins.admin",
    "core.web.settings_pages",
    "core.forms.plugin",
    "core.workflows.plugin",
    "core.metrics.plugin",
    "core.events.plugin",
    "core.jobs.plugin",
    "core.archives.plugin",
    "core.tickets.plugin",
)

Source = Literal["core", "builtin", "external", "test"]


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as the registry saw it: loaded (``error is None``) or not, and why."""

    name: str
    source: Source
    manifest: PluginManifest | None = None
    obj: Any = None
    distribution: str | None = None
    error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.error is None

    @property
    def essential(self) -> bool:
        return self.source == "core"

    @property
    def title(self) -> str:
        return self.manifest.title if self.manifest else self.name

    @property
    def version(self) -> str:
        return self.manifest.version if self.manifest else "?"


def new_plugin_manager() -> PluginManager:
    """A pluggy manager for project ``sanmin`` with every hookspec added."""
    pm = PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs.InstallationSpecs)
    pm.add_hookspecs(hookspecs.TownshipSpecs)
    return pm


class PluginRegistry:
    """The plugin manager plus what we know of every plugin, loaded or failed."""

    def __init__(self, pm: PluginManager | None = None) -> None:
        self.pm = pm or new_plugin_manager()
        self.plugins: dict[str, PluginInfo] = {}
        self.plugins_failed: dict[str, PluginInfo] = {}

    # -- loading ----------------------------------------------------------------------------

    def load(
        self,
        *,
        disabled: Iterable[str] = (),
        only: Sequence[str] | None = None,
        extra: Iterable[tuple[str, Any]] = (),
        discover: bool = True,
    ) -> PluginRegistry:
        """Register core plugins, then entry-point plugins, then ``extra`` ones.

        :param disabled: names blocked installation-wide (``SANMIN_DISABLED_PLUGINS``);
            they are reported as such and never imported.
        :param only: when given, load only these entry-point plugins (``SANMIN_LOAD_PLUGINS``).
        :param extra: ``(name, module or object)`` pairs registered as source ``test``.
        :param discover: read the ``sanmin`` entry-point group.
        """
        for module_name in ESSENTIAL:
            module = importlib.import_module(module_name)
            self._admit(module.PLUGIN.name, module, "core", "sanmin", required=True)
        blocked = set(disabled)
        if discover:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                if only is not None and ep.name not in only:
                    continue
                source: Source = "builtin" if _dist_name(ep) == "sanmin" else "external"
                if ep.name in blocked:
                    self._fail(
                        ep.name,
                        source,
                        "disabled by SANMIN_DISABLED_PLUGINS",
                        distribution=_dist_name(ep),
                    )
                    self.pm.set_blocked(ep.name)
                    continue
                self._load_entry_point(ep, source)
        for name, obj in extra:
            if name in blocked:
                self._fail(name, "test", "disabled by SANMIN_DISABLED_PLUGINS")
                continue
            self._admit(name, obj, "test", None)
        self._drop_missing_dependencies()
        self._check_pending()
        return self

    def _load_entry_point(self, ep: EntryPoint, source: Source) -> None:
        dist = _dist_name(ep)
        problem = plugin_name_problem(ep.name)
        if problem:
            self._fail(ep.name, source, f"bad entry-point name: {problem}", distribution=dist)
            return
        try:
            obj = ep.load()
        except ValidationError as exc:
            self._fail(
                ep.name, source, f"bad manifest: {_validation_message(exc)}", distribution=dist
            )
            return
        except Exception as exc:
            self._fail(
                ep.name,
                source,
                f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}",
                distribution=dist,
            )
            return
        self._admit(ep.name, obj, source, dist)

    def _admit(
        self, name: str, obj: Any, source: Source, dist: str | None, *, required: bool = False
    ) -> None:
        reason = self._manifest_problem(name, obj)
        if reason is None:
            try:
                self.pm.register(obj, name=name)
            except PluginValidationError as exc:
                reason = f"invalid hook implementation: {exc}"
            except ValueError as exc:
                reason = str(exc)
        if reason is None:
            reason = self._unknown_hooks(name, obj)
            if reason:
                self.pm.unregister(name=name)
        if reason is not None:
            if required:
                raise StartupError(f"Core plugin {name!r} failed: {reason}")
            self._fail(name, source, reason, distribution=dist, manifest=_manifest_of(obj))
            return
        self.plugins[name] = PluginInfo(
            name=name, source=source, manifest=obj.PLUGIN, obj=obj, distribution=dist
        )

    def _manifest_problem(self, name: str, obj: Any) -> str | None:
        manifest = getattr(obj, "PLUGIN", None)
        if manifest is None:
            return "has no manifest: define PLUGIN = PluginManifest(...) in the plugin module"
        if not isinstance(manifest, PluginManifest):
            return f"bad manifest: PLUGIN is a {type(manifest).__name__}, not a PluginManifest"
        if manifest.name != name:
            return (
                f"bad manifest: name {manifest.name!r} differs from the entry-point name {name!r}"
            )
        if name in self.plugins:
            return f"name {name!r} is already taken by another plugin"
        if not manifest.supports_core(__version__):
            return f"requires core {manifest.requires_core}, but this is core {__version__}"
        return None

    def _unknown_hooks(self, name: str, obj: Any) -> str | None:
        known = sorted(hookspecs.INSTALLATION_HOOK_NAMES | hookspecs.TOWNSHIP_HOOK_NAMES)
        unknown = [
            caller.name
            for caller in self.pm.get_hookcallers(obj) or []
            if caller.spec is None
            and not all(impl.optionalhook for impl in caller.get_hookimpls() if impl.plugin is obj)
        ]
        if not unknown:
            return None
        parts = []
        for hook in sorted(unknown):
            close = difflib.get_close_matches(hook, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            parts.append(f"implements unknown hook {hook!r}{hint}")
        return "; ".join(parts)

    def _drop_missing_dependencies(self) -> None:
        changed = True
        while changed:
            changed = False
            for info in list(self.plugins.values()):
                missing = [
                    dep
                    for dep in (info.manifest.depends_on if info.manifest else ())
                    if dep not in self.plugins
                ]
                if missing:
                    self.pm.unregister(name=info.name)
                    why = ", ".join(
                        f"{dep!r} ({self.plugins_failed[dep].error})"
                        if dep in self.plugins_failed
                        else f"{dep!r} (not installed)"
                        for dep in missing
                    )
                    del self.plugins[info.name]
                    self._fail(
                        info.name,
                        info.source,
                        f"requires plugin {why}",
                        distribution=info.distribution,
                        manifest=info.manifest,
                    )
                    changed = True

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except PluginValidationError as exc:  # pragma: no cover - _unknown_hooks catches these
            raise StartupError(f"Plugin {exc.plugin!r}: {exc}") from exc

    def _fail(
        self,
        name: str,
        source: Source,
        reason: str,
        *,
        distribution: str | None = None,
        manifest: PluginManifest | None = None,
    ) -> None:
        log.error("Plugin %r is off: %s", name, reason)
        self.plugins_failed[name] = PluginInfo(
            name=name, source=source, manifest=manifest, distribution=distribution, error=reason
        )

    def reject(self, name: str, reason: str) -> None:
        """Take a loaded plugin out (unregister it) and record why; core plugins cannot be."""
        info = self.plugins.pop(name)
        if info.essential:
            raise StartupError(f"Core plugin {name!r} failed: {reason}")
        self.pm.unregister(name=name)
        self._fail(
            name, info.source, reason, distribution=info.distribution, manifest=info.manifest
        )

    # -- queries ----------------------------------------------------------------------------

    def all(self) -> list[PluginInfo]:
        """Every plugin seen, loaded ones first (core, then by name), then failed ones."""
        order = {"core": 0, "builtin": 1, "external": 2, "test": 3}
        loaded = sorted(self.plugins.values(), key=lambda p: (order[p.source], p.name))
        failed = sorted(self.plugins_failed.values(), key=lambda p: p.name)
        return loaded + failed

    def optional(self) -> list[PluginInfo]:
        """Loaded plugins that townships may switch on and off."""
        return [p for p in self.plugins.values() if not p.essential]

    def info(self, name: str) -> PluginInfo | None:
        return self.plugins.get(name) or self.plugins_failed.get(name)

    def dependency_order(self) -> list[str]:
        """Loaded plugins' names, each after the plugins it depends on (then by name)."""
        ordered: list[str] = []

        def visit(name: str, trail: tuple[str, ...] = ()) -> None:
            if name in ordered or name in trail or name not in self.plugins:
                return
            manifest = self.plugins[name].manifest
            for dep in manifest.depends_on if manifest else ():
                visit(dep, (*trail, name))
            ordered.append(name)

        for name in sorted(self.plugins):
            visit(name)
        return ordered


def _dist_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _manifest_of(obj: Any) -> PluginManifest | None:
    manifest = getattr(obj, "PLUGIN", None)
    return manifest if isinstance(manifest, PluginManifest) else None


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {err['msg']}"
        for err in exc.errors()
    )
