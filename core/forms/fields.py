"""A form model's fields as the pages render them, and the field types that are supported.

:func:`describe` turns each field of a pydantic model into a :class:`FormField` (input kind,
Chinese label and help text, required or not, choices, bounds) and refuses, naming the
field, any type the pages cannot render.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

Kind = Literal[
    "text", "textarea", "integer", "number", "boolean", "date", "datetime", "choice", "multichoice"
]
SCALARS: dict[type, Kind] = {
    bool: "boolean",  # before int: bool is an int
    int: "integer",
    float: "number",
    datetime: "datetime",  # before date: a datetime is a date
    date: "date",
    str: "text",
}
SUPPORTED = (
    "str, int, float, bool, date, datetime, Literal or Enum choices, "
    "list of Literal or Enum choices, or any of these | None"
)
RESERVED = frozenset({"subject", "csrf_token", "submission_key"})  # the create page's own inputs
SHORT_TEXT = 100  # a str with a larger max_length (or none) is a multi-line box


class UnsupportedField(ValueError):
    """A model field the forms service cannot render; the message names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field!r}: {reason}")
        self.field = field


@dataclass(frozen=True)
class FormField:
    """One input of a form: what the create page shows and how the view page shows a value."""

    name: str
    title: str
    description: str
    kind: Kind
    required: bool
    choices: tuple[tuple[Any, str], ...] = ()  # (value as stored in JSON, label)
    default: Any = None  # as JSON; ``None`` when there is none
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None

    def label_of(self, value: Any) -> str:
        """A stored (JSON) value as the view page shows it."""
        if value is None or value == "" or value == []:
            return "—"
        if self.kind == "boolean":
            return "是" if value else "否"
        if self.kind in ("choice", "multichoice"):
            labels = dict(self.choices)
            values = value if isinstance(value, list) else [value]
            return "、".join(labels.get(v, str(v)) for v in values)
        return str(value)

    def choice_value(self, submitted: str) -> Any:
        """The choice whose value, as text, is ``submitted`` (or ``submitted`` itself)."""
        for value, _ in self.choices:
            if str(value) == submitted:
                return value
        return submitted


def describe(model: type[BaseModel]) -> tuple[FormField, ...]:
    """The fields of ``model`` in declaration order.

    :raises UnsupportedField: a field without a title, with an alias, with a reserved name
        or of a type outside :data:`SUPPORTED`.
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"model must be a pydantic BaseModel class, not {model!r}")
    if not model.model_fields:
        raise TypeError(f"model {model.__name__} has no fields")
    return tuple(_describe_field(name, info) for name, info in model.model_fields.items())


def _describe_field(name: str, info: FieldInfo) -> FormField:
    if name in RESERVED:
        raise UnsupportedField(name, f"the name is reserved ({', '.join(sorted(RESERVED))})")
    if info.alias is not None and info.alias != name:
        raise UnsupportedField(name, "aliases are not supported")
    if not info.title:
        raise UnsupportedField(name, 'no title: declare Field(title="中文标题")')
    annotation = _without_none(name, info.annotation)
    kind, choices = _kind(name, annotation)
    max_length = _bound(info, annotated_types.MaxLen, "max_length")
    if kind == "text" and (max_length is None or max_length > SHORT_TEXT):
        kind = "textarea"
    required = info.is_required()
    default = None
    if not required:
        value = info.get_default(call_default_factory=True)
        default = None if value is PydanticUndefined else to_jsonable_python(value)
    return FormField(
        name=name,
        title=info.title,
        description=info.description or "",
        kind=kind,
        required=required,
        choices=choices,
        default=default,
        max_length=max_length,
        minimum=_bound(info, annotated_types.Ge, "ge"),
        maximum=_bound(info, annotated_types.Le, "le"),
    )


def _without_none(name: str, annotation: Any) -> Any:
    """``X | None`` → ``X``; other unions are refused."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) != 1:
            raise UnsupportedField(name, f"type {_show(annotation)} is not supported ({SUPPORTED})")
        return rest[0]
    return annotation


def _kind(name: str, annotation: Any) -> tuple[Kind, tuple[tuple[Any, str], ...]]:
    for scalar, kind in SCALARS.items():
        if annotation is scalar:
            return kind, ()
    choices = _choices(annotation)
    if choices is not None:
        return "choice", choices
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (None,)
        inner = _choices(item)
        if inner is not None:
            return "multichoice", inner
    raise UnsupportedField(name, f"type {_show(annotation)} is not supported ({SUPPORTED})")


def _choices(annotation: Any) -> tuple[tuple[Any, str], ...] | None:
    """``Literal`` values (their own labels) or ``Enum`` members (label: a ``label``
    attribute if the member has one, else the value); ``None`` for anything else."""
    if typing.get_origin(annotation) is Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            return tuple((v, str(v)) for v in values)
        return None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = list(annotation)
        if members and all(isinstance(m.value, str | int) for m in members):
            return tuple((m.value, str(getattr(m, "label", m.value))) for m in members)
    return None


def _bound(info: FieldInfo, kind: type, attribute: str) -> Any:
    for item in info.metadata:
        if isinstance(item, kind):
            return getattr(item, attribute)
    return None


def _show(annotation: Any) -> str:
    if typing.get_args(annotation) or not hasattr(annotation, "__name__"):
        return str(annotation).replace("typing.", "")
    return annotation.__name__
