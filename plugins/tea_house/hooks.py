"""Hook implementations of 民情茶馆, one function per hook; each hands over a declaration
from the module that holds it. ``__init__`` imports them, so the module Sanmin registers
carries them (the hooks are documented in ``core/hookspecs.py``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request

from core import (
    DemoAccount,
    Event,
    Job,
    Kernel,
    MenuLink,
    Metric,
    Permission,
    Role,
    ScopeUnit,
    TicketType,
    WorkbenchPanel,
    hookimpl,
    page_link,
)

from . import demo, workbench
from .access import PERMISSIONS, ROLES
from .api import api
from .jobs import ANNOUNCE
from .metrics import METRICS
from .pages import pages
from .reactions import follow_ticket
from .service import MANAGE
from .tickets import MATTER

HERE = Path(__file__).resolve().parent
BASE = "/p/tea_house"


@hookimpl
def register_api_routes() -> APIRouter:
    """The JSON API (``api.py``), under ``/api/v1/p/tea_house/``."""
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    """The pages (``pages.py``), under ``/p/tea_house/``."""
    return pages


@hookimpl
def register_templates() -> Path:
    """The templates: ``templates/index.html`` is ``"tea_house/index.html"``."""
    return HERE / "templates"


@hookimpl
def register_static() -> Path:
    """The style sheet, served under ``/static/plugins/tea_house/``."""
    return HERE / "static"


@hookimpl
def register_permissions() -> list[Permission]:
    """Reading, recording, answering and transferring, hosting (``access.py``)."""
    return PERMISSIONS


@hookimpl
def register_roles() -> list[Role]:
    """民情馆长 and 民情馆员, the session roster's roles (``access.py``)."""
    return ROLES


@hookimpl
def register_ticket_types() -> list[TicketType]:
    """民情事项, the type transferred issues take by default (``tickets.py``)."""
    return [MATTER]


@hookimpl
def register_metrics() -> list[Metric]:
    """Sessions, attendance, issues raised, answered, transferred, solved, reported back
    (``metrics.py``)."""
    return METRICS


@hookimpl
def register_jobs() -> list[Job]:
    """The daily announcement of each village's next fixed day (``jobs.py``)."""
    return [ANNOUNCE]


@hookimpl
def on_event(event: Event, kernel: Kernel) -> None:
    """Follow the tickets of transferred issues (``reactions.py``)."""
    follow_ticket(event, kernel)


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    """The notice board and the report-back list for everyone; announcing for hosts."""
    if township is None:
        return []
    return [
        MenuLink(href=page_link(request, f"{BASE}/"), label="民情茶馆", order=120),
        MenuLink(href=page_link(request, f"{BASE}/report-back"), label="结果通报", order=121),
        MenuLink(
            href=page_link(request, f"{BASE}/sessions/new"),
            label="安排沟通日",
            order=122,
            permission=MANAGE,
        ),
    ]


@hookimpl
async def workbench_panels(
    township: ScopeUnit | None, request: Request
) -> list[WorkbenchPanel] | None:
    """The next session and the issues awaiting an answer, for those who record them
    (``workbench.py``)."""
    return await workbench.panels(township, request)


@hookimpl
def demo_accounts() -> list[DemoAccount]:
    """A 民情馆长 and a 民情馆员 of 府山社区 (``demo.py``)."""
    return demo.ACCOUNTS


@hookimpl
def load_demo(kernel: Kernel) -> str | None:
    """Schedules, sessions, issues and transferred tickets in 柯城区 (``demo.py``)."""
    return demo.load(kernel)
