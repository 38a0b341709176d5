"""``sanmin``: demo, serve, database, units, plugins, accounts, API keys and the plugin scaffold.

Every command turns a known failure into one line on stderr and exit code 1
(2 for usage errors, as typer does); no traceback reaches the user.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from alembic.util import CommandError
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlmodel import Session, col, select

from core.audit.service import record
from core.db.engine import make_engine
from core.db.migrate import pending, upgrade_all
from core.db.types import utcnow
from core.identity.access import AccessCatalog, build_catalog
from core.identity.models import Account, ApiKey, RoleAssignment
from core.identity.secrets import PasswordPolicyError
from core.identity.service import (
    IdentityError,
    check_new_account,
    create_account,
    create_api_key,
    grant_role,
    set_active,
)
from core.plugins.errors import StartupError
from core.plugins.registry import PluginRegistry
from core.plugins.service import ToggleError, bump_config_version, set_plugin_setting
from core.settings import Settings
from core.units.codes import Level, UnitCodeError, path_upper_bound
from core.units.models import Unit
from core.units.service import (
    UnitLoadError,
    UnitNotFound,
    get_unit,
    list_units,
    load_units,
    read_units_csv,
)

app = typer.Typer(
    help="三民 Sanmin：县域基层治理平台 / county grassroots governance",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库迁移 / database migrations", no_args_is_help=True)
units_app = typer.Typer(help="行政区划 / administrative units", no_args_is_help=True)
plugins_app = typer.Typer(help="插件 / plugins", no_args_is_help=True)
users_app = typer.Typer(help="账号与角色 / accounts and roles", no_args_is_help=True)
apikeys_app = typer.Typer(help="对接系统的密钥 / API keys for integrators", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(plugins_app, name="plugins")
app.add_typer(users_app, name="users")
app.add_typer(apikeys_app, name="apikeys")
import_app = typer.Typer(help="批量导入 / bulk import", no_args_is_help=True)
app.add_typer(import_app, name="import")
export_app = typer.Typer(help="批量导出 / bulk export", no_args_is_help=True)
app.add_typer(export_app, name="export")

# Wide when piped, so that a line per plugin survives grep and logs.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

KNOWN_ERRORS = (
    UnitCodeError,
    UnitNotFound,
    UnitLoadError,
    ToggleError,
    StartupError,
    IdentityError,
    PasswordPolicyError,
    ValueError,
)
F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(func: F) -> F:
    """Report expected failures as ``错误: …`` on stderr with exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:  # settings from the environment or sanmin.toml
            fail(
                "配置有误 / bad setting: "
                + "; ".join(
                    f"SANMIN_{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                    for e in exc.errors()
                )
            )
        except KNOWN_ERRORS as exc:
            fail(str(exc))
        except CommandError as exc:
            fail(
                f"迁移失败 / migration failed: {str(exc).splitlines()[0]} (the database may be "
                "newer than this Sanmin)"
            )
        except OperationalError as exc:
            fail(f"数据库错误 / database error: {str(exc.orig).splitlines()[0]}")
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


def _context(
    settings: Settings | None = None, *, create: bool = False
) -> tuple[Settings, PluginRegistry, Any]:
    """Settings, plugins and an engine. Unless ``create``, a missing SQLite file is an error
    (opening it would silently create an empty database)."""
    settings = settings or Settings()
    try:
        url = make_url(settings.database_url)
        engine = make_engine(settings.database_url)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StartupError(
            f"SANMIN_DATABASE_URL 无效 / bad database URL: {str(exc).splitlines()[0]}"
        ) from exc
    if (
        not create
        and url.get_backend_name() == "sqlite"
        and url.database
        and url.database != ":memory:"
        and not Path(url.database).exists()
    ):
        raise StartupError(
            f"数据库文件 {url.database} 不存在：先运行 sanmin db upgrade / "
            "database file not found: run sanmin db upgrade first"
        )
    registry = PluginRegistry().load(disabled=settings.disabled_plugins, only=settings.load_plugins)
    return settings, registry, engine


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
    settings, registry, engine = _context(create=True)
    upgrade_all(engine, registry)
    report = load_demo(engine, registry)
    engine.dispose()
    out.print(
        f"演示县已就绪（新增 {len(report.units.created)} 个单位、"
        f"{len(report.accounts_created)} 个账号）/ demo county ready",
        markup=False,
    )
    out.print(report.archive.summary(), markup=False)
    out.print(report.tickets.summary(), markup=False)
    for line in report.plugins:
        out.print(line, markup=False)
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
    with _env_default("SANMIN_RUN_WORKER_IN_PROCESS", "true"):  # events and jobs: no extra service
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


