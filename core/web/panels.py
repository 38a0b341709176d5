"""Panels that plugins contribute to the staff workbench (``/admin``, 工作台)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WorkbenchItem(BaseModel):
    """One line of a panel: a task, a record or a figure, linking to where it is handled.

    ``urgent`` marks it (overdue, a red care level): the page shows ``note`` in red and
    never relies on colour alone, so ``note`` should say why (e.g. ``已超时``).
    """

    model_config = ConfigDict(frozen=True)

    label: str
    href: str | None = None
    note: str = ""
    urgent: bool = False


class WorkbenchPanel(BaseModel):
    """A box on the workbench: a title, up to a handful of items, and the full list's link.

    ``count`` is how many there are in all (the items may be the first few of them), shown
    with ``count_label`` (e.g. ``件待办``); ``empty`` is shown when there are no items.
    Lower ``order`` comes first. The panel is the plugin's to restrict: return ``None``
    for an actor who should not see it.
    """

    model_config = ConfigDict(frozen=True)

    title: str
    href: str | None = None
    count: int | None = None
    count_label: str = ""
    items: tuple[WorkbenchItem, ...] = ()
    empty: str = "暂无。"
    order: int = 100


def panel_entries(result: object) -> list[WorkbenchPanel]:
    """A ``workbench_panels`` result as panels; raises on anything but a list of panels."""
    if not isinstance(result, list | tuple):
        raise TypeError(f"workbench_panels must return a list, not {type(result).__name__}")
    return [WorkbenchPanel.model_validate(panel) for panel in result]
