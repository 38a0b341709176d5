"""``sanmin``: demo, serve, database, units, plugins and the plugin scaffold.

Every command turns a known failure into one line on stderr and exit code 1
(2 for usage errors, as typer does); no traceback reaches the user.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from core.db.engine import make_engine
from core.db.migrate import pending, upgrade_all
from core.plugins.errors import StartupError
from core.plugins.registry import PluginRegistry
from core.plugins.service import ToggleError, bump_config_version, set_plugin_setting
from core.settings import Settings
from core.units.codes import Level, UnitCodeError
from core.units.service import UnitLoadError, UnitNotFound, list_units, load_units, read_units_csv

app = typer.Typer(
    help="三民 Sanmin：县域基层治理平台 / county grassroots governance",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库迁移 / database migrations", no_args_is_help=True)
units_app = typer.Typer(help="行政区划 / administrative units", no_args_is_help=True)
plugins_app = typer.Typer(help="插件 / plugins", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(plugins_app, name="plugins")

# Wide when piped, so that a line per plugin survives grep and logs.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

KNOWN_ERRORS = (UnitCodeError, UnitNotFound, UnitLoadError, ToggleError, StartupError, ValueError)
F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(func: F) -> F:
    """Report expected failures as ``错误: …`` on stderr with exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KNOWN_ERRORS as exc:
            fail(str(exc))
        except OperationalError as exc:
            fail(f"无法连接数据库 / database unavailable: {str(exc.orig).splitlines()[0]}")
        except IntegrityError as exc:
            fail(f"与并发修改冲突，请重试 / conflicting concurrent change: {exc.orig}")

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> None:
    err.print(f"错误: {message}", markup=False, highlight=False)
    raise typer.Exit(1)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _context(settings: Settings | None = None) -> tuple[Settings, PluginRegistry, Any]:
    settings = settings or Settings()
    registry = PluginRegistry().load(disabled=settings.disabled_plugins, only=settings.load_plugins)
    return settings, registry, make_engine(settings.database_url)


def _require_migrated(engine: Any, registry: PluginRegistry) -> None:
    problems = pending(engine, registry)
    if "core" in problems:
        raise StartupError(f"数据库未就绪 / database not ready: {problems['core']}")


# -- serving -------------------------------------------------------------------------------


