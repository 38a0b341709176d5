"""The plugin's hook implementations: each hands a declaration to Sanmin or delegates."""

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

from . import demo, service, workbench
from .access import CATALOGUE, DISPATCH, HANDLE, ORDER, PERMISSIONS, ROLES
from .api import api
from .metrics import METRICS
from .pages import pages
from .workflow import ORDER_WORKFLOW

BASE = "/p/red_proxy"


@hookimpl
def register_roles() -> list[Role]:
    """党员代办员 and 支部书记 (``access.py``)."""
    return ROLES


@hookimpl
def register_permissions() -> list[Permission]:
    """点单, 查看, 接单办单, 派单 and keeping the catalogue (``access.py``)."""
    return PERMISSIONS


@hookimpl
def register_workflows() -> list[Workflow]:
    """The 四单制 (``workflow.py``)."""
    return [ORDER_WORKFLOW]


@hookimpl
def workflow_guard(
    instance: WorkflowInstance, transition: str, actor: Actor, inputs: dict[str, Any]
) -> str | None:
    """Orders move only through the order service, which keeps the order row in step."""
    return service.OWNED.refuse(instance)


@hookimpl
def register_metrics() -> list[Metric]:
    """点单数, 办结率, 按期办结率, 平均用时, 满意率 (``metrics.py``)."""
    return METRICS


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def register_templates() -> Path:
    return Path(__file__).parent / "templates"


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    """Menu entries where the plugin is on, each for whom it serves."""
    if township is None:
        return []

    def link(path: str, label: str, order: int, **who: Any) -> MenuLink:
        return MenuLink(href=page_link(request, f"{BASE}{path}"), label=label, order=order, **who)

    return [
        link("/", "红色代办", 159),  # its tiles lead to 我的代办, 代办公示 and 代办事项
        link("/order", "我要代办", 160, permission=ORDER),
        link("/mine", "我的代办", 161, roles=("resident",)),
        link("/board", "派单台", 162, permission=DISPATCH),
        link("/tasks", "我的接单", 163, permission=HANDLE),
        link("/catalogue", "代办事项", 165, permission=CATALOGUE),
    ]


@hookimpl
async def workbench_panels(
    township: ScopeUnit | None, request: Request
) -> list[WorkbenchPanel] | None:
    """我的接单 for the party members who handle orders, 待派单 for the branch
    (``workbench.py``)."""
    return await workbench.panels(township, request)


@hookimpl
def demo_accounts() -> list[DemoAccount]:
    """A 党员代办员 and a 支部书记 of 府山社区 (``demo.py``)."""
    return demo.ACCOUNTS


@hookimpl
def load_demo(kernel: Kernel) -> str | None:
    """The catalogue, the roster and orders in every state in 府山街道 (``demo.py``)."""
    return demo.load(kernel)
