"""Running the plugins' ``startup(kernel)`` hooks: by the app's lifespan, and by the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.plugins.calling import await_me_maybe, call_impl
from core.plugins.errors import PluginHookError

if TYPE_CHECKING:
    from core.kernel import Kernel


async def run_startup_hooks(kernel: Kernel) -> None:
    """Call each plugin's ``startup(kernel)``, core plugins first. A failing essential (core)
    plugin stops the start; any other failing plugin is taken out, with the reason, and the
    others start."""
    caller = kernel.pm.hook.startup
    for impl in reversed(caller.get_hookimpls()):
        try:
            await await_me_maybe(call_impl(impl, {"kernel": kernel}))
        except Exception as exc:
            error = PluginHookError(impl.plugin_name, "startup", None, exc)
            if kernel.registry.plugins[impl.plugin_name].essential:
                raise error from exc
            kernel.registry.reject(impl.plugin_name, str(error))  # the others start