@app.command()
@one_line_errors
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="只运行一轮后退出 / one pass, then exit")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(min=0.01, help="两轮之间的秒数 / seconds between passes"),
    ] = None,
) -> None:
    """投递事件、运行定时任务（可多进程并行）/ deliver events and run periodic jobs."""
    import asyncio
    import logging

    from core.jobs.worker import run_standalone
    from core.web.app import create_app

    settings, registry, engine = _context()
    _require_migrated(engine, registry)
    changes: dict[str, Any] = {"run_worker_in_process": False}  # this process is the runner
    if interval is not None:
        changes["worker_interval_seconds"] = interval
    application = create_app(settings.model_copy(update=changes), registry=registry, engine=engine)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    report = asyncio.run(run_standalone(application, once=once))
    if report is not None:
        out.print(
            f"已处理事件 {report.events} 个，运行任务 {report.jobs} 次 / "
            "events handled, job runs made",
            markup=False,
        )


@contextmanager
def _env_default(name: str, value: str) -> Iterator[None]:
    """Set an environment variable unless it is set, for the duration only."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


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
    _, registry, engine = _context(create=True)
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
    "dependency": "依赖未启用",
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

    settings, registry, engine = _context(create=True)
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


# -- accounts ------------------------------------------------------------------------------
#
# Every command checks its input, changes the database and commits only on success: a refused
# change writes nothing, not even its audit rows. Errors name the field they are about
# (``username:``, ``password:``, ``role:``, ``unit:``, ``name:``).


def _identity_context() -> tuple[Any, AccessCatalog]:
    """A migrated database's engine and the roles and permissions of core and every plugin."""
    _, registry, engine = _context()
    _require_migrated(engine, registry)
    return engine, build_catalog(registry)


def _unit(session: Session, code: str) -> Unit:
    try:
        return get_unit(session, code)
    except (UnitCodeError, UnitNotFound) as exc:
        raise IdentityError(f"unit: {exc}") from exc


def _account(session: Session, username: str) -> Account:
    wanted = username.strip().lower()
    account = session.exec(select(Account).where(Account.username == wanted)).first()
    if account is None:
        raise IdentityError(f"username: 账号 {wanted} 不存在 / no such account")
    return account


def _role_label(catalog: AccessCatalog, role: str) -> str:
    found = catalog.roles.get(role)
    return f"{found.title} {role}" if found else role


def _read_password(from_stdin: bool) -> str:
    if not from_stdin:
        return str(
            typer.prompt(
                "密码 / password",
                hide_input=True,
                confirmation_prompt="再输入一次 / repeat the password",
            )
        )
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise IdentityError("password: 标准输入中没有密码 / no password on stdin")
    return password


@users_app.command("create")
@one_line_errors
def users_create(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[str, typer.Option(help="角色，如 grid_worker / role, e.g. grid_worker")],
    unit: Annotated[str, typer.Option(help="角色所在单位代码 / unit where the role is held")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="从标准输入读一行作为密码 / read the password from stdin"
        ),
    ] = False,
    name: Annotated[str, typer.Option(help="显示名 / display name")] = "",
) -> None:
    """创建账号并授予一个角色 / create an account holding one role at a unit."""
    engine, catalog = _identity_context()
    with Session(engine) as session:
        where = _unit(session, unit)
        check_new_account(
            session,
            catalog,
            username=username,
            display_name=name.strip(),
            roles=[(role, where.code)],
        )
        password = _read_password(password_stdin)
        account = create_account(
            session,
            catalog,
            username=username,
            password=password,
            roles=[(role, where.code)],
            by=cli_actor(),
            display_name=name.strip(),
        )
        message = (
            f"已创建账号 {account.username}：{_role_label(catalog, role)} 于 {where.name} "
            f"({where.code}) / account created"
        )
        session.commit()
    out.print(message, markup=False, highlight=False)


@users_app.command("grant")
@one_line_errors
def users_grant(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[str, typer.Option(help="角色 / role")],
    unit: Annotated[str, typer.Option(help="角色所在单位代码 / unit where the role is held")],
) -> None:
    """给账号增加一个角色 / give an account one more role at a unit."""
    engine, catalog = _identity_context()
    with Session(engine) as session:
        account = _account(session, username)
        where = _unit(session, unit)
        assignment = grant_role(
            session, catalog, account, role=role, unit_code=where.code, by=cli_actor()
        )
        note = "" if assignment in session.new else "（已有，未变 / already held, unchanged）"
        message = (
            f"{account.username} 获得角色 {_role_label(catalog, role)} 于 {where.name} "
            f"({where.code}){note}"
        )
        session.commit()
    out.print(message, markup=False, highlight=False)


def _set_active(username: str, active: bool) -> None:
    engine, _ = _identity_context()
    with Session(engine) as session:
        account = _account(session, username)
        changed = account.active != active
        set_active(session, account, active, by=cli_actor())
        who = account.username
        session.commit()
    verb = "已启用 / activated" if active else "已停用，令牌全部失效 / deactivated, tokens revoked"
    note = "" if changed else "（未变 / unchanged）"
    out.print(f"{who} {verb}{note}", markup=False, highlight=False)


