"""敲门嫂 (knock_door): 志愿者定期上门探访独居、空巢、高龄老人，发现需求并转办。

A whole practice in small modules: ``access`` (permissions and roles), ``models`` and
``migrations/`` (tables), ``forms`` (入户问需记录), ``schedule`` and ``planning`` (visit
plans from care levels and special groups), ``service`` and ``teams`` (what the pages and
API do), ``needs`` (needs become tickets), ``metrics``, ``jobs``, ``api``, ``pages`` with
``templates/``, ``demo``, and ``hooks``, which hands each declaration to Sanmin.
"""

from core import PluginManifest

from .hooks import (
    demo_accounts,
    household_file_sections,
    load_demo,
    menu_links,
    on_event,
    permission_allowed,
    register_api_routes,
    register_forms,
    register_jobs,
    register_metrics,
    register_page_routes,
    register_permissions,
    register_roles,
    register_templates,
    register_ticket_types,
    workbench_panels,
)

PLUGIN = PluginManifest(
    name="knock_door",
    title="敲门嫂",
    version="0.1.0",
    description="志愿者定期上门探访独居、空巢、高龄老人，发现需求并转办。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=True,
)

__all__ = [
    "PLUGIN",
    "demo_accounts",
    "household_file_sections",
    "load_demo",
    "menu_links",
    "on_event",
    "permission_allowed",
    "register_api_routes",
    "register_forms",
    "register_jobs",
    "register_metrics",
    "register_page_routes",
    "register_permissions",
    "register_roles",
    "register_templates",
    "register_ticket_types",
    "workbench_panels",
]
