"""Workflows that move only through the service that owns them.

A ticket, a 代办单 or a 议题 keeps a row of its own beside its workflow instance (state,
deadlines, milestones), so a step taken through the generic workflow API would leave the
two apart. :class:`ServiceOnly` is the guard every such owner needs: its service takes its
steps inside :meth:`ServiceOnly.step`, and its ``workflow_guard`` hook answers with
:meth:`ServiceOnly.refuse`, which refuses (with ``message``) a step of one of its workflows
taken anywhere else. The mark is a context variable, so it holds for the thread or task
taking the step and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from core.workflows.spec import WorkflowInstance


class ServiceOnly:
    """The workflows ``workflows`` of ``plugin`` (all of its workflows when ``None``) move
    only inside :meth:`step`; elsewhere :meth:`refuse` answers ``message``."""

    def __init__(self, plugin: str, workflows: Iterable[str] | None, message: str) -> None:
        self.plugin = plugin
        self.workflows = None if workflows is None else frozenset(workflows)
        self.message = message
        self._inside: ContextVar[bool] = ContextVar(f"{plugin}_service", default=False)

    @contextmanager
    def step(self) -> Iterator[None]:
        """Mark the steps taken inside as the owning service's own."""
        token = self._inside.set(True)
        try:
            yield
        finally:
            self._inside.reset(token)

    def refuse(self, instance: WorkflowInstance | None) -> str | None:
        """For the owner's ``workflow_guard``: ``message`` for a step of one of its
        workflows taken outside :meth:`step`, else ``None``."""
        if (
            isinstance(instance, WorkflowInstance)  # the hook tests call every guard with None
            and instance.plugin == self.plugin
            and (self.workflows is None or instance.workflow in self.workflows)
            and not self._inside.get()
        ):
            return self.message
        return None
