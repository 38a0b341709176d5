"""Extension fields (扩展字段): plugins add validated fields to archive persons and households.

A plugin declares :class:`ArchiveField` s in ``register_archive_fields``. Their values live
in the record's ``extra`` column (JSON), namespaced by plugin: ``{"tea_house": {"seat":
"东桌"}}``. Writes go through :meth:`Extensions.merge` (validation against the declarations
of the plugins enabled in the record's township, a merge per plugin, ``null`` removing a
field); reads through :meth:`Extensions.shown` (only the namespaces of plugins enabled in
the record's township, only declared fields).

The field kinds are the forms service's (:mod:`core.forms.fields`): each field is
described as a :class:`core.forms.fields.FormField` (so a value is shown as a form's value
is), validated by a pydantic model built from the declarations, with the forms' Chinese
error messages. There is no second type system to learn: ``text``, ``integer``,
``number``, ``boolean``, ``date`` and ``choice`` behave as the matching form fields do.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal
from weakref import WeakKeyDictionary

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model
from pydantic import ValidationError as PydanticValidationError

from core.forms.fields import FormField
from core.forms.service import message
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry
from core.web.inputs import no_nul

if TYPE_CHECKING:
    from core.kernel import Kernel

AppliesTo = Literal["person", "household"]
Kind = Literal["text", "integer", "number", "boolean", "date", "choice"]
APPLIES_TO: dict[str, str] = {"person": "人员", "household": "户"}
KINDS: tuple[str, ...] = ("text", "integer", "number", "boolean", "date", "choice")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TEXT_LENGTH = 200  # a text field's limit when it declares none
MAX_TEXT_LENGTH = 2000
JSON_INT = 2**53 - 1  # integers beyond this lose precision in JavaScript clients
UNKNOWN_FIELD = "没有此扩展字段 / no such extension field"
OFF_HERE = "该插件未在本乡镇启用 / the plugin is not enabled in this township"
UNKNOWN_PLUGIN = "没有声明扩展字段的此插件 / no plugin declares extension fields by this name"


@dataclass(frozen=True)
class ArchiveField:
    """An extra field a plugin adds to archive persons or households (``register_archive_fields``).

    :param applies_to: ``"person"`` or ``"household"``.
    :param name: snake_case, unique within the plugin for that record kind; the key of the
        value in ``extra[plugin]``.
    :param title: the Chinese label shown on the household file.
    :param kind: ``text`` (stripped, at most ``max_length`` characters, 200 when not
        given), ``integer``, ``number``, ``boolean`` (是/否), ``date`` (``YYYY-MM-DD``)
        or ``choice`` (one of ``choices``).
    :param choices: the allowed values of a ``choice`` field, each shown as it is.
    :param required: once the plugin's values are written on a record, this one must be
        among them (a record the plugin never wrote to has none of its values).
    :param max_length: a ``text`` field's limit (1–2000 characters).
    :param minimum: the smallest value of an ``integer`` or ``number`` field.
    :param maximum: the largest value of an ``integer`` or ``number`` field.
    :param help: a Chinese hint for whoever fills it in.

    Values are ordinary personal information, shown unmasked to whoever may read the
    record: do not declare sensitive data (health, welfare, ID numbers) as extension fields.
    """

    applies_to: AppliesTo
    name: str
    title: str
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    required: bool = False
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def form_field(self) -> FormField:
        """The field as the forms service describes one (kind, label, choices, bounds)."""
        return FormField(
            name=self.name,
            title=self.title,
            description=self.help,
            kind=self.kind,
            required=self.required,
            choices=tuple((c, c) for c in self.choices),
            max_length=self.limit if self.kind == "text" else None,
            minimum=self.minimum,
            maximum=self.maximum,
        )

    @property
    def limit(self) -> int:
        """A ``text`` field's maximum length."""
        return self.max_length if self.max_length is not None else TEXT_LENGTH

    def annotation(self) -> Any:
        """The pydantic type that validates a value of this field."""
        if self.kind == "text":
            constraints = StringConstraints(
                strip_whitespace=True, min_length=1, max_length=self.limit
            )
            return Annotated[str, constraints, AfterValidator(no_nul)]
        if self.kind == "integer":
            low = -JSON_INT if self.minimum is None else self.minimum
            high = JSON_INT if self.maximum is None else self.maximum
            return Annotated[int, Field(ge=low, le=high)]
        if self.kind == "number":
            return Annotated[float, Field(ge=self.minimum, le=self.maximum, allow_inf_nan=False)]
        if self.kind == "boolean":
            return bool
        if self.kind == "date":
            return date
        return Literal[self.choices]  # type: ignore[valid-type]


class ArchiveFieldError(ValueError):
    """A bad extension-field declaration; the message names the plugin, the field and why."""


