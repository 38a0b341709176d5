"""Hook implementations of 民情直通车, one function per hook (``core/hookspecs.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from core import (
    Actor,
    DemoAccount,
    Kernel,
    MenuLink,
    Metric,
    Permission,
    Role,
    ScopeUnit,
    WorkbenchPanel,
    Workflow,
    WorkflowInstance,
    hookimpl,
    page_link,
)

from . import demo, workbench
from .access import DISPATCH, INTAKE, PERMISSIONS, READ, RECORD, ROLES
from .api import api
from .metrics import mobile_office_metrics
from .pages import pages
from .workflows import OWNED, WORKFLOWS

HERE = Path(__file__).resolve().parent
BASE = "/p/mobile_office"


@hookimpl
def register_api_routes() -> APIRouter:
    """The JSON API (``api.py``), under ``/api/v1/p/mobile_office/``."""
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    """The pages (``pages.py``), under ``/p/mobile_office/``."""
    return pages


@hookimpl
def register_templates() -> Path:
    """``templates/``: the pages' Jinja2 templates, as ``mobile_office/…``."""
    return HERE / "templates"


@hookimpl
def register_permissions() -> list[Permission]:
    """Reading, intake, dispatch, on-site records and the caller's phone (``access.py``)."""
    return list(PERMISSIONS)


@hookimpl
def register_roles() -> list[Role]:
    """值班领导, 接线员 and 随车人员 (``access.py``)."""
    return list(ROLES)


@hookimpl
def register_workflows() -> list[Workflow]:
    """The call and the trip (``workflows.py``)."""
    return list(WORKFLOWS)


@hookimpl
def register_metrics() -> list[Metric]:
    """Calls, trips, arrival time, 当场办结率, 初信初访不满意率 (``metrics.py``)."""
    return mobile_office_metrics()


@hookimpl
def workflow_guard(
    instance: WorkflowInstance, transition: str, actor: Actor, inputs: dict[str, Any]
) -> str | None:
    """Calls and trips move only through this plugin's services (which keep its rows)."""
    return OWNED.refuse(instance)


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    """Menu entries where the plugin is on, each for the roles that use it."""
    if township is None:
        return []
    return [
        MenuLink(
            href=page_link(request, f"{BASE}/"), label="民情直通车", order=500, permission=READ
        ),
        MenuLink(
            href=page_link(request, f"{BASE}/calls/new"),
            label="来电登记",
            order=501,
            permission=INTAKE,
        ),
        MenuLink(
            href=page_link(request, f"{BASE}/board"),
            label="研判看板",
            order=502,
            permission=DISPATCH,
        ),
        MenuLink(
            href=page_link(request, f"{BASE}/trips"),
            label="出车单",
            order=503,
            permission=RECORD,
        ),
        MenuLink(
            href=page_link(request, f"{BASE}/ledger"),
            label="日清日结",
            order=504,
            permission=READ,
        ),
    ]


@hookimpl
async def workbench_panels(
    township: ScopeUnit | None, request: Request
) -> list[WorkbenchPanel] | None:
    """待处置来电 for the duty leader and the operators: the calls still without an outcome
    (``workbench.py``)."""
    return await workbench.panels(township, request)


@hookimpl
def demo_accounts() -> list[DemoAccount]:
    """A duty leader, an operator and a crew member in 莲花镇, 衢江区 (``demo.py``)."""
    return list(demo.ACCOUNTS)


@hookimpl
def load_demo(kernel: Kernel) -> str | None:
    """Calls, trips, on-site records and closed days in 衢江区 (``demo.py``)."""
    return demo.load(kernel)
