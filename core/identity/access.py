"""Roles, permissions, actors and the one helper that puts scope into every query.

A role is held *at a unit* and reaches the unit's subtree. A permission is
granted by roles. Deny by default: an actor may do something at a unit only
if one of its roles, held at that unit or above, grants the permission —
unless a plugin's ``permission_allowed`` says otherwise (see :func:`combine`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import ColumnElement, and_, bindparam, false, or_

from core.plugins.calling import call_impl
from core.plugins.registry import PluginRegistry
from core.units.codes import Level, parse_code, path_upper_bound

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class Permission:
    """A named permission, e.g. ``archive.read``. Plugins prefix theirs with their name."""

    name: str
    title: str
    sensitive: bool = False  # reads under it are audited
    granted_to: tuple[str, ...] = ()  # roles that hold it by default


@dataclass(frozen=True)
class Role:
    """A role and the unit levels it may be assigned at."""

    name: str
    title: str
    levels: frozenset[Level]
    permissions: frozenset[str] = frozenset()


ALL_LEVELS = frozenset(Level)
LOCAL = frozenset({Level.township, Level.village, Level.grid})

CORE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("units.read", "查看行政区划"),
    Permission("plugins.read", "查看插件状态"),
    Permission("plugins.toggle", "启用或停用插件"),
    Permission("accounts.read", "查看账号"),
    Permission("accounts.manage", "管理账号与角色"),
    Permission("audit.read", "查询审计日志"),
    Permission("archive.read", "查看民情档案"),
    Permission("archive.read_sensitive", "查看档案敏感信息", sensitive=True),
    Permission("archive.write", "维护民情档案"),
    Permission("ticket.create", "提交诉求"),
    Permission("ticket.read", "查看工单"),
    Permission("ticket.handle", "办理工单"),
    Permission("ticket.dispatch", "派单与督办"),
    Permission("ticket.read_reporter", "查看诉求人联系方式（回访）", sensitive=True),
)

_STAFF = frozenset(
    {
        "units.read",
        "archive.read",
        "archive.write",
        "ticket.create",
        "ticket.read",
        "ticket.handle",
        "ticket.read_reporter",  # handlers call the reporter back (回访)
    }
)
_CADRE = _STAFF | {"archive.read_sensitive", "ticket.dispatch", "accounts.read", "plugins.read"}
_ADMIN = _CADRE | {"accounts.manage", "plugins.toggle", "audit.read"}

CORE_ROLES: tuple[Role, ...] = (
    Role(
        "resident",
        "居民",
        ALL_LEVELS - {Level.province, Level.city, Level.county},
        frozenset({"ticket.create"}),
    ),
    Role("volunteer", "志愿者", LOCAL, frozenset({"units.read"})),
    Role("party_member", "党员", LOCAL, frozenset({"units.read"})),
    Role("grid_worker", "网格员", frozenset({Level.village, Level.grid}), _STAFF),
    Role("village_cadre", "村社干部", frozenset({Level.village}), _CADRE),
    Role("township_admin", "乡镇街道管理员", frozenset({Level.township}), _ADMIN),
    Role("county_admin", "县区管理员", frozenset({Level.county}), _ADMIN),
    Role("city_admin", "市级管理员", frozenset({Level.city}), _ADMIN),
    Role(
        "system_admin",
        "系统管理员",
        frozenset({Level.province, Level.city}),
        frozenset(p.name for p in CORE_PERMISSIONS),
    ),
    Role(
        "integrator",
        "对接系统",
        ALL_LEVELS - {Level.grid},
        frozenset({"units.read", "ticket.create", "ticket.read"}),
    ),
)


class AccessError(ValueError):
    """A bad role or permission declaration, or a role at the wrong level."""


@dataclass
class AccessCatalog:
    """Every role and permission, core's and the plugins', and which role grants what."""

    roles: dict[str, Role] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)

    @classmethod
    def core(cls) -> AccessCatalog:
        catalog = cls()
        for permission in CORE_PERMISSIONS:
            catalog.permissions[permission.name] = permission
        for role in CORE_ROLES:
            catalog.roles[role.name] = role
        return catalog

    def copy(self) -> AccessCatalog:
        return AccessCatalog(dict(self.roles), dict(self.permissions))

    def add(self, plugin: str, items: Iterable[object]) -> None:
        """Add one plugin's roles and permissions; names must carry the plugin's prefix.

        Roles first, then permissions (whose ``granted_to`` may name the new roles), then
        every new role's permissions are checked to exist.
        """
        items = list(items)
        new_roles = [i for i in items if isinstance(i, Role)]
        new_permissions = [i for i in items if isinstance(i, Permission)]
        for item in items:
            if not isinstance(item, Role | Permission):
                raise AccessError(f"expected Permission or Role, got {type(item).__name__}")
        for role in new_roles:
            if not ROLE_RE.match(role.name) or not role.name.startswith(f"{plugin}_"):
                raise AccessError(f"role {role.name!r} must be named '{plugin}_…'")
            if role.name in self.roles:
                raise AccessError(f"duplicate role {role.name!r}")
            self.roles[role.name] = role
        for permission in new_permissions:
            name = permission.name
            if not NAME_RE.match(name) or not name.startswith(f"{plugin}."):
                raise AccessError(f"permission {name!r} must be named '{plugin}.…'")
            if name in self.permissions:
                raise AccessError(f"duplicate permission {name!r}")
            unknown = [r for r in permission.granted_to if r not in self.roles]
            if unknown:
                raise AccessError(f"permission {name!r} granted to unknown role(s) {unknown}")
            self.permissions[name] = permission
            for role_name in permission.granted_to:
                role = self.roles[role_name]
                self.roles[role_name] = Role(
                    role.name, role.title, role.levels, role.permissions | {name}
                )
        for role in new_roles:
            unknown = [p for p in role.permissions if p not in self.permissions]
            if unknown:
                raise AccessError(f"role {role.name!r} has unknown permission(s) {unknown}")

    def grants(self, role: str, permission: str) -> bool:
        found = self.roles.get(role)
        return found is not None and permission in found.permissions

    def check_assignable(self, role: str, unit_code: str) -> None:
        """Raise :class:`AccessError` unless ``role`` exists and may be held at that level."""
        found = self.roles.get(role)
        if found is None:
            raise AccessError(
                f"角色 {role!r} 不存在 / unknown role (known: {', '.join(sorted(self.roles))})"
            )
        level = parse_code(unit_code).level
        if level not in found.levels:
            allowed = "、".join(lv.label for lv in sorted(found.levels, key=lambda lv: lv.depth))
            raise AccessError(
                f"角色 {found.title} 只能设在{allowed} / role {role!r} cannot be "
                f"held at a {level.value}"
            )


@dataclass(frozen=True)
class RoleAt:
    """One role an actor holds, at one unit (``path`` is the unit's prefix)."""

    role: str
    unit_code: str
    path: str


@dataclass(frozen=True)
class Actor:
    """Who is making a request: an account or an API key, with its roles."""

    kind: Literal["account", "api_key", "system"]  # system: the deadline sweeper
    id: int
    name: str
    roles: tuple[RoleAt, ...]
    person_id: int | None = None
    display_name: str = ""

    @property
    def label(self) -> str:
        """How the audit log names this actor."""
        return f"{self.kind}:{self.name}"

    @property
    def home_unit(self) -> str | None:
        """The unit of the actor's first role: where its pages open by default."""
        return self.roles[0].unit_code if self.roles else None

    def paths_with(self, catalog: AccessCatalog, permission: str) -> list[str]:
        """Paths of the units at which a role grants ``permission`` (outermost only)."""
        paths = sorted({r.path for r in self.roles if catalog.grants(r.role, permission)})
        return [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]

    def covers(self, unit_code: str) -> bool:
        """Whether ``unit_code`` lies under (or at) any unit where the actor holds a role."""
        return any(unit_code.startswith(r.path) for r in self.roles)

    def near(self, unit_code: str) -> bool:
        """Whether ``unit_code`` is within the actor's units or above one of them (the
        township of a grid worker, say): what its pages may show as context."""
        path = parse_code(unit_code).path
        return any(unit_code.startswith(r.path) or r.path.startswith(path) for r in self.roles)

    def role_allows(self, catalog: AccessCatalog, permission: str, unit_code: str) -> bool:
        """The role map's answer, ignoring plugins."""
        return any(unit_code.startswith(p) for p in self.paths_with(catalog, permission))


def role_at(role: str, unit_code: str) -> RoleAt:
    return RoleAt(role, unit_code, parse_code(unit_code).path)


def scope_clause(
    actor: Actor, catalog: AccessCatalog, permission: str, unit_column: ColumnElement[str]
) -> ColumnElement[bool]:
    """SQL condition: the row's unit lies where ``actor`` holds ``permission``.

    ``unit_column`` holds unit codes (any level). A subtree is a code range: every
    code below a unit starts with that unit's path, so no join is needed and an
    index on the column serves it. An actor without the permission anywhere gets
    ``false()``: nothing is loaded. Use it in every list and detail query.
    """
    ranges = [
        and_(unit_column >= path, unit_column < path_upper_bound(path))
        for path in actor.paths_with(catalog, permission)
    ]
    if not ranges:
        return false()
    return ranges[0] if len(ranges) == 1 else or_(*ranges)


def scope_ranges(actor: Actor, catalog: AccessCatalog, permission: str) -> list[tuple[str, str]]:
    """The unit-code ranges ``[low, high)`` where ``actor`` holds ``permission``: the values of
    :func:`scope_clause`, for a statement built once with :func:`bound_scope_clause`."""
    return [(path, path_upper_bound(path)) for path in actor.paths_with(catalog, permission)]


def bound_scope_clause(
    unit_column: ColumnElement[str], count: int, name: str = "scope"
) -> ColumnElement[bool]:
    """:func:`scope_clause` with its ``count`` ranges as bound parameters (``scope_low_0``,
    ``scope_high_0``, …; values from :func:`scope_parameters`). ``name`` changes the
    parameters' prefix, for a statement with ranges of two permissions.

    For hot paths: a statement using it can be built once per ``count`` and reused, and
    building a statement costs more than running an indexed read (docs/benchmarks.md).
    ``count`` 0 is ``false()``, as for an actor without the permission.
    """
    ranges = [
        and_(
            unit_column >= bindparam(f"{name}_low_{i}"), unit_column < bindparam(f"{name}_high_{i}")
        )
        for i in range(count)
    ]
    if not ranges:
        return false()
    return ranges[0] if count == 1 else or_(*ranges)


def scope_parameters(ranges: list[tuple[str, str]], name: str = "scope") -> dict[str, str]:
    """Bound values for :func:`bound_scope_clause` (of the same ``name``) from
    :func:`scope_ranges`."""
    values: dict[str, str] = {}
    for i, (low, high) in enumerate(ranges):
        values[f"{name}_low_{i}"], values[f"{name}_high_{i}"] = low, high
    return values


def combine(answers: Iterable[bool | None], role_answer: bool) -> bool:
    """The one rule for plugins' ``permission_allowed`` answers.

    Any ``False`` denies; otherwise any ``True`` allows; otherwise the role map decides
    (which denies by default).
    """
    answers = list(answers)
    if any(answer is False for answer in answers):
        return False
    if any(answer is True for answer in answers):
        return True
    return role_answer


def build_catalog(registry: PluginRegistry) -> AccessCatalog:
    """Core's roles and permissions plus every plugin's, each plugin all or nothing.

    A plugin whose declarations are invalid is taken out of the registry with the reason,
    like any other declaration failure; the others start.
    """
    catalog = AccessCatalog.core()
    for name in registry.dependency_order():
        plugin = registry.pm.get_plugin(name)
        items: list[object] = []
        try:
            for hook in ("register_roles", "register_permissions"):
                for impl in getattr(registry.pm.hook, hook).get_hookimpls():
                    if impl.plugin is plugin:
                        items.extend(call_impl(impl, {}) or [])
            trial = catalog.copy()
            trial.add(name, items)
        except Exception as exc:
            registry.reject(name, f"bad roles or permissions: {exc}")
            continue
        catalog = trial
    return catalog