@users_app.command("deactivate")
@one_line_errors
def users_deactivate(username: Annotated[str, typer.Argument(help="用户名 / username")]) -> None:
    """停用账号，其令牌立即失效 / deactivate an account; its tokens stop working at once."""
    _set_active(username, False)


@users_app.command("activate")
@one_line_errors
def users_activate(username: Annotated[str, typer.Argument(help="用户名 / username")]) -> None:
    """重新启用账号 / activate an account again."""
    _set_active(username, True)


@users_app.command("list")
@one_line_errors
def users_list(
    under: Annotated[
        str | None,
        typer.Option(help="只列出在此单位及其下级有角色的账号 / accounts with a role in a subtree"),
    ] = None,
) -> None:
    """列出账号及其角色（角色@单位）/ list accounts and their roles (role@unit)."""
    engine, _ = _identity_context()
    with Session(engine) as session:
        query = select(RoleAssignment).order_by(col(RoleAssignment.id))
        if under is not None:
            path = _unit(session, under).path
            query = query.where(
                col(RoleAssignment.unit_code) >= path,
                col(RoleAssignment.unit_code) < path_upper_bound(path),
            )
        assignments = list(session.exec(query))
        accounts = list(session.exec(select(Account).order_by(col(Account.username))))
        codes = {a.unit_code for a in assignments}
        names = {
            u.code: u.name for u in session.exec(select(Unit).where(col(Unit.code).in_(codes)))
        }
    held: dict[int, list[str]] = {}
    for a in assignments:
        held.setdefault(a.account_id, []).append(f"{a.role}@{a.unit_code}({names[a.unit_code]})")
    if under is not None:
        accounts = [account for account in accounts if account.id in held]
    table = Table("用户名 username", "显示名 name", "状态 active", "角色@单位 roles@units")
    table.columns[0].no_wrap = True
    for account in accounts:
        table.add_row(
            account.username,
            account.display_name,
            "启用 active" if account.active else "停用 inactive",
            ", ".join(held.get(account.id, [])) or "—",  # type: ignore[arg-type]
        )
    out.print(table)
    out.print(f"共 {len(accounts)} 个账号 / accounts", markup=False)


# -- API keys ------------------------------------------------------------------------------


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "—"


@apikeys_app.command("create")
@one_line_errors
def apikeys_create(
    name: Annotated[str, typer.Argument(help="名称，如对接系统名 / name, e.g. the system's")],
    unit: Annotated[str, typer.Option(help="密钥所在单位代码 / unit the key acts at")],
    role: Annotated[str, typer.Option(help="角色 / role")] = "integrator",
) -> None:
    """创建 API key；密钥只显示一次，单独在最后一行 / create an API key, printed once on the
    last line."""
    engine, catalog = _identity_context()
    with Session(engine) as session:
        where = _unit(session, unit)
        raw = create_api_key(
            session, catalog, name=name, unit_code=where.code, role=role, by=cli_actor()
        )
        message = (
            f"已创建 API key {name.strip()}：{_role_label(catalog, role)} 于 {where.name} "
            f"({where.code}) / API key created"
        )
        session.commit()
    out.print(message, markup=False, highlight=False)
    out.print(
        "密钥只显示这一次，即下一行，请立即保存 / the key is shown only once, on the next line",
        markup=False,
    )
    sys.stdout.flush()
    typer.echo(raw)  # a contract: the key, alone, on the last line


@apikeys_app.command("list")
@one_line_errors
def apikeys_list() -> None:
    """列出 API key（不显示密钥）/ list API keys (never the keys themselves)."""
    engine, catalog = _identity_context()
    with Session(engine) as session:
        keys = list(session.exec(select(ApiKey).order_by(col(ApiKey.name))))
        codes = {k.unit_code for k in keys}
        names = {
            u.code: u.name for u in session.exec(select(Unit).where(col(Unit.code).in_(codes)))
        }
    table = Table("名称 name", "角色 role", "单位 unit", "创建 created", "撤销 revoked")
    table.columns[0].no_wrap = True
    for key in keys:
        table.add_row(
            key.name,
            _role_label(catalog, key.role),
            f"{names.get(key.unit_code, '')} {key.unit_code}",
            _when(key.created_at),
            _when(key.revoked_at),
        )
    out.print(table)
    out.print(f"共 {len(keys)} 个 API key", markup=False)