@app.command()
@one_line_errors
def demo(
    host: Annotated[str, typer.Option(help="监听地址 / address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    db: Annotated[Path | None, typer.Option(help="SQLite 文件 / SQLite file")] = None,
) -> None:
    """创建并迁移数据库、导入演示县，然后启动服务 / migrate, load the demo county and serve."""
    from core.demo.load import load_demo

    if db is not None:
        os.environ["SANMIN_DATABASE_URL"] = f"sqlite:///{db.resolve()}"
    settings, registry, engine = _context()
    upgrade_all(engine, registry)
    report = load_demo(engine, registry)
    engine.dispose()
    out.print(
        f"演示县已就绪（新增 {len(report.units.created)} 个单位、"
        f"{len(report.accounts_created)} 个账号）/ demo county ready",
        markup=False,
    )
    out.print(f"数据库 / database: {settings.database_url}", markup=False)
    base = f"http://{host}:{port}"
    out.print(
        f"打开 / open {base}/  —  选择乡镇街道即可使用；插件管理 {base}/admin/plugins", markup=False
    )
    out.print(f"登录 / log in: {base}/login", markup=False)
    table = Table(
        "用户名 username",
        "角色 role",
        "单位 unit",
        "密码 password",
        title="演示账号（仅供演示，切勿用于生产）/ demo accounts: demo only, never in production",
    )
    for login in report.logins:
        table.add_row(
            login.username,
            f"{login.role_title} {login.role}",
            f"{login.unit_name} {login.unit_code}",
            login.password,
        )
    out.print(table)
    _serve(host, port, 1)


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="监听地址 / address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="进程数 / worker processes")] = 1,
) -> None:
    """启动服务（不做迁移）/ serve; run `sanmin db upgrade` first."""
    _, registry, engine = _context()
    _require_migrated(engine, registry)
    engine.dispose()
    _serve(host, port, workers)


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "core.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


# -- database ------------------------------------------------------------------------------


@db_app.command("upgrade")
@one_line_errors
def db_upgrade(
    plugin: Annotated[str | None, typer.Option(help="只迁移此插件 / only this plugin")] = None,
) -> None:
    """迁移核心，再按依赖顺序迁移各插件 / migrate core, then plugins in dependency order."""
    _, registry, engine = _context()
    if plugin is not None and plugin not in registry.plugins:
        raise ToggleError(f"插件 {plugin!r} 未安装或加载失败 / plugin {plugin!r} is not loaded")
    done = upgrade_all(engine, registry, only=plugin)
    out.print("已迁移 / migrated: " + ", ".join(done), markup=False)


# -- units ---------------------------------------------------------------------------------


@units_app.command("list")
@one_line_errors
def units_list(
    under: Annotated[str | None, typer.Option(help="只列出此单位及其下级 / subtree")] = None,
    level: Annotated[Level | None, typer.Option(help="只列出此层级 / only this level")] = None,
) -> None:
    """列出单位 / list units."""
    _, registry, engine = _context()
    _require_migrated(engine, registry)
    with Session(engine) as session:
        units = list_units(session, under, level=level)
    table = Table("代码 code", "名称 name", "层级 level")
    for unit in units:
        indent = "  " * (Level(unit.level).depth - 1)
        table.add_row(unit.code, indent + unit.name, unit.level_label)
    out.print(table)
    out.print(f"共 {len(units)} 个单位 / units", markup=False)


@units_app.command("load")
@one_line_errors
def units_load(
    file: Annotated[Path, typer.Argument(help="CSV：区划代码,名称 / code,name")],
) -> None:
    """从 CSV 导入单位（全部成功或全部不写）/ load units from CSV, all or nothing."""
    _, registry, engine = _context()
    _require_migrated(engine, registry)
    rows = read_units_csv(file)
    with Session(engine) as session:
        report = load_units(session, rows)
        if report.created or report.updated:
            bump_config_version(session)
        session.commit()
    out.print(
        f"新增 {len(report.created)}，更新 {len(report.updated)}，未变 {report.unchanged} / "
        "created, updated, unchanged",
        markup=False,
    )


# -- plugins -------------------------------------------------------------------------------

STATE_LABELS = {
    "core": "核心",
    "unit": "本级设置",
    "inherited": "继承",
    "default": "默认",
    "failed": "加载失败",
}


@plugins_app.command("list")
@one_line_errors
def plugins_list(
    unit: Annotated[
        str | None, typer.Option(help="显示在此单位的状态 / state at this unit")
    ] = None,
) -> None:
    """列出插件及其状态 / list plugins and their state."""
    from core.kernel import Kernel

    settings, registry, engine = _context()
    kernel = Kernel(settings, registry, engine)
    if unit is not None:
        _require_migrated(engine, registry)
    states = kernel.plugin_states(unit)
    table = Table("name", "标题 title", "版本 version", "来源 source", "状态 state")
    table.columns[0].no_wrap = True
    for info in registry.all():
        state = states[info.name]
        where = f" {state.origin_unit}" if state.origin_unit else ""
        label = "failed" if info.error else ("enabled" if state.enabled else "disabled")
        table.add_row(
            info.name,
            info.title,
            info.version,
            info.source,
            f"{label} ({STATE_LABELS[state.origin]}{where})",
        )
    out.print(table)
    for info in registry.plugins_failed.values():
        out.print(
            f"插件 {info.name} 未启用 / plugin {info.name} is off: {info.error}",
            markup=False,
            highlight=False,
        )
    if registry.plugins_failed:
        sys.stdout.flush()


def _toggle(name: str, unit: str, enabled: bool) -> None:
    _, registry, engine = _context()
    _require_migrated(engine, registry)
    with Session(engine) as session:
        changed = set_plugin_setting(
            session,
            registry,
            plugin=name,
            unit_code=unit,
            enabled=enabled,
            actor=cli_actor(),
            source="cli",
        )
        session.commit()
    verb = "启用 enabled" if enabled else "停用 disabled"
    note = "" if changed else "（未变 / unchanged）"
    out.print(f"{name} 已在 {unit} {verb}{note}", markup=False)


@plugins_app.command("enable")
@one_line_errors
def plugins_enable(
    name: Annotated[str, typer.Argument(help="插件名 / plugin name")],
    unit: Annotated[str, typer.Option(help="市、县区或乡镇街道代码 / city, county or township")],
) -> None:
    """在某单位启用插件（下级继承）/ enable a plugin at a unit and below."""
    _toggle(name, unit, True)


@plugins_app.command("disable")
@one_line_errors
def plugins_disable(
    name: Annotated[str, typer.Argument(help="插件名 / plugin name")],
    unit: Annotated[str, typer.Option(help="市、县区或乡镇街道代码 / city, county or township")],
) -> None:
    """在某单位停用插件（下级继承）/ disable a plugin at a unit and below."""
    _toggle(name, unit, False)


# -- plugin authors ------------------------------------------------------------------------


@app.command("new-plugin")
@one_line_errors
def new_plugin(
    name: Annotated[str, typer.Argument(help="插件名，snake_case / plugin name")],
    output: Annotated[Path, typer.Option(help="生成到此目录 / directory to create")],
    title: Annotated[str | None, typer.Option(help="中文标题 / Chinese title")] = None,
) -> None:
    """生成可安装的插件包 / write an installable plugin package."""
    from core.scaffold import write_plugin

    written = write_plugin(name, output, title=title)
    out.print(
        f"已生成插件 {name}：{len(written)} 个文件于 {output} / plugin package written",
        markup=False,
    )
    out.print(f"下一步 / next: pip install -e {output} && pytest {output}", markup=False)


def main() -> None:
    """Console-script entry point."""
    app()
