"""Collecting a declaration hook (``register_forms``, ``register_jobs``…) plugin by plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from core.plugins.calling import call_impl
from core.plugins.registry import PluginRegistry

T = TypeVar("T")


def collect(
    registry: PluginRegistry,
    hook: str,
    kind: type[T],
    check: Callable[[str, list[T]], None] | None = None,
) -> dict[str, list[T]]:
    """Call ``hook`` on each loaded plugin, in dependency order, and return its items by plugin.

    Each item must be a ``kind``. ``check(plugin, items)`` may raise to refuse the plugin's
    declarations (it sees the plugins accepted so far through its own state). A plugin whose
    implementation raises, returns something else than a list of ``kind`` or fails ``check``
    is taken out of the registry with the reason, like any other bad declaration; the
    others start.
    """
    found: dict[str, list[T]] = {}
    caller = getattr(registry.pm.hook, hook)
    impls = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
    for name in registry.dependency_order():
        impl = impls.get(name)
        if impl is None:
            continue
        try:
            items = _as_list(call_impl(impl, {}), kind, hook)
            if check is not None:
                check(name, items)
        except Exception as exc:
            registry.reject(name, f"{hook}: {exc}")
            continue
        if items:
            found[name] = items
    return found


def _as_list(result: Any, kind: type[T], hook: str) -> list[T]:
    if result is None:
        return []
    if not isinstance(result, list | tuple):
        raise TypeError(f"returned {type(result).__name__}, not a list of {kind.__name__}")
    for item in result:
        if not isinstance(item, kind):
            raise TypeError(f"returned a {type(item).__name__}, not a {kind.__name__}")
    return list(result)
