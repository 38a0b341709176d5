"""The workflows every loaded plugin declared (``register_workflows``), by plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from core.db.types import utcnow
from core.identity.access import AccessCatalog
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry
from core.workflows.spec import Workflow


class WorkflowCatalog:
    """Declarations of ``register_workflows``, checked and collected once when the kernel is built.

    ``clock`` is what the service calls "now" (deadlines, overdue lists); tests replace it
    with a fixed time instead of sleeping.
    """

    def __init__(self, registry: PluginRegistry, by_plugin: dict[str, list[Workflow]]) -> None:
        self._registry = registry
        self.by_plugin = by_plugin
        self.clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, registry: PluginRegistry, access: AccessCatalog) -> WorkflowCatalog:
        """Collect every plugin's workflows; a plugin with a bad definition is taken out,
        with every problem named (states, transitions, roles and permissions are checked
        against ``access``)."""

        def check(plugin: str, workflows: list[Workflow]) -> None:
            problems: list[str] = []
            seen: set[str] = set()
            for workflow in workflows:
                if workflow.name in seen:
                    problems.append(f"duplicate workflow {workflow.name!r}")
                seen.add(workflow.name)
                problems += workflow.problems(access)
            if problems:
                raise ValueError("; ".join(problems))

        return cls(registry, collect(registry, "register_workflows", Workflow, check))

    def get(self, plugin: str, name: str) -> Workflow | None:
        """The workflow ``name`` of ``plugin``, if that plugin is loaded and declares it."""
        if plugin not in self._registry.plugins:
            return None
        return next((w for w in self.by_plugin.get(plugin, ()) if w.name == name), None)

    def all(self) -> Iterator[tuple[str, Workflow]]:
        """Every ``(plugin, workflow)`` of the loaded plugins."""
        for plugin, workflows in self.by_plugin.items():
            if plugin in self._registry.plugins:
                for workflow in workflows:
                    yield plugin, workflow
