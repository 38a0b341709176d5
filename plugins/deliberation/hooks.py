"""The plugin's hook implementations: each hands a declaration to Sanmin or delegates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from core import (
    Actor,
    DemoAccount,
    Job,
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

from . import demo, matters, workbench
from .access import MANAGE, PERMISSIONS, REGISTER, ROLES
from .api import api
from .jobs import ADVANCE
from .metrics import METRICS
from .pages import pages
from .workflows import OWNERS_WORKFLOW, VILLAGE_WORKFLOW

BASE = "/p/deliberation"


@hookimpl
def register_roles() -> list[Role]:
    """议事工作人员 (``access.py``)."""
    return ROLES


@hookimpl
def register_permissions() -> list[Permission]:
    """查看, 提出议题, 组织议事, 登记现场投票, 维护名册 (``access.py``)."""
    return PERMISSIONS


@hookimpl
def register_workflows() -> list[Workflow]:
    """Owners' matters and village matters (``workflows.py``)."""
    return [OWNERS_WORKFLOW, VILLAGE_WORKFLOW]


@hookimpl
def workflow_guard(
    instance: WorkflowInstance, transition: str, actor: Actor, inputs: dict[str, Any]
) -> str | None:
    """Matters move only through the matter service, which keeps the matter row in step."""
    return matters.OWNED.refuse(instance)


@hookimpl
def register_metrics() -> list[Metric]:
    """Matters, turnout, quorum reached, passed, days to implementation (``metrics.py``)."""
    return METRICS


@hookimpl
def register_jobs() -> list[Job]:
    """Opening and closing votes on time (``jobs.py``)."""
    return [ADVANCE]


@hookimpl
def register_api_routes() -> APIRouter:
    """The JSON API (``api.py``), under ``/api/v1/p/deliberation/``."""
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    """The pages (``pages.py``), under ``/p/deliberation/``."""
    return pages


@hookimpl
def register_templates() -> Path:
    """The templates: ``templates/index.html`` is ``"deliberation/index.html"``."""
    return Path(__file__).parent / "templates"


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    """Menu entries where the plugin is on, each for whom it serves."""
    if township is None:
        return []

    def link(path: str, label: str, order: int, **who: Any) -> MenuLink:
        return MenuLink(href=page_link(request, f"{BASE}{path}"), label=label, order=order, **who)

    return [
        link("/", "民主议事", 170),
        link("/mine", "我的表决", 171, roles=("resident",)),
        link("/manage", "议事管理", 172, permission=MANAGE),
        link("/registers", "业主与代表名册", 173, permission=REGISTER),
    ]


@hookimpl
def demo_accounts() -> list[DemoAccount]:
    """An 议事工作人员 and two owners of the demo estate (``demo.py``)."""
    return demo.ACCOUNTS


@hookimpl
def load_demo(kernel: Kernel) -> str | None:
    """A full owners' matter and a full village matter in 府山社区 (``demo.py``)."""
    return demo.load(kernel)


@hookimpl
async def workbench_panels(
    township: ScopeUnit | None, request: Request
) -> list[WorkbenchPanel] | None:
    """议事进行中 on the workbench of those who run matters (``workbench.py``)."""
    return await workbench.panels(township, request)
