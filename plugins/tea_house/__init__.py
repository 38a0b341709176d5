"""民情茶馆 (tea_house): 民情沟通日 and the always-open tea house.

A village holds a fixed communication day (常山: the 10th of every month), announced at least
three days ahead; the 馆员 on duty record every issue villagers raise; cadres answer on the
spot or transfer the issue to a ticket with a promised deadline; the next session reports
the results back in public. Sanmin registers this module (entry point ``tea_house``): its
``PLUGIN`` manifest and the hooks of ``hooks.py``.
"""

from core import PluginManifest

from .hooks import (
    demo_accounts,
    load_demo,
    menu_links,
    on_event,
    register_api_routes,
    register_jobs,
    register_metrics,
    register_page_routes,
    register_permissions,
    register_roles,
    register_static,
    register_templates,
    register_ticket_types,
    workbench_panels,
)

PLUGIN = PluginManifest(
    name="tea_house",
    title="民情茶馆",
    version="0.1.0",
    description="固定日与日常开放的民情沟通：登记群众反映的问题，当场答复或转办，下次通报结果。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=True,
)

__all__ = [
    "PLUGIN",
    "demo_accounts",
    "load_demo",
    "menu_links",
    "on_event",
    "register_api_routes",
    "register_jobs",
    "register_metrics",
    "register_page_routes",
    "register_permissions",
    "register_roles",
    "register_static",
    "register_templates",
    "register_ticket_types",
    "workbench_panels",
]
