"""Township-scoped views of the hook relay (pytest's ``FSHookProxy`` idea)."""

from __future__ import annotations

from typing import Any

from pluggy import HookCaller, PluginManager

from core.hookspecs import TOWNSHIP_HOOK_NAMES, TownshipSpecs


class TownshipHooks:
    """A hook relay in which only core plugins and those enabled in one township run.

    One instance exists per distinct *enabled set*, not per township: a thousand
    townships sharing five configurations share five instances. Each hook's
    caller is built on first use and kept.

    Each caller is a real :class:`pluggy.HookCaller` holding only the enabled
    implementations, so a call costs what a plain pluggy call over those
    implementations costs. (pluggy's ``subset_hook_caller`` re-filters the
    whole list on every call: about 1.3 µs per 50 implementations, which broke
    the 1.3x target from about 80 installed plugins; see docs/benchmarks.md.)
    The registry does not change once the application is built, so the lists
    never go stale.
    """

    def __init__(self, pm: PluginManager, enabled: frozenset[str], removed: frozenset[Any]):
        self._pm = pm
        self._removed = removed
        self.enabled = enabled

    def __getattr__(self, name: str) -> HookCaller:
        if name not in TOWNSHIP_HOOK_NAMES:
            raise AttributeError(
                f"{name!r} is not a township-scoped hook; installation hooks are called on pm.hook"
            )
        original = getattr(self._pm.hook, name)
        caller = HookCaller(name, self._pm._hookexec, TownshipSpecs, original.spec.opts)
        for impl in original.get_hookimpls():
            if impl.plugin not in self._removed:
                caller._add_hookimpl(impl)
        self.__dict__[name] = caller
        return caller


class HookScoper:
    """Builds and caches :class:`TownshipHooks` per enabled set."""

    def __init__(self, pm: PluginManager, optional: frozenset[str]) -> None:
        self._pm = pm
        self._optional = optional
        self._cache: dict[frozenset[str], TownshipHooks] = {}

    def for_enabled(self, enabled: frozenset[str]) -> TownshipHooks:
        hooks = self._cache.get(enabled)
        if hooks is None:
            removed = frozenset(
                plugin
                for name in self._optional - enabled
                if (plugin := self._pm.get_plugin(name)) is not None
            )
            hooks = self._cache.setdefault(enabled, TownshipHooks(self._pm, enabled, removed))
        return hooks
