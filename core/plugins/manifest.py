"""The manifest every plugin declares as ``PLUGIN = PluginManifest(...)``."""

from __future__ import annotations

import keyword
import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, field_validator

PLUGIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Names that would clash with core URLs, template folders or table prefixes.
RESERVED_NAMES = frozenset({"core", "api", "admin", "static", "plugins", "unit", "audit", "config"})


def plugin_name_problem(name: str) -> str | None:
    """Say what is wrong with ``name`` as a plugin name, or ``None`` when it is fine."""
    if not PLUGIN_NAME_RE.match(name):
        return (
            f"plugin name {name!r} must be snake_case: a lowercase letter, then 1–39 "
            "lowercase letters, digits or underscores"
        )
    if keyword.iskeyword(name):
        return f"plugin name {name!r} is a Python keyword"
    if name in RESERVED_NAMES:
        return f"plugin name {name!r} is reserved by the core"
    return None


class PluginManifest(BaseModel):
    """What a plugin says about itself; validated when the plugin loads.

    ``name`` must equal the entry-point name; it is also the prefix of the
    plugin's tables, URLs and template folder.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str = Field(min_length=1, description="Chinese title shown to users, e.g. 敲门嫂")
    version: str
    description: str = ""
    author: str = ""
    requires_core: str = Field(
        default=">=0.1", description="PEP 440 specifier of the core versions supported"
    )
    depends_on: tuple[str, ...] = ()
    default_enabled: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = plugin_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion as exc:
            raise ValueError(f"version {value!r} is not a PEP 440 version") from exc
        return value

    @field_validator("requires_core")
    @classmethod
    def _requires_core(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier as exc:
            raise ValueError(f"requires_core {value!r} is not a PEP 440 specifier") from exc
        return value

    def supports_core(self, core_version: str) -> bool:
        """Whether this plugin declares support for ``core_version``."""
        return SpecifierSet(self.requires_core).contains(core_version, prereleases=True)
