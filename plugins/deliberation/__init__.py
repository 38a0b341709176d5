"""民主议事 (``deliberation``): 议题 decided together, owners' votes and 业委会 elections.

Owners of a 小区 decide the matters of 民法典 第二百七十八条 by floor area and headcount;
villages decide their major matters by 四议两公开 and the villagers' (representatives')
meeting. A matter goes 议题征集 → 审核 → 公示 (at least three days) → 投票中 → 截止 → 计票 →
结果公示 → 执行 → 执行结果公示; voters are drawn from the registers and the archive, vote once
from their phone or in person, secretly where the matter says so, and the result is counted
exactly and can be counted again from the stored ballots. See ``README.md``.

One module per job: ``access`` (roles, permissions), ``rules`` (thresholds, matter types),
``tally`` (counting), ``registers`` (estates, 专有部分, representatives), ``electorate`` (the
roll), ``workflows``, ``matters`` (the steps), ``ballots`` (voting, secrecy, recount),
``views``, ``metrics``, ``jobs``, ``api``, ``pages``, ``demo``, ``hooks``; tables in
``models`` with their ``migrations``.
"""

from core import PluginManifest

from .hooks import (
    demo_accounts,
    load_demo,
    menu_links,
    register_api_routes,
    register_jobs,
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
    name="deliberation",
    title="民主议事",
    version="0.1.0",
    description="议题征集、审核、公示、投票、计票、结果公示、执行：业主共同决定、业委会选举与村级四议两公开。",
    author="Sanmin",
    requires_core=">=0.1,<0.2",
    default_enabled=True,
)

__all__ = [
    "PLUGIN",
    "demo_accounts",
    "load_demo",
    "menu_links",
    "register_api_routes",
    "register_jobs",
    "register_metrics",
    "register_page_routes",
    "register_permissions",
    "register_roles",
    "register_templates",
    "register_workflows",
    "workbench_panels",
    "workflow_guard",
]