def check_fields(plugin: str, fields: list[ArchiveField]) -> None:
    """``collect``'s check of one plugin's declarations.

    :raises ArchiveFieldError: a bad record kind, name, title, kind, choices or bound, or a
        name declared twice for one record kind.
    """
    seen: set[tuple[str, str]] = set()
    for field in fields:
        where = f"plugin {plugin!r} field {field.applies_to}.{field.name}"
        if field.applies_to not in APPLIES_TO:
            raise ArchiveFieldError(f"{where}: applies_to must be 'person' or 'household'")
        if not isinstance(field.name, str) or not NAME_RE.match(field.name):
            raise ArchiveFieldError(f"{where}: the name must be snake_case (a-z, 0-9, _), ≤ 63")
        if (field.applies_to, field.name) in seen:
            raise ArchiveFieldError(f"{where}: declared twice")
        seen.add((field.applies_to, field.name))
        if not isinstance(field.title, str) or not field.title.strip():
            raise ArchiveFieldError(f"{where}: a Chinese title is required")
        if field.kind not in KINDS:
            raise ArchiveFieldError(
                f"{where}: kind {field.kind!r} is not one of {', '.join(KINDS)}"
            )
        _check_options(where, field)


def _check_options(where: str, field: ArchiveField) -> None:
    choices = field.choices
    if field.kind == "choice":
        if not isinstance(choices, tuple) or not choices:
            raise ArchiveFieldError(f"{where}: a choice field needs a tuple of choices")
        if not all(isinstance(c, str) and c.strip() for c in choices):
            raise ArchiveFieldError(f"{where}: each choice must be non-empty text")
        if len(set(choices)) != len(choices):
            raise ArchiveFieldError(f"{where}: a choice is listed twice")
    elif choices:
        raise ArchiveFieldError(f"{where}: only a choice field has choices")
    if field.max_length is not None and (
        field.kind != "text"
        or type(field.max_length) is not int
        or not 1 <= field.max_length <= MAX_TEXT_LENGTH
    ):
        raise ArchiveFieldError(
            f"{where}: max_length is for text fields, from 1 to {MAX_TEXT_LENGTH}"
        )
    bounds = [b for b in (field.minimum, field.maximum) if b is not None]
    if bounds and field.kind not in ("integer", "number"):
        raise ArchiveFieldError(f"{where}: minimum and maximum are for integer or number fields")
    if not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds):
        raise ArchiveFieldError(f"{where}: minimum and maximum must be numbers")
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise ArchiveFieldError(f"{where}: minimum is above maximum")
    if not isinstance(field.required, bool) or not isinstance(field.help, str):
        raise ArchiveFieldError(f"{where}: required must be a bool and help text")


class ArchiveFieldCatalog:
    """Every loaded plugin's extension fields, checked once, with one validating model per
    plugin and record kind."""

    def __init__(self, by_plugin: dict[str, list[ArchiveField]]) -> None:
        self.by_plugin = by_plugin
        self._fields: dict[tuple[str, str], dict[str, ArchiveField]] = {}
        self._models: dict[tuple[str, str], type[BaseModel]] = {}
        for plugin, fields in by_plugin.items():
            for kind in APPLIES_TO:
                declared = {f.name: f for f in fields if f.applies_to == kind}
                if declared:
                    self._fields[plugin, kind] = declared
                    self._models[plugin, kind] = _model(plugin, kind, declared.values())

    @classmethod
    def build(cls, registry: PluginRegistry) -> ArchiveFieldCatalog:
        """Collect ``register_archive_fields``; a plugin with a bad declaration is taken out,
        with the reason."""
        return cls(collect(registry, "register_archive_fields", ArchiveField, check_fields))

    def fields(self, plugin: str, applies_to: str) -> dict[str, ArchiveField]:
        """The fields ``plugin`` adds to ``applies_to`` records, by name, in declaration order."""
        return self._fields.get((plugin, applies_to), {})

    def plugins(self, applies_to: str) -> list[str]:
        """The plugins that add fields to ``applies_to`` records, in dependency order."""
        return [p for p in self.by_plugin if (p, applies_to) in self._fields]

    def model(self, plugin: str, applies_to: str) -> type[BaseModel]:
        """The pydantic model validating ``plugin``'s values on ``applies_to`` records."""
        return self._models[plugin, applies_to]


def _model(plugin: str, kind: str, fields: Iterable[ArchiveField]) -> type[BaseModel]:
    definitions: dict[str, Any] = {
        f.name: (f.annotation(), ...) if f.required else (f.annotation() | None, None)
        for f in fields
    }
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{plugin}_{kind}_extra", __config__=ConfigDict(extra="forbid"), **definitions
    )


Loc = tuple[str, ...]


