"""Shared helpers for Sanmin's own tests; the fixtures come from ``core.testing``."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install a throwaway distribution on sys.path whose modules declare ``sanmin`` entry points.

    ``write_distribution({"mod_name": "source", ...}, {"ep_name": "mod_name"})`` makes
    ``importlib.metadata.entry_points(group="sanmin")`` find them, exactly as a
    pip-installed plugin would be found.
    """

    def write(modules: dict[str, str], entry_points: dict[str, str], dist: str = "fake-plugins"):  # type: ignore[no-untyped-def]
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        for module, source in modules.items():
            (site / f"{module}.py").write_text(source, encoding="utf-8")
        info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[sanmin]\n{lines}\n")
        monkeypatch.syspath_prepend(str(site))
        return site

    return write
