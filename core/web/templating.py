"""The Jinja2 environment: core templates plus one prefixed folder per plugin."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from core.version import __version__

CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"
CORE_STATIC = Path(__file__).resolve().parent / "static"


def build_templates(plugin_dirs: dict[str, Path]) -> Jinja2Templates:
    """Core templates as ``core/…``; each plugin's as ``{plugin}/…``; no overrides of core."""
    loader = ChoiceLoader(
        [
            PrefixLoader({name: FileSystemLoader(str(path)) for name, path in plugin_dirs.items()}),
            FileSystemLoader(str(CORE_TEMPLATES)),
        ]
    )
    env = Environment(loader=loader, autoescape=select_autoescape(["html", "xml"]))
    env.globals["sanmin_version"] = __version__
    env.globals["static_url"] = static_url
    return Jinja2Templates(env=env)


def static_url(owner: str, path: str) -> str:
    """URL of a static file of the core (``owner="core"``) or of a plugin, cache-busted."""
    base = "/static/core" if owner == "core" else f"/static/plugins/{owner}"
    return f"{base}/{path}?v={__version__}"
