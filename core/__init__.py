"""Sanmin core: the one import surface for plugin authors.

Everything a plugin needs comes from here::

    from core import hookimpl, PluginManifest, MenuLink, Unit
"""

from core.db.engine import get_session, make_engine
from core.db.migration_env import run_migrations_env
from core.db.types import UTCDateTime, utcnow
from core.hookspecs import hookimpl, hookspec
from core.identity.access import Actor, Permission, Role, scope_clause
from core.kernel import Kernel, Scope
from core.plugins.errors import PluginDisabled, PluginHookError, StartupError
from core.plugins.manifest import PluginManifest
from core.plugins.toggles import PluginState, ScopeUnit
from core.settings import Settings
from core.units.codes import Level, UnitCodeError, parse_code
from core.units.models import Unit
from core.units.service import UnitNotFound, get_unit, in_subtree, list_units
from core.version import __version__
from core.web.menu import MenuLink
from core.web.render import page_link, render
from core.web.scope import current_scope

__all__ = [
    "Actor",
    "Kernel",
    "Level",
    "MenuLink",
    "Permission",
    "PluginDisabled",
    "PluginHookError",
    "PluginManifest",
    "PluginState",
    "Role",
    "Scope",
    "ScopeUnit",
    "Settings",
    "StartupError",
    "UTCDateTime",
    "Unit",
    "UnitCodeError",
    "UnitNotFound",
    "__version__",
    "current_scope",
    "get_session",
    "get_unit",
    "hookimpl",
    "hookspec",
    "in_subtree",
    "list_units",
    "make_engine",
    "page_link",
    "parse_code",
    "render",
    "run_migrations_env",
    "scope_clause",
    "utcnow",
]

from core.web.app import create_app

__all__ += ["create_app"]
