"""Errors raised when a plugin misbehaves, each naming the plugin."""

from __future__ import annotations


class StartupError(RuntimeError):
    """The application cannot start; the message says what to do."""


class PluginHookError(RuntimeError):
    """A plugin's hook implementation raised; names the plugin, the hook and the township."""

    def __init__(self, plugin: str, hook: str, township: str | None, cause: BaseException) -> None:
        where = f" in township {township}" if township else ""
        super().__init__(f"Plugin {plugin!r} failed in hook {hook!r}{where}: {cause!r}")
        self.plugin, self.hook, self.township = plugin, hook, township


class PluginDisabled(LookupError):
    """A request reached a plugin that is off in the request's township."""

    def __init__(self, plugin: str, title: str, unit_name: str, unit_code: str) -> None:
        super().__init__(
            f"插件「{title}」({plugin}) 未在 {unit_name} ({unit_code}) 启用 / "
            f"plugin {plugin!r} is not enabled in {unit_code}"
        )
        self.plugin, self.title, self.unit_name, self.unit_code = (
            plugin,
            title,
            unit_name,
            unit_code,
        )
