"""The forms every loaded plugin declared (``register_forms``), checked at start-up."""

from __future__ import annotations

import re

from core.forms.fields import UnsupportedField
from core.forms.spec import SUBJECT_LABELS, FormSpec
from core.forms.subjects import SubjectResolvers
from core.identity.access import AccessCatalog
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class FormError(ValueError):
    """A bad form declaration; the message names the plugin, the form and the reason."""


class FormCatalog:
    """Declarations of ``register_forms``, collected once when the kernel is built, and the
    subject resolvers records are checked with."""

    def __init__(self, by_plugin: dict[str, list[FormSpec]]) -> None:
        self.by_plugin = by_plugin
        self._by_name = {
            (plugin, spec.name): spec for plugin, specs in by_plugin.items() for spec in specs
        }
        self.subjects = SubjectResolvers()

    @classmethod
    def build(cls, registry: PluginRegistry, access: AccessCatalog) -> FormCatalog:
        """Collect every plugin's forms; a plugin with a bad one is taken out, with the reason.

        :param access: the installation's permissions: a form's permissions must exist there.
        """
        return cls(collect(registry, "register_forms", FormSpec, FormCheck(access)))

    def get(self, plugin: str, form: str) -> FormSpec | None:
        """The form ``form`` of ``plugin``, or ``None``."""
        return self._by_name.get((plugin, form))

    def of(self, plugin: str) -> list[FormSpec]:
        """The forms ``plugin`` declared, in its order."""
        return list(self.by_plugin.get(plugin, ()))


class FormCheck:
    """``collect``'s check: each form's name, title, subject, version, permissions and fields."""

    def __init__(self, access: AccessCatalog) -> None:
        self.access = access

    def __call__(self, plugin: str, specs: list[FormSpec]) -> None:
        seen: set[str] = set()
        for spec in specs:
            where = f"plugin {plugin!r} form {spec.name!r}"
            if not isinstance(spec.name, str) or not NAME_RE.match(spec.name):
                raise FormError(f"{where}: the name must be snake_case (a-z, 0-9, _), ≤ 63 chars")
            if spec.name in seen:
                raise FormError(f"{where}: declared twice")
            seen.add(spec.name)
            if not isinstance(spec.title, str) or not spec.title.strip():
                raise FormError(f"{where}: a Chinese title is required")
            if spec.subject not in SUBJECT_LABELS:
                raise FormError(
                    f"{where}: subject {spec.subject!r} is not one of {', '.join(SUBJECT_LABELS)}"
                )
            if type(spec.version) is not int or spec.version < 1:
                raise FormError(f"{where}: version must be an integer ≥ 1, not {spec.version!r}")
            for permission in (spec.submit_permission, spec.read_permission):
                self._check_permission(plugin, where, permission)
            try:
                spec.fields  # noqa: B018  (describes the model, raising on what cannot render)
            except UnsupportedField as exc:
                raise FormError(f"{where} {exc}") from None
            except TypeError as exc:
                raise FormError(f"{where}: {exc}") from None

    def _check_permission(self, plugin: str, where: str, permission: str) -> None:
        if permission not in self.access.permissions:
            raise FormError(f"{where}: unknown permission {permission!r}")
