"""Core plugin ``settings``: the settings page ``/admin/settings``.

Two parts. The installation's effective settings that matter to an administrator, read
only (they come from ``SANMIN_*`` variables or ``sanmin.toml``, :mod:`core.settings`): the
database's kind but never its URL, which may hold credentials; the time zone; attachments;
how plugin settings and events propagate; which plugins are blocked, loaded or failed.
Then what a county sets in the database: the care thresholds of 红/黄/绿 (domain.md §5.2),
for each county where the actor may read them, editable where it may configure them. The
page reads and writes them exactly as ``/api/v1/archives/care/thresholds/{county_code}``
does — same checks, same re-assessment, same audit entry — by calling that endpoint's
functions (:mod:`core.archives.care_api`).

Seeing the page needs ``settings.read`` (administrators), declared here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from core.archives.care import ArchiveCareThreshold, Thresholds
from core.archives.care_api import CONFIGURE, ThresholdsIn, set_thresholds
from core.archives.service import READ as ARCHIVE_READ
from core.hookspecs import hookimpl
from core.identity.access import AccessCatalog, Actor, Permission, scope_clause
from core.identity.web import require_permission
from core.plugins.manifest import PluginManifest
from core.units.codes import Level, parse_code
from core.units.models import Unit
from core.version import __version__
from core.web.errors import chinese_first
from core.web.menu import MenuLink
from core.web.render import render

PLUGIN = PluginManifest(
    name="settings",
    title="系统设置",
    version=__version__,
    description="本系统的部署设置与各县区的关爱等级阈值",
    default_enabled=True,
)

PERMISSION = "settings.read"
READERS = ("township_admin", "county_admin", "city_admin", "system_admin")
DATABASES = {"sqlite": "SQLite（嵌入式，单机）", "postgresql": "PostgreSQL"}
THRESHOLD_FIELDS = {
    "elderly_age": ("老年人起始年龄", "岁"),
    "yellow_alone_age": ("独居关注（黄）年龄", "岁"),
    "red_alone_age": ("高龄独居（红）年龄", "岁"),
    "red_visit_days": ("红色走访间隔", "天"),
    "yellow_visit_days": ("黄色走访间隔", "天"),
    "green_visit_days": ("绿色走访间隔", "天"),
}
FIELD_NAMES = set(THRESHOLD_FIELDS) | {"version"}

pages = APIRouter(prefix="/admin/settings")


@dataclass
class Setting:
    """One installation setting as the page shows it."""

    label: str
    value: str
    variable: str  # the environment variable that sets it


@dataclass
class CountyThresholds:
    """One county's care thresholds (defaults where none were set)."""

    code: str
    name: str
    values: dict[str, int]
    version: int | None
    editable: bool