class Extensions:
    """The catalog bound to a kernel: which plugins are on at a record's unit decides what is
    written and shown."""

    def __init__(self, catalog: ArchiveFieldCatalog, kernel: Kernel) -> None:
        self.catalog = catalog
        self.kernel = kernel

    def _enabled(self, unit_code: str) -> frozenset[str]:
        return self.kernel.scope(unit_code).enabled

    def merge(
        self,
        applies_to: AppliesTo,
        unit_code: str,
        stored: dict[str, Any],
        given: dict[str, dict[str, Any]] | None,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Merge ``given`` (``{plugin: {field: value or None}}``) into ``stored``, plugin by
        plugin: a value replaces the field's, ``None`` removes it, other fields stay.

        Each plugin written to must be enabled in the township of ``unit_code`` and declare
        the fields given; its merged values are validated together (required fields
        included). Values of fields a plugin no longer declares are kept as they are.

        :return: the new ``extra``, and the written plugins' values before and after (for
            the audit log).
        :raises RequestValidationError: 422, each error at ``body.extra.<plugin>.<field>``.
        """
        if not given:
            return stored, {}, {}
        enabled = self._enabled(unit_code)
        merged = dict(stored)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        errors: list[tuple[Loc, str]] = []
        for plugin, values in given.items():
            declared = self.catalog.fields(plugin, applies_to)
            if not declared or plugin not in enabled:
                reason = OFF_HERE if declared else UNKNOWN_PLUGIN
                errors += [((plugin, name), reason) for name in values] or [((plugin,), reason)]
                continue
            errors += [((plugin, n), UNKNOWN_FIELD) for n in values if n not in declared]
            current = dict(stored.get(plugin) or {})
            for name, value in values.items():
                if name in declared and value is None:
                    current.pop(name, None)
                elif name in declared:
                    current[name] = value
            checked = self._validate(plugin, applies_to, current, declared, errors)
            if checked is None:
                continue
            kept = {k: v for k, v in current.items() if k not in declared}
            before[plugin] = stored.get(plugin) or {}
            after[plugin] = checked | kept
            if after[plugin]:
                merged[plugin] = after[plugin]
            else:
                merged.pop(plugin, None)
        if errors:
            raise RequestValidationError(
                [
                    {"loc": ("body", "extra", *loc), "msg": msg, "type": "value_error"}
                    for loc, msg in errors
                ]
            )
        return merged, before, after

    def _validate(
        self,
        plugin: str,
        applies_to: str,
        values: dict[str, Any],
        declared: dict[str, ArchiveField],
        errors: list[tuple[Loc, str]],
    ) -> dict[str, Any] | None:
        """The declared ``values`` of ``plugin`` validated, as JSON; ``None`` (and ``errors``
        extended, naming each field) when any is bad."""
        model = self.catalog.model(plugin, applies_to)
        try:
            valid = model.model_validate({k: v for k, v in values.items() if k in declared})
        except PydanticValidationError as exc:
            errors += [((plugin, *map(str, e["loc"])), message(e)) for e in exc.errors()]
            return None
        return valid.model_dump(mode="json", exclude_none=True)

    def shown(self, applies_to: str, unit_code: str, stored: dict[str, Any]) -> dict[str, Any]:
        """``stored`` as the API shows it: only plugins enabled in the township of
        ``unit_code``, only the fields they declare."""
        enabled = self._enabled(unit_code)
        shown: dict[str, Any] = {}
        for plugin, values in stored.items():
            declared = self.catalog.fields(plugin, applies_to)
            if plugin in enabled and declared and isinstance(values, dict):
                kept = {k: v for k, v in values.items() if k in declared}
                if kept:
                    shown[plugin] = kept
        return shown

    def labelled(
        self, applies_to: str, unit_code: str, stored: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """What the household file shows: for each plugin enabled in the township of
        ``unit_code`` that adds fields to ``applies_to`` records, its title and every field
        with its Chinese title and value as text ("—" when empty)."""
        enabled = self._enabled(unit_code)
        registry = self.kernel.registry
        groups = []
        for plugin in self.catalog.plugins(applies_to):
            if plugin not in enabled:
                continue
            values = stored.get(plugin) or {}
            info = registry.info(plugin)
            groups.append(
                {
                    "plugin": plugin,
                    "title": info.title if info else plugin,
                    "fields": [
                        {
                            "name": name,
                            "title": field.title,
                            "value": values.get(name),
                            "text": field.form_field().label_of(values.get(name)),
                        }
                        for name, field in self.catalog.fields(plugin, applies_to).items()
                    ],
                }
            )
        return groups


_CATALOGS: WeakKeyDictionary[Kernel, ArchiveFieldCatalog] = WeakKeyDictionary()
_BUILDING = threading.Lock()


def extensions_of(kernel: Kernel) -> Extensions:
    """The kernel's extension fields, collected on first use.

    The archives plugin's ``startup`` asks first, so a plugin with a bad declaration is
    taken out when the application starts serving (a kernel that never serves, such as a
    CLI command's, collects them when it first needs them).
    """
    catalog = _CATALOGS.get(kernel)
    if catalog is None:
        with _BUILDING:
            catalog = _CATALOGS.get(kernel)
            if catalog is None:
                catalog = _CATALOGS[kernel] = ArchiveFieldCatalog.build(kernel.registry)
    return Extensions(catalog, kernel)
