"""民情直通车 + 民情热线 (``mobile_office``): a township's hotline and its mobile office.

Calls to the 民情热线 are registered by the operator (接线员) and triaged by the duty leader
(值班领导): answered directly, sent a trip of the 民情直通车 (出车单: crew, departure,
arrival), or transferred to a core ticket. On site the crew records each matter — 当场办结,
约期协调 or 转办 — and every evening the duty leader closes the day (日清日结) once each of
its calls has an outcome. Metrics: calls, trips, arrival time, 当场办结率, 初信初访不满意率.

Sanmin loads this package through its entry point ``mobile_office``; the hooks come from
``hooks.py`` and the rest is one module per job (models, workflows, calls, trips, ledger,
referral, metrics, api, pages, workbench, demo).
"""

from core import PluginManifest

from .hooks import (
    demo_accounts,
    load_demo,
    menu_links,
    register_api_routes,
    register_metrics,
    register_page_routes,
    register_permissions,
    register_roles,
    register_templates,
    register_workflows,
    workbench_panels,
    workflow_guard,
)

PLUGIN = PluginManifest(
    name="mobile_office",
    title="民情直通车",
    version="0.2.0",
    description="乡镇民情直通车与民情热线：来电受理、研判派车、到场处置、日清日结。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=False,
)

__all__ = [
    "PLUGIN",
    "demo_accounts",
    "load_demo",
    "menu_links",
    "register_api_routes",
    "register_metrics",
    "register_page_routes",
    "register_permissions",
    "register_roles",
    "register_templates",
    "register_workflows",
    "workbench_panels",
    "workflow_guard",
]
