"""Every extension point of Sanmin, with its contract.

Hooks are grouped by *scope*, and class membership is how the scope is encoded
(pluggy has no custom spec options):

* :class:`InstallationSpecs` are declarations. They are called once, at start-up,
  over **every installed** plugin that loaded cleanly, whatever its township
  settings, so that routes, templates and tables exist for all of them. The
  kernel calls each implementation on its own and attributes the result to the
  plugin that returned it.
* :class:`TownshipSpecs` are contributions made at run time. They are only ever
  called through ``kernel.hooks_for(township)``, which runs the implementations
  of the always-on core plugins and of the plugins enabled in that township and
  never those of a plugin disabled there. Calling one of them on the plain
  ``pm.hook`` is a bug.

Rules that hold for every hook: call with keyword arguments only and pass every
argument of the spec; no ``historic`` hooks in :class:`TownshipSpecs`; no
``firstresult`` on a hook that may return an awaitable. Where a hook "may return
an awaitable", the kernel resolves the result with ``await_me_maybe``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import APIRouter, Request

    from core.identity.access import Actor, Permission, Role
    from core.kernel import Kernel
    from core.plugins.toggles import ScopeUnit
    from core.web.menu import MenuLink

PROJECT = "sanmin"
hookspec = HookspecMarker(PROJECT)
hookimpl = HookimplMarker(PROJECT)


class InstallationSpecs:
    """Declarations, called once at start-up over every installed plugin."""

    @hookspec
    def register_api_routes(self) -> APIRouter | None:
        """Return the plugin's JSON API router, or ``None``.

        The router is mounted under ``/api/v1/p/{plugin}/`` and tagged with the
        plugin's name in ``/openapi.json``. Every route on it gets a dependency
        that resolves the request's township (from a ``unit_code`` path
        parameter, a ``unit`` query parameter or an ``X-Sanmin-Unit`` header)
        and answers 404 with a JSON message naming the plugin and the township
        when the plugin is not enabled there. Always-on core plugins mount
        under ``/api/v1/`` instead and are never switched off.

        :return: a :class:`fastapi.APIRouter` or ``None``. Not an awaitable.

        Township scope: none. Called for every installed plugin, including
        those disabled everywhere; the township check happens per request.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_page_routes(self) -> APIRouter | None:
        """Return the plugin's HTML page router, or ``None``.

        Mounted under ``/p/{plugin}/`` with the same township dependency as
        :meth:`register_api_routes`; when the plugin is disabled in the
        request's township the browser gets a 404 page naming the plugin and
        the township. Handlers render with ``request.app.state.kernel.templates``
        and usually extend ``core/base.html``. Always-on core plugins mount at
        ``/``.

        :return: a :class:`fastapi.APIRouter` or ``None``. Not an awaitable.

        Township scope: none (see :meth:`register_api_routes`).

        .. versionadded:: 0.1
        """

    @hookspec
    def register_templates(self) -> Path | str | None:
        """Return the folder that holds the plugin's Jinja2 templates, or ``None``.

        A template ``index.html`` in that folder is reachable as
        ``"{plugin}/index.html"``. Plugins cannot override core templates:
        such an override would apply in every township at once. Extend
        ``core/base.html`` and contribute through hooks instead.

        :return: a path to an existing directory, or ``None``. A path that is
            not a directory makes the plugin fail at start-up with that reason.

        Township scope: none.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_static(self) -> Path | str | None:
        """Return the folder of the plugin's static files, or ``None``.

        Served at ``/static/plugins/{plugin}/``. In templates, use
        ``static_url("{plugin}", "file.css")``.

        :return: a path to an existing directory, or ``None``. A path that is
            not a directory makes the plugin fail at start-up with that reason.

        Township scope: none. Static files are public and not township-scoped.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_permissions(self) -> list[Permission] | None:
        """Return the permissions this plugin adds, or ``None``.

        Each :class:`core.Permission` is named ``{plugin}.{action}`` (for example
        ``knock_door.visit``); ``granted_to`` names the roles (core's, this
        plugin's, or those of plugins it depends on) that hold it. Mark
        ``sensitive=True`` when reads under it must be audited.

        :return: a list of :class:`core.Permission`. A bad name, a duplicate or an
            unknown role takes the plugin out at start-up, with that reason.

        Township scope: none. Roles and permissions exist installation-wide;
        whether the plugin is on in a township decides whether its routes answer.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_roles(self) -> list[Role] | None:
        """Return the roles this plugin adds, or ``None``.

        Each :class:`core.Role` is named ``{plugin}_{role}`` (for example
        ``tea_house_recorder``), says at which unit levels it may be held, and
        lists its permissions (core's or this plugin's).

        :return: a list of :class:`core.Role`; errors take the plugin out at start-up.

        Township scope: none.

        .. versionadded:: 0.1
        """

    @hookspec
    def startup(self, kernel: Kernel) -> Any:
        """Run once when the application starts serving.

        Use it to validate configuration or warm caches. An exception stops
        the start-up with an error naming the plugin. Never run DDL here:
        schema changes belong in migrations (``sanmin db upgrade``).

        :param kernel: the running :class:`core.Kernel` (settings, engine,
            plugin registry, ``hooks_for``).
        :return: ignored; may be an awaitable, which is awaited.

        Township scope: none. Called for every plugin that loaded cleanly.

        .. versionadded:: 0.1
        """


class TownshipSpecs:
    """Contributions called through ``kernel.hooks_for(township)``."""

    @hookspec
    def menu_links(self, township: ScopeUnit | None, request: Request) -> list[MenuLink] | Any:
        """Return the menu entries this plugin adds to the shared layout.

        :param township: the unit whose settings decide which plugins are on:
            a township, or a county or city when the page is at that level;
            ``None`` on pages outside any unit, where only core plugins are called.
        :param request: the current request.
        :return: a list of :class:`core.MenuLink`, ``None``, or an awaitable
            of either. Entries are shown in plugin load order.

        Township scope: only plugins enabled in ``township`` are called. A
        failing implementation is logged with the plugin's name and skipped,
        so this hook does not support wrappers.

        .. versionadded:: 0.1
        """

    @hookspec
    def permission_allowed(self, actor: Actor, permission: str, unit_code: str) -> bool | None:
        """Say whether ``actor`` may use ``permission`` at ``unit_code``, or ``None`` to abstain.

        The kernel combines every answer with one rule: **any ``False`` denies;
        otherwise any ``True`` allows; otherwise the role map decides**, which
        denies by default. Use ``False`` to add a restriction (for example a
        volunteer outside their assigned households) and ``True`` sparingly, to
        grant what no role does.

        :param actor: the :class:`core.Actor` (account or API key, with its roles).
        :param permission: the permission's name, e.g. ``archive.read``.
        :param unit_code: the unit the action is about.
        :return: ``True``, ``False`` or ``None``. Not an awaitable: it is called
            from synchronous checks.

        Township scope: only plugins enabled in the township of ``unit_code``
        are asked. Bulk list queries filter by the role map alone
        (:func:`core.scope_clause`), so a plugin that restricts access must also
        filter its own lists.

        .. versionadded:: 0.1
        """


TOWNSHIP_HOOK_NAMES: frozenset[str] = frozenset(
    name for name in vars(TownshipSpecs) if not name.startswith("_")
)
INSTALLATION_HOOK_NAMES: frozenset[str] = frozenset(
    name for name in vars(InstallationSpecs) if not name.startswith("_")
)
