"""The application factory. No state in module globals: everything hangs off
``app.state.kernel``, so any number of apps can live in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from core.db.engine import make_engine
from core.db.migrate import pending, upgrade_all
from core.identity.access import Actor
from core.identity.web import csrf_protect, make_signer, require_actor, signing_key
from core.jobs.worker import InProcessRunner
from core.kernel import Kernel
from core.plugins.calling import call_impl
from core.plugins.errors import PluginHookError, StartupError
from core.plugins.registry import PluginRegistry
from core.plugins.startup import run_startup_hooks
from core.settings import Settings
from core.version import __version__
from core.web.errors import install_error_handlers
from core.web.routing import guard_included_routers
from core.web.scope import require_plugin
from core.web.templating import CORE_STATIC, build_templates

log = logging.getLogger("sanmin")


@dataclass
class Declarations:
    """What one plugin declared at start-up."""

    api: APIRouter | None = None
    pages: APIRouter | None = None
    templates: Path | None = None
    static: Path | None = None


def load_registry(settings: Settings) -> PluginRegistry:
    """Discover and load plugins as the settings say."""
    return PluginRegistry().load(disabled=settings.disabled_plugins, only=settings.load_plugins)


def create_app(
    settings: Settings | None = None,
    *,
    registry: PluginRegistry | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    """Build the Sanmin application.

    :param settings: defaults to :class:`core.Settings` read from the environment.
    :param registry: a loaded :class:`PluginRegistry` (tests pass their own);
        by default plugins are discovered through entry points.
    :param engine: an engine to reuse; by default one is made from ``settings.database_url``.
    :raises StartupError: the core's migrations are not applied, or a core plugin fails.
    """
    settings = settings or Settings()
    registry = registry or load_registry(settings)
    engine = engine or make_engine(settings.database_url)
    if settings.auto_migrate:
        upgrade_all(engine, registry)
    for name, problem in pending(engine, registry).items():
        if name == "core":
            raise StartupError(f"数据库未就绪 / database not ready: {problem}")
        registry.reject(name, problem)
    declarations = collect_declarations(registry)

    kernel = Kernel(settings, registry, engine)
    kernel.signer = make_signer(signing_key(engine, settings.secret_key))
    kernel.templates = build_templates(
        {name: d.templates for name, d in declarations.items() if d.templates}
    )
    app = FastAPI(
        title="三民 Sanmin",
        version=__version__,
        description="县域基层治理平台：民情档案、民情沟通、为民办事全程服务",
        lifespan=_lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.kernel = kernel
    install_error_handlers(app)

    @app.get("/healthz", tags=["core"], summary="存活检查 / liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.mount("/static/core", StaticFiles(directory=CORE_STATIC), name="static-core")
    for name, declared in declarations.items():
        if name in registry.plugins:  # the kernel may have taken out a plugin since
            mount_plugin(app, registry, name, declared)
    _mount_unknown_plugin_routes(app, registry)
    guard_included_routers(app)
    return app


def collect_declarations(registry: PluginRegistry) -> dict[str, Declarations]:
    """Call the installation hooks on each plugin; a plugin whose declarations fail is taken out."""
    found: dict[str, Declarations] = {}
    for name in list(registry.plugins):
        plugin = registry.pm.get_plugin(name)
        try:
            found[name] = _declarations_of(registry, plugin)
        except (PluginHookError, TypeError, NotADirectoryError) as exc:
            registry.reject(name, str(exc))
    return found


def _declarations_of(registry: PluginRegistry, plugin: object) -> Declarations:
    declared = Declarations()
    for caller in registry.pm.get_hookcallers(plugin) or []:
        if caller.name not in (
            "register_api_routes",
            "register_page_routes",
            "register_templates",
            "register_static",
        ):
            continue
        impl = next(i for i in caller.get_hookimpls() if i.plugin is plugin)
        try:
            result = call_impl(impl, {})
        except Exception as exc:
            raise PluginHookError(impl.plugin_name, caller.name, None, exc) from exc
        if result is None:
            continue
        if caller.name in ("register_api_routes", "register_page_routes"):
            if not isinstance(result, APIRouter):
                raise TypeError(f"{caller.name} returned {type(result).__name__}, not an APIRouter")
            setattr(declared, "api" if caller.name == "register_api_routes" else "pages", result)
        else:
            path = Path(result)
            if not path.is_dir():
                raise NotADirectoryError(f"{caller.name} returned {str(path)!r}, not a directory")
            setattr(declared, caller.name.removeprefix("register_"), path)
    return declared


def mount_plugin(app: FastAPI, registry: PluginRegistry, name: str, declared: Declarations) -> None:
    """Mount a plugin's routers and static files; township-level plugins get the 404 guard."""
    info = registry.plugins[name]
    dependencies = [] if info.essential else [Depends(require_actor), Depends(require_plugin(name))]
    if declared.api is not None:
        app.include_router(
            declared.api,
            prefix="/api/v1" if info.essential else f"/api/v1/p/{name}",
            tags=[name],
            dependencies=dependencies,
        )
    if declared.pages is not None:
        app.include_router(
            declared.pages,
            prefix="" if info.essential else f"/p/{name}",
            dependencies=dependencies,
            include_in_schema=False,
        )
    if declared.static is not None:
        app.mount(
            f"/static/plugins/{name}", StaticFiles(directory=declared.static), name=f"static-{name}"
        )


def _mount_unknown_plugin_routes(app: FastAPI, registry: PluginRegistry) -> None:
    """``/p/{name}/…`` that no plugin route matched: a 404 that says why, to signed-in users.

    The load error itself is shown only to staff who may read plugin states; it can hold
    paths and exception text.
    """
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    def explain(request: Request, plugin: str, actor: Actor) -> None:
        if plugin in registry.plugins:
            raise HTTPException(
                404, f"插件 {plugin} 没有此页面 / plugin {plugin!r} has no such page"
            )
        info = registry.plugins_failed.get(plugin)
        if info is None:
            raise HTTPException(404, f"插件 {plugin} 未安装 / no such plugin")
        staff = actor.paths_with(request.app.state.kernel.access, "plugins.read")
        reason = f": {info.error}" if staff else ""
        raise HTTPException(404, f"插件 {plugin} 未能加载 / plugin {plugin!r} is off{reason}")

    @app.api_route("/p/{plugin}/{rest:path}", methods=methods, include_in_schema=False)
    def unknown_page(
        request: Request, plugin: str, rest: str, actor: Actor = Depends(require_actor)
    ) -> None:
        explain(request, plugin, actor)

    @app.api_route("/api/v1/p/{plugin}/{rest:path}", methods=methods, include_in_schema=False)
    def unknown_api(
        request: Request, plugin: str, rest: str, actor: Actor = Depends(require_actor)
    ) -> None:
        explain(request, plugin, actor)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    kernel: Kernel = app.state.kernel
    await run_startup_hooks(kernel)
    refresher = asyncio.create_task(kernel.toggles.run())
    runner = InProcessRunner.start(kernel) if kernel.settings.run_worker_in_process else None
    log.info(
        "Sanmin %s serving with plugins: %s",
        __version__,
        ", ".join(sorted(kernel.registry.plugins)),
    )
    for info in kernel.registry.plugins_failed.values():
        log.error("Plugin %r is off: %s", info.name, info.error)
    try:
        yield
    finally:
        if runner is not None:
            await runner.stop()
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        kernel.dispose()


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory core.web.app:app_from_env``."""
    return create_app(Settings())
