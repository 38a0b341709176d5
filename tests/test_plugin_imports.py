"""The practice plugins use only the public API: ``from core import …``, never a core module."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


def core_internals(path: Path) -> list[str]:
    """Each import of a module inside ``core`` (``core.tickets.service``) in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("core.")]
    return found


def test_no_plugin_imports_core_internals() -> None:
    files = sorted(PLUGINS.rglob("*.py"))
    plugins = {f.relative_to(PLUGINS).parts[0] for f in files if f.parent != PLUGINS}
    assert {"knock_door", "tea_house", "red_proxy", "mobile_office"} <= plugins
    offending = [hit for path in files for hit in core_internals(path)]
    assert offending == []


def test_the_check_sees_an_internal_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from core import hookimpl\nimport core.kernel\nfrom core.tickets import service\n",
        encoding="utf-8",
    )
    assert core_internals(sample) == ["sample.py:2 core.kernel", "sample.py:3 core.tickets"]


def test_no_name_core_exports_hides_one_of_its_modules() -> None:
    # ``from core.audit.service import record as audit`` in core/__init__.py once made
    # ``import core.audit.api`` fail: the attribute ``core.audit`` was the function
    import pkgutil

    import core

    modules = {module.name for module in pkgutil.iter_modules(core.__path__)}
    assert sorted(set(core.__all__) & modules) == []
