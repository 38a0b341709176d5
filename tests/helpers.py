"""Test plugins shared by Sanmin's own tests."""

from __future__ import annotations

from core import MenuLink, PluginManifest, hookimpl


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
