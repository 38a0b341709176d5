"""Test plugins and helpers shared by Sanmin's own tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from core import MenuLink, PluginManifest, hookimpl, utcnow


def manifest(name: str, **kwargs: object) -> PluginManifest:
    return PluginManifest(
        name=name,
        title=kwargs.pop("title", f"测试{name}"),  # type: ignore[arg-type]
        version="1.0",
        **kwargs,
    )  # type: ignore[arg-type]


class MenuPlugin:
    """A township plugin that contributes one menu link and records its calls."""

    def __init__(self, name: str, default_enabled: bool = False) -> None:
        self.PLUGIN = manifest(name, default_enabled=default_enabled)
        self.calls: list[str | None] = []

    @hookimpl
    def menu_links(self, township, request):  # type: ignore[no-untyped-def]
        self.calls.append(township.code if township else None)
        return [MenuLink(href=f"/p/{self.PLUGIN.name}/", label=self.PLUGIN.title)]


class Clock:
    """A clock that moves only when told to, starting at the next full hour (aware, UTC)."""

    def __init__(self) -> None:
        self.now = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now
