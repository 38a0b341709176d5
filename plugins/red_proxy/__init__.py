"""红色代办 (``red_proxy``): the 四单制 of party-member proxy service.

群众点单 → 支部派单 → 党员接单·办单 → 群众评单, with 退单, 撤单, 待补材料 and deadlines from each
item's time limit; the 委托书 and the hand-over log of materials; a 公示 list with the
requester masked; and the metrics 点单数, 办结率, 按期办结率, 平均用时, 满意率, rolled up to the
county. One module per job: ``access`` (roles, permissions), ``catalogue`` (代办事项),
``roster`` (代办员名册), ``workflow`` (the state machine), ``service`` (orders),
``paperwork`` (委托书, 交接), ``views``, ``publication`` (公示), ``metrics``, ``api``,
``pages``, ``workbench`` (panels on 工作台), ``demo``, ``hooks``; tables in ``models`` with
their ``migrations``.
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
    name="red_proxy",
    title="红色代办",
    version="0.2.0",
    description="红色代办“四单制”：群众点单、支部派单、党员接单办单、群众评单，结果公示。",
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
