"""What a plugin declares through the forms service: :class:`FormSpec` (一事一表)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel

from core.forms.fields import FormField, describe

SubjectKind = Literal["household", "person", "unit", "ticket"]
SUBJECT_LABELS: dict[str, str] = {
    "household": "户",
    "person": "人员",
    "unit": "单位",
    "ticket": "工单",
}


@dataclass(frozen=True)
class FormSpec:
    """A form a plugin declares in ``register_forms``: a pydantic model with Chinese titles.

    Each submission is stored as one record (``form_record``) attached to a *subject*: a
    household, a person, a unit or a ticket. The core renders the list, create and view
    pages from ``model`` and serves the JSON API under ``/api/v1/p/{plugin}/forms/{name}/``.

    ``model``'s fields carry ``Field(title="中文标题", description="说明")``; choices are
    ``Literal[...]`` or an ``Enum``; a field is required unless it has a default. Field
    types the pages can render: ``str``, ``int``, ``float``, ``bool``, ``date``,
    ``datetime``, ``Literal``/``Enum`` choices, ``list`` of choices (multi-select), and any
    of these ``| None``. Anything else takes the plugin out at start-up, naming the field.

    Raise ``version`` when the model changes: each record keeps the version it was written
    under, and records of an older version stay readable (a field they lack shows its
    default, or nothing).

    ``submit_permission`` and ``read_permission`` default to the core's ``archive.write``
    (grid workers and above) and ``archive.read``; name your plugin's own permissions (or
    ``ticket.create``, which residents hold) to let others submit or read.
    """

    name: str  # snake_case, unique within the plugin; part of the URL
    title: str  # Chinese, shown on the pages
    model: type[BaseModel]
    subject: SubjectKind = "unit"
    version: int = 1
    description: str = ""
    submit_permission: str = "archive.write"
    read_permission: str = "archive.read"

    @cached_property
    def fields(self) -> tuple[FormField, ...]:
        """The model's fields as the pages render them.

        :raises UnsupportedField: a field the pages cannot render (the catalog checks
            this at start-up).
        """
        return describe(self.model)

    @property
    def subject_label(self) -> str:
        """The subject kind in Chinese (户, 人员, 单位, 工单)."""
        return SUBJECT_LABELS.get(self.subject, self.subject)
