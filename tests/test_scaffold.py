"""``sanmin new-plugin``: the scaffold refuses bad input, and what it writes installs and passes
its own tests (datasette-plugin's ``test_cookiecutter_template``)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import re
import site
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from typer.testing import CliRunner

from core.cli.main import app
from core.plugins.manifest import plugin_name_problem
from core.scaffold import TEMPLATE, ScaffoldError, placeholders, requires_core, write_plugin
from core.testing import in_ci
from core.version import __version__

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"__[A-Z][A-Z_]*[A-Z]__")
EXPECTED_FILES = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "sanmin_hello/__init__.py",
    "sanmin_hello/hooks.py",
    "sanmin_hello/forms.py",
    "sanmin_hello/workflows.py",
    "sanmin_hello/metrics.py",
    "sanmin_hello/reactions.py",
    "sanmin_hello/jobs.py",
    "sanmin_hello/models.py",
    "sanmin_hello/routes.py",
    "sanmin_hello/templates/index.html",
    "sanmin_hello/static/hello.css",
    "sanmin_hello/migrations/env.py",
    "sanmin_hello/migrations/script.py.mako",
    "sanmin_hello/migrations/versions/0001_hello_initial.py",
    "tests/test_hello.py",
}


def files_under(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def manifest_arguments(package_init: Path) -> dict[str, object]:
    """The keyword arguments of ``PLUGIN = PluginManifest(...)``, read without importing."""
    for node in ast.walk(ast.parse(package_init.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["PLUGIN"]
            and isinstance(node.value, ast.Call)
        ):
            return {kw.arg: ast.literal_eval(kw.value) for kw in node.value.keywords if kw.arg}
    raise AssertionError(f"no PLUGIN = PluginManifest(...) in {package_init}")


# -- refusing bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Hello", "hello-world", "1st", "h", "class", "core", "admin"])
def test_a_bad_name_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    output = tmp_path / "out"
    with pytest.raises(ScaffoldError, match=re.escape(repr(name))):
        write_plugin(name, output)
    assert not output.exists()


def test_a_non_empty_output_is_refused_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    message = f"output directory {re.escape(str(tmp_path))} is not empty"
    with pytest.raises(ScaffoldError, match=message):
        write_plugin("hello", tmp_path)
    assert files_under(tmp_path) == {"notes.txt"}
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_an_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "taken"
    output.write_text("", encoding="utf-8")
    with pytest.raises(ScaffoldError, match="exists and is not a directory"):
        write_plugin("hello", output)
    with pytest.raises(ScaffoldError, match="cannot write the plugin into"):
        write_plugin("hello", output / "below")
    assert files_under(tmp_path) == {"taken"}


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "empty-dir"])
def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    output = tmp_path / "a" / "b" / "out"
    if existing:
        output.mkdir(parents=True)
    real_write_text, calls = Path.write_text, []

    def failing_write_text(self: Path, *args: object, **kwargs: object) -> int:
        calls.append(self)
        if len(calls) == 5:
            raise OSError(28, "No space left on device", str(self))
        return real_write_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", failing_write_text)
    with pytest.raises(ScaffoldError, match="No space left on device"):
        write_plugin("hello", output)
    monkeypatch.undo()
    assert len(calls) == 5
    if existing:
        assert output.is_dir() and files_under(output) == set()
    else:
        assert list(tmp_path.iterdir()) == []


def test_a_bad_title_is_refused(tmp_path: Path) -> None:
    for title in ['say "hi"', "<b>", "{{ x }}", "", "two\nlines", "a__PLUGIN__", "长" * 31]:
        with pytest.raises(ScaffoldError, match="title"):
            write_plugin("hello", tmp_path / "out", title=title)
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_bad_input_on_one_line_with_exit_code_1(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_name = runner.invoke(app, ["new-plugin", "Hello", "--output", str(tmp_path / "x")])
    assert bad_name.exit_code == 1
    assert bad_name.stdout == ""
    assert bad_name.stderr.splitlines() == [bad_name.stderr.strip()]
    assert bad_name.stderr.startswith("错误: plugin name 'Hello' must be snake_case")
    assert not (tmp_path / "x").exists()

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("", encoding="utf-8")
    not_empty = runner.invoke(app, ["new-plugin", "hello", "--output", str(tmp_path / "full")])
    assert not_empty.exit_code == 1
    assert not_empty.stderr.strip() == (f"错误: output directory {tmp_path / 'full'} is not empty")
    assert files_under(tmp_path / "full") == {"keep"}


def test_cli_writes_the_package(tmp_path: Path) -> None:
    output = tmp_path / "sanmin-hello"
    result = CliRunner().invoke(app, ["new-plugin", "hello", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert f"已生成插件 hello：{len(EXPECTED_FILES)} 个文件于 {output}" in result.stdout
    assert files_under(output) == EXPECTED_FILES


# -- what is written ---------------------------------------------------------------------------


def test_every_template_file_ends_in_tmpl_and_none_is_hidden() -> None:
    """ruff and pytest skip ``.tmpl`` files; setuptools would not ship a hidden one."""
    files = [p.relative_to(TEMPLATE) for p in TEMPLATE.rglob("*") if p.is_file()]
    assert files
    assert [f for f in files if f.suffix != ".tmpl"] == []
    assert [f for f in files if any(part.startswith(".") for part in f.parts)] == []


def test_the_package_is_complete_with_every_placeholder_replaced(tmp_path: Path) -> None:
    written = write_plugin("hello", tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(EXPECTED_FILES)
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert not PLACEHOLDER.search(text), f"{path}: {PLACEHOLDER.search(text)}"
        if path.suffix == ".py":
            compile(text, str(path), "exec")

    project = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "sanmin-hello"
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["project"]["dependencies"] == [f"sanmin{requires_core()}"]
    assert project["project"]["entry-points"]["sanmin"] == {"hello": "sanmin_hello"}
    assert project["project"]["optional-dependencies"]["test"] == ["pytest", "httpx2"]
    assert project["tool"]["pytest"]["ini_options"]["filterwarnings"] == [
        "error::UserWarning:pluggy"
    ]
    assert manifest_arguments(tmp_path / "sanmin_hello" / "__init__.py") == {
        "name": "hello",
        "title": "hello",
        "version": "0.1.0",
        "description": "走访登记、求助办理与问候 / visits, help requests and greetings",
        "requires_core": requires_core(),
        "default_enabled": False,
    }
    assert (tmp_path / "sanmin_hello" / "migrations" / "env.py").read_text(encoding="utf-8") == (
        "from core import run_migrations_env\n\nrun_migrations_env()\n"
    )


def test_names_and_title_reach_every_place(tmp_path: Path) -> None:
    write_plugin("tea_garden", tmp_path, title="茶园")
    project = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "sanmin-tea-garden"
    assert project["project"]["entry-points"]["sanmin"] == {"tea_garden": "sanmin_tea_garden"}
    manifest = manifest_arguments(tmp_path / "sanmin_tea_garden" / "__init__.py")
    assert (manifest["name"], manifest["title"]) == ("tea_garden", "茶园")
    assert '__tablename__ = "tea_garden_greeting"' in (
        tmp_path / "sanmin_tea_garden" / "models.py"
    ).read_text(encoding="utf-8")
    assert "<h1>茶园</h1>" in (
        tmp_path / "sanmin_tea_garden" / "templates" / "index.html"
    ).read_text(encoding="utf-8")
    assert (tmp_path / "sanmin_tea_garden" / "static" / "tea_garden.css").is_file()
    assert (tmp_path / "tests" / "test_tea_garden.py").is_file()


def test_the_tutorial_shows_the_generated_code(tmp_path: Path) -> None:
    """Every Python snippet of docs/plugins.md's tutorial is verbatim in the plugin that
    ``sanmin new-plugin knock_door --title 敲门嫂`` writes, whose tests pass (below)."""
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    tutorial = docs[docs.index("Tutorial: a practice plugin in 30 minutes\n") :]
    end = tutorial.find("\n## ")  # the tutorial ends where the next section starts
    tutorial = tutorial if end < 0 else tutorial[:end]
    snippets = re.findall(r"```python\n(.*?)```", tutorial, re.S)
    assert len(snippets) >= 10
    written = write_plugin("knock_door", tmp_path, title="敲门嫂")
    sources = [path.read_text(encoding="utf-8") for path in written if path.suffix == ".py"]
    for snippet in snippets:
        assert any(snippet in source for source in sources), snippet


def test_requires_core_is_this_release_series() -> None:
    assert requires_core("0.1.0") == ">=0.1,<0.2"
    assert requires_core("0.4.2") == ">=0.4,<0.5"
    assert requires_core("2.3.0") == ">=2.3,<3"
    assert Version(__version__) in SpecifierSet(requires_core())


LONGEST_NAME = "a_plugin_name_of_the_longest_length_40ch"


def test_the_first_revision_fits_alembics_version_column() -> None:
    assert placeholders("hello")["__REVISION__"] == "0001_hello_initial"
    assert len(LONGEST_NAME) == 40 and plugin_name_problem(LONGEST_NAME) is None
    revision = placeholders(LONGEST_NAME)["__REVISION__"]
    assert revision == f"0001_{LONGEST_NAME}"[:32] and len(revision) == 32


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize(
    ("name", "title"),
    [("hello", None), (LONGEST_NAME, "长" * 30), (LONGEST_NAME, "W" * 30)],
    ids=["hello", "longest-name-cjk-title", "longest-name-ascii-title"],
)
def test_the_generated_code_is_ruff_clean(tmp_path: Path, name: str, title: str | None) -> None:
    """``ruff check`` and ``ruff format --check`` pass under Sanmin's own configuration (run
    from Sanmin's root, where ``core`` is first-party) and under the configuration the
    package ships (run from the package), whatever the length of the name and title."""
    project = tmp_path / "sanmin-plugin"
    write_plugin(name, project, title=title)
    ruff = [sys.executable, "-m", "ruff"]
    sanmin_config = ["--config", str(ROOT / "pyproject.toml"), str(project)]
    for command, cwd in (
        ([*ruff, "check", "--no-cache", *sanmin_config], ROOT),
        ([*ruff, "format", "--no-cache", "--check", "--diff", *sanmin_config], ROOT),
        ([*ruff, "check", "--no-cache", "."], project),
        ([*ruff, "format", "--no-cache", "--check", "--diff", "."], project),
    ):
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"


# -- end to end: generate, install in a venv, run its tests ------------------------------------


def setuptools_problem() -> str | None:
    """Why setuptools cannot build an editable install offline here (``None`` if it can)."""
    try:
        found = Version(importlib.metadata.version("setuptools"))
    except importlib.metadata.PackageNotFoundError:
        return "setuptools is not installed (the dev extra brings setuptools>=70.1)"
    if found < Version("70.1"):
        return f"setuptools {found} cannot build editable wheels alone (the dev extra needs >=70.1)"
    return None


def make_venv(path: Path) -> Path:
    """A venv that sees exactly what this interpreter sees (Sanmin, its deps, pytest).

    ``--system-site-packages`` is not enough when this interpreter is itself in a
    venv: it exposes the base Python's packages, not this environment's. So a
    ``.pth`` adds this interpreter's site directories (and runs their ``.pth``
    files, such as Sanmin's own editable install) after the venv's own.
    """
    venv.create(path, with_pip=False, symlinks=os.name != "nt")
    python = path / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    lines = [f"import site; site.addsitedir({d!r})" for d in dirs if os.path.isdir(d)]
    (purelib / "_sanmin_parent_env.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python


def install_editable(python: Path, project: Path, env: dict[str, str]) -> None:
    """``pip install -e`` without the network, with this environment's setuptools."""
    problem = setuptools_problem()
    if problem is not None:
        if in_ci():
            pytest.fail(f"{problem} (CI=true requires this test to run)")
        pytest.skip(problem)
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "-e",
        str(project),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def child_env(tmp_path: Path) -> dict[str, str]:
    """This environment (CI, SANMIN_TEST_POSTGRES_URL, …) minus what would change the plugins
    loaded or the database used."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SANMIN_LOAD_PLUGINS",
            "SANMIN_DISABLED_PLUGINS",
            "SANMIN_CONFIG_FILE",
            "PYTEST_ADDOPTS",
            "PYTEST_PLUGINS",
            "PYTHONHOME",
        )
    }
    env.update(
        SANMIN_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        COLUMNS="200",
        PYTHONIOENCODING="utf-8",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of a rich table printed by the CLI, by first cell."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


@pytest.mark.slow
def test_a_generated_plugin_installs_and_passes_its_own_tests(
    tmp_path: Path, sanmin_postgres_problem: str | None
) -> None:
    project = tmp_path / "sanmin-hello"
    write_plugin("hello", project)
    python = make_venv(tmp_path / "venv")
    env = child_env(tmp_path)
    install_editable(python, project, env)

    listed = subprocess.run(
        [python, "-m", "core.cli", "plugins", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = table_rows(listed.stdout)
    assert "hello" in rows, listed.stdout
    _, title, version, source, state = rows["hello"]
    assert (title, version, source) == ("hello", "0.1.0", "external")
    assert state.startswith("disabled")
    assert "plugin hello is off" not in listed.stdout

    tests = subprocess.run(
        [python, "-m", "pytest", str(project / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    report = tests.stdout + tests.stderr
    assert tests.returncode == 0, report
    summary = tests.stdout.strip().splitlines()[-1]
    test_count = (
        (project / "tests" / "test_hello.py").read_text(encoding="utf-8").count("\ndef test_")
    )
    if sanmin_postgres_problem is None:
        assert re.match(rf"{2 * test_count} passed\b", summary), report
        assert "skipped" not in summary, report
    else:
        assert re.match(rf"{test_count} passed, {test_count} skipped\b", summary), report

    # Nothing leaked into the environment running Sanmin's own suite.
    assert "hello" not in {ep.name for ep in importlib.metadata.entry_points(group="sanmin")}
    assert importlib.util.find_spec("sanmin_hello") is None