def size_label(size: int) -> str:
    """A byte count as people read it (``10 MiB``)."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} 字节"


def deployment(kernel: Any, names: dict[str, str]) -> list[Setting]:
    """The effective installation settings an administrator needs to know; ``names`` gives
    unit names for codes. Never the database URL nor a key."""
    settings = kernel.settings
    backend = kernel.engine.url.get_backend_name()
    driver = kernel.engine.url.get_driver_name()
    jurisdiction = settings.open311_jurisdiction
    registry = kernel.registry
    loaded = sorted(p.name for p in registry.plugins.values() if not p.essential)
    failed = sorted(registry.plugins_failed)
    worker = (
        f"在每个服务进程内运行，每 {settings.worker_interval_seconds:g} 秒检查"
        if settings.run_worker_in_process
        else "由单独的 sanmin worker 进程运行"
    )
    return [
        Setting("Sanmin 版本", __version__, ""),
        Setting(
            "数据库", f"{DATABASES.get(backend, backend)} · 驱动 {driver}", "SANMIN_DATABASE_URL"
        ),
        Setting("时区", settings.timezone, "SANMIN_TIMEZONE"),
        Setting("附件目录", str(settings.attachment_dir), "SANMIN_ATTACHMENT_DIR"),
        Setting(
            "附件大小上限", size_label(settings.attachment_max_bytes), "SANMIN_ATTACHMENT_MAX_BYTES"
        ),
        Setting(
            "插件启停生效间隔",
            f"{settings.toggle_refresh_seconds:g} 秒内到达所有进程",
            "SANMIN_TOGGLE_REFRESH_SECONDS",
        ),
        Setting(
            "Open311 默认辖区",
            f"{names.get(jurisdiction, '')} {jurisdiction}".strip() if jurisdiction else "未设置",
            "SANMIN_OPEN311_JURISDICTION",
        ),
        Setting("事件与定时任务", worker, "SANMIN_RUN_WORKER_IN_PROCESS"),
        Setting(
            "事件与任务记录保留",
            f"{settings.worker_retention_days} 天",
            "SANMIN_WORKER_RETENTION_DAYS",
        ),
        Setting(
            "全局停用的插件",
            "、".join(sorted(settings.disabled_plugins)) or "无",
            "SANMIN_DISABLED_PLUGINS",
        ),
        Setting(
            "只加载的插件",
            "、".join(settings.load_plugins)
            if settings.load_plugins is not None
            else "全部已安装插件",
            "SANMIN_LOAD_PLUGINS",
        ),
        Setting("已加载的插件（可按乡镇街道启停）", "、".join(loaded) or "无", ""),
        Setting("加载失败的插件", "、".join(failed) or "无", ""),
    ]


def county_thresholds(
    session: Session, actor: Actor, access: AccessCatalog
) -> list[CountyThresholds]:
    """The thresholds of every county where the actor may read them (``archive.read`` at the
    county, as the API asks), scope in the query; defaults where a county set none."""
    rows = session.exec(
        select(Unit.code, Unit.name, ArchiveCareThreshold)
        .outerjoin(ArchiveCareThreshold, col(ArchiveCareThreshold.county_code) == Unit.code)
        .where(
            col(Unit.level) == Level.county.value,
            scope_clause(actor, access, ARCHIVE_READ, col(Unit.code)),
        )
        .order_by(col(Unit.code))
    ).all()
    defaults = vars(Thresholds())
    return [
        CountyThresholds(
            code=code,
            name=name,
            values={k: getattr(row, k) for k in defaults} if row else dict(defaults),
            version=row.version if row else None,
            editable=actor.role_allows(access, CONFIGURE, code),
        )
        for code, name, row in rows
    ]


async def _page(
    request: Request,
    actor: Actor,
    *,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The settings page; after a failed threshold form, its errors (field -> message) for
    county ``failed`` and the values typed there."""
    kernel = request.app.state.kernel

    def load() -> tuple[list[CountyThresholds], dict[str, str]]:
        with Session(kernel.engine) as session:
            counties = county_thresholds(session, actor, kernel.access)
            code = kernel.settings.open311_jurisdiction
            found = (
                session.exec(select(Unit.name).where(Unit.code == code)).first() if code else None
            )
        names = {code: found} if code and found else {}
        return counties, names

    counties, names = await run_in_threadpool(load)
    done = request.query_params.get("done") == "thresholds" and not errors
    return await render(
        request,
        "core/settings.html",
        {
            "deployment": deployment(kernel, names),
            "counties": counties,
            "fields": THRESHOLD_FIELDS,
            "errors": errors or {},
            "failed": failed,
            "typed": typed or {},
            "done": done,
        },
        status_code=status_code,
    )


@pages.get("", response_class=HTMLResponse)
async def settings_page(
    request: Request, actor: Actor = Depends(require_permission(PERMISSION))
) -> Response:
    """The installation's settings and the care thresholds of the actor's counties."""
    return await _page(request, actor)


def _label(field: str) -> str:
    label = THRESHOLD_FIELDS.get(field, ("版本", ""))[0]
    return f"{label}（{field}）"


def configurable(kernel: Any, actor: Actor, county_code: str) -> str:
    """The county's code if ``actor`` may set its thresholds, else the API's 404 (the API's
    own rule, asked before the form's values are read so that another county's form is a
    404 whatever it holds; :func:`core.archives.care_api.set_thresholds` asks it again)."""
    code = parse_code(county_code)
    if code.level is not Level.county or not actor.role_allows(kernel.access, CONFIGURE, code.code):
        raise HTTPException(404, "单位不存在或不在您的范围内 / no such county in your scope")
    return code.code


@pages.post("/care/{county_code}", response_class=HTMLResponse)
async def save_thresholds(
    request: Request, county_code: str, actor: Actor = Depends(require_permission(PERMISSION))
) -> Response:
    """Set a county's care thresholds from the page's form, through the function the API uses:
    404 for a county the actor may not configure, 422 naming the field, 409 when another
    administrator saved first; nothing is written on any of them."""
    code = configurable(request.app.state.kernel, actor, county_code)
    form = await request.form()
    typed = {k: str(v).strip() for k, v in form.items() if k in FIELD_NAMES}
    errors: dict[str, str] = {}
    status = 422
    try:
        body = ThresholdsIn.model_validate({k: v for k, v in typed.items() if v or k != "version"})
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0])
            errors.setdefault(field, f"{_label(field)}：{chinese_first(error)}")
    if not errors:
        try:
            await run_in_threadpool(set_thresholds, request.app.state.kernel, actor, code, body)
        except RequestValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][-1])
                errors.setdefault(field, f"{_label(field)}：{chinese_first(error)}")
        except HTTPException as exc:
            if exc.status_code == 404:
                raise
            errors["version"], status = str(exc.detail), exc.status_code
        else:
            return RedirectResponse(
                f"/admin/settings?done=thresholds#county-{code}", status_code=303
            )
    return await _page(request, actor, errors=errors, failed=code, typed=typed, status_code=status)


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission(PERMISSION, "查看系统设置", granted_to=READERS)]


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [MenuLink(href="/admin/settings", label="系统设置", order=920, permission=PERMISSION)]
