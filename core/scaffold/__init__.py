"""``sanmin new-plugin``: write an installable plugin package from ``template/``.

Every template file ends in ``.tmpl`` (so ruff, pytest and setuptools leave it
alone) and holds placeholders that are replaced with plain :meth:`str.replace`,
in file contents and in paths alike:

=======================  ==========================================
``__PACKAGE__``          import package, ``sanmin_hello``
``__DIST__``             distribution, ``sanmin-hello``
``__REVISION__``         first Alembic revision, ``0001_hello_initial``
``__PLUGIN__``           plugin name, ``hello``
``__REQUIRES_CORE__``    core versions supported, ``>=0.1,<0.2``
``__DATE__``             today, ``2026-11-27``
``__TITLE__``            title shown to users (default: the name)
=======================  ==========================================

Generated Python stays within Sanmin's ruff rules (line length 100) for any
valid name (up to 40 characters) and title (up to ``TITLE_MAX`` characters):
template lines that hold a placeholder leave room for the longest value.

A file name starting with ``dot_`` becomes a dotfile (``dot_gitignore.tmpl`` →
``.gitignore``): setuptools' package-data globs skip hidden files, so the
template cannot ship them under their real names.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from packaging.version import Version

from core.plugins.manifest import plugin_name_problem
from core.version import __version__

TEMPLATE = Path(__file__).resolve().parent / "template"
SUFFIX = ".tmpl"
DOT_PREFIX = "dot_"
TITLE_FORBIDDEN = frozenset('"\\<>&{}%`$') | {"__"}
TITLE_MAX = 30
# Alembic's version_num column is VARCHAR(32).
REVISION_MAX = 32


class ScaffoldError(ValueError):
    """The plugin cannot be written; the message is one line naming the problem."""


def requires_core(version: str = __version__) -> str:
    """The specifier of core versions a new plugin supports: this release series."""
    parsed = Version(version)
    if parsed.major == 0:
        return f">=0.{parsed.minor},<0.{parsed.minor + 1}"
    return f">={parsed.major}.{parsed.minor},<{parsed.major + 1}"


def placeholders(name: str, title: str | None = None) -> dict[str, str]:
    """The values substituted into the template, in substitution order (title last)."""
    revision = f"0001_{name}_initial"
    if len(revision) > REVISION_MAX:
        revision = f"0001_{name}"[:REVISION_MAX].rstrip("_")
    return {
        "__PACKAGE__": f"sanmin_{name}",
        "__DIST__": f"sanmin-{name.replace('_', '-')}",
        "__REVISION__": revision,
        "__PLUGIN__": name,
        "__REQUIRES_CORE__": requires_core(),
        "__DATE__": date.today().isoformat(),
        "__TITLE__": name if title is None else title,
    }


def substitute(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def render_template(values: dict[str, str]) -> list[tuple[Path, str]]:
    """Every template file as ``(path relative to the output, text)``, in memory."""
    files = sorted(p for p in TEMPLATE.rglob(f"*{SUFFIX}") if p.is_file())
    if not files:
        raise ScaffoldError(f"the plugin template is missing from {TEMPLATE}")
    rendered = []
    for source in files:
        parts = list(source.relative_to(TEMPLATE).parts)
        parts[-1] = parts[-1].removesuffix(SUFFIX)
        if parts[-1].startswith(DOT_PREFIX):
            parts[-1] = "." + parts[-1].removeprefix(DOT_PREFIX)
        relative = Path(*(substitute(part, values) for part in parts))
        rendered.append((relative, substitute(source.read_text(encoding="utf-8"), values)))
    return rendered


def _check_title(title: str) -> None:
    bad = sorted(part for part in TITLE_FORBIDDEN if part in title)
    if not title.strip() or not title.isprintable() or len(title) > TITLE_MAX or bad:
        shown = f" (contains {' '.join(bad)})" if bad else ""
        raise ScaffoldError(
            f"title {title!r} must be one printable line of at most {TITLE_MAX} characters, "
            f"without quotes, markup or template characters{shown}"
        )


def _check_output(output: Path) -> None:
    if output.is_symlink() and not output.exists():
        raise ScaffoldError(f"output {output} is a broken symbolic link")
    if not output.exists():
        return
    if not output.is_dir():
        raise ScaffoldError(f"output {output} exists and is not a directory")
    if any(output.iterdir()):
        raise ScaffoldError(f"output directory {output} is not empty")


def write_plugin(name: str, output: Path, *, title: str | None = None) -> list[Path]:
    """Write the package of plugin ``name`` into ``output`` (the project root).

    :param output: a directory that does not exist yet or is empty.
    :param title: the title shown to users; defaults to ``name``.
    :return: the files written, in template order.
    :raises ScaffoldError: bad name or title, ``output`` not empty or not
        writable. Nothing is left behind on error.
    """
    problem = plugin_name_problem(name)
    if problem:
        raise ScaffoldError(problem)
    if title is not None:
        _check_title(title)
    output = Path(output)
    _check_output(output)
    rendered = render_template(placeholders(name, title))

    created = _topmost_missing(output)
    written: list[Path] = []
    try:
        output.mkdir(parents=True, exist_ok=True)
        for relative, text in rendered:
            target = output / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    except OSError as exc:
        _undo(output, created)
        reason = exc.strerror or type(exc).__name__
        where = exc.filename or output
        raise ScaffoldError(f"cannot write the plugin into {output}: {reason}: {where}") from exc
    return written


def _topmost_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist yet (``None`` if it exists)."""
    if path.exists():
        return None
    path = path.absolute()
    while path.parent != path and not path.parent.exists():
        path = path.parent
    return path


def _undo(output: Path, created: Path | None) -> None:
    """Remove what a failed write left: the directories we made, else ``output``'s contents."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    if output.is_dir():
        for child in output.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