@apikeys_app.command("revoke")
@one_line_errors
def apikeys_revoke(name: Annotated[str, typer.Argument(help="名称 / name")]) -> None:
    """撤销 API key，立即失效 / revoke an API key; it stops working at once."""
    engine, _ = _identity_context()
    with Session(engine) as session:
        key = session.exec(select(ApiKey).where(ApiKey.name == name.strip())).first()
        if key is None:
            raise IdentityError(f"name: API key {name.strip()!r} 不存在 / no such API key")
        revoked_at = key.revoked_at
        if revoked_at is None:
            revoked_at = key.revoked_at = utcnow()
            session.add(key)
            record(
                session,
                actor=cli_actor(),
                action="apikey.revoke",
                target_type="api_key",
                target_id=str(key.id),
                unit_code=key.unit_code,
                before={"revoked_at": None},
                after={"revoked_at": revoked_at.isoformat()},
            )
            session.commit()
            note = ""
        else:
            note = f"（已于 {_when(revoked_at)} 撤销，未变 / already revoked, unchanged）"
    out.print(f"API key {name.strip()} 已撤销 / revoked{note}", markup=False, highlight=False)


# -- import --------------------------------------------------------------------------------


@import_app.command("archive")
@one_line_errors
def import_archive_file(
    file: Annotated[Path, typer.Argument(help="CSV 或 XLSX 户籍表 / CSV or XLSX sheet")],
    unit: Annotated[str, typer.Option(help="导入单位代码，网格须在其下 / importing unit")],
    source: Annotated[str, typer.Option(help="数据来源 / source recorded")] = "import",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只校验计数，不写入 / validate, write nothing")
    ] = False,
    errors: Annotated[
        Path | None, typer.Option(help="错误明细 CSV（行,列,值,原因）/ errors file")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="CSV 编码，默认自动识别 UTF-8/GB18030 / CSV encoding")
    ] = None,
) -> None:
    """导入户籍档案：按身份证号与户号更新或新增，可重复运行 / import the archive (upsert)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from core.archives.crypto import ArchiveCipher, archive_secret
    from core.archives.importer import import_archive
    from core.archives.template import estimate_rows

    settings, registry, engine = _context()
    _require_migrated(engine, registry)
    cipher = ArchiveCipher(archive_secret(engine, settings.archive_key))
    total = estimate_rows(file) if file.is_file() else None
    columns = (TextColumn("导入 / importing"), BarColumn(), MofNCompleteColumn())
    bar = Progress(*columns, console=err, transient=True)
    task = bar.add_task("import", total=total)

    def advance(rows: int) -> None:  # the bar shows from the first batch: errors come first
        bar.start()
        bar.advance(task, rows)

    try:
        summary = import_archive(
            engine,
            cipher,
            file,
            unit_code=unit,
            actor=cli_actor(),
            source=source,
            dry_run=dry_run,
            errors=errors,
            encoding=encoding,
            progress=advance,
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    engine.dispose()
    note = "（试运行，未写入 / dry run, nothing written）" if dry_run else ""
    out.print(
        f"新增 {summary.inserted}，更新 {summary.updated}，未变 {summary.unchanged}，"
        f"拒绝 {summary.rejected} / inserted, updated, unchanged, rejected{note}",
        markup=False,
    )
    if summary.rejected:
        where = f"见 / see {errors}" if errors else "用 --errors FILE 查看原因 / use --errors FILE"
        out.print(f"被拒绝的行 / rejected rows: {where}", markup=False)


@import_app.command("template")
@one_line_errors
def import_template(
    file: Annotated[Path, typer.Argument(help="生成的 .xlsx 或 .csv / file to write")],
) -> None:
    """生成户籍导入模板 / write the archive import template."""
    from core.archives.template import write_template

    write_template(file)
    out.print(f"已生成模板 / template written: {file}", markup=False)


@export_app.command("archive")
@one_line_errors
def export_archive_file(
    file: Annotated[Path, typer.Argument(help="写入的 CSV 或 XLSX / file to write")],
    unit: Annotated[str, typer.Option(help="导出单位代码，含下级 / unit and its subtree")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv 或 xlsx，默认按扩展名 / default: suffix")
    ] = None,
    unmasked: Annotated[
        bool,
        typer.Option("--unmasked", help="不脱敏身份证号与电话 / ID numbers and phones in full"),
    ] = False,
) -> None:
    """导出户籍档案（与导入模板同列），记入审计 / export the archive, audited."""
    from core.archives.crypto import ArchiveCipher, archive_secret
    from core.archives.exports import export_file

    settings, registry, engine = _context()
    _require_migrated(engine, registry)
    cipher = ArchiveCipher(archive_secret(engine, settings.archive_key))
    rows = export_file(
        engine, cipher, file, unit_code=unit, fmt=fmt, masked=not unmasked, actor=cli_actor()
    )
    engine.dispose()
    note = "未脱敏，已记入审计 / unmasked, audited" if unmasked else "已脱敏 / masked"
    out.print(f"已导出 {rows} 人到 {file}（{note}）/ rows exported", markup=False)


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
