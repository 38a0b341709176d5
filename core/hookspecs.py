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

    from core.archives.care import CareResult
    from core.archives.extensions import ArchiveField
    from core.archives.household_file import HouseholdSection
    from core.archives.models import ArchiveHousehold, ArchivePerson
    from core.demo.accounts import DemoAccount
    from core.events.spec import Event
    from core.forms.spec import FormSpec
    from core.identity.access import Actor, Permission, Role
    from core.jobs.spec import Job
    from core.kernel import Kernel
    from core.metrics.spec import Metric
    from core.plugins.toggles import ScopeUnit
    from core.tickets.types import TicketType
    from core.web.menu import MenuLink
    from core.web.panels import WorkbenchPanel
    from core.workflows.spec import Workflow, WorkflowInstance

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

    @hookspec
    def register_forms(self) -> list[FormSpec] | None:
        """Return the forms (一事一表) this plugin declares, or ``None``.

        Each :class:`core.FormSpec` names a pydantic model whose fields carry
        Chinese titles, help texts, choices and required flags, the kind of
        subject a record is attached to (household, person, unit or ticket) and
        a schema version. The core validates submissions against the model,
        stores each as a record, renders the create, view and list pages from
        the model and serves a JSON API under ``/api/v1/p/{plugin}/forms/``.

        :return: a list of :class:`core.FormSpec`. A bad name, a duplicate or a
            model the core cannot render takes the plugin out at start-up, with
            that reason; the others start.

        Township scope: none. Forms exist installation-wide; where the plugin is
        disabled their pages and API answer 404 and their records are not listed.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_workflows(self) -> list[Workflow] | None:
        """Return the workflows (state machines) this plugin declares, or ``None``.

        A :class:`core.Workflow` lists its states (Chinese labels, open or
        closed), its transitions (from which states, to which state, who may
        take them, the inputs they require, a deadline for the state they lead
        to) and its initial state. The core persists instances with a version
        and an append-only history and serves them under
        ``/api/v1/p/{plugin}/workflows/``.

        :return: a list of :class:`core.Workflow`; an inconsistent definition
            (unknown state, unreachable state, duplicate name) takes the plugin
            out at start-up, with that reason.

        Township scope: none. Where the plugin is disabled its instances are
        neither listed nor moved.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_metrics(self) -> list[Metric] | None:
        """Return the metrics this plugin declares, or ``None``.

        A :class:`core.Metric` is computed in SQL for the units of a subtree and
        a period; the core rolls it up the unit tree, keeps daily aggregates
        so that a city-wide figure does not scan every record, and serves it
        as JSON and at ``/metrics`` (Prometheus text format).

        :return: a list of :class:`core.Metric`; a bad name, a duplicate, a column
            the table does not have or a ratio whose terms are not additive metrics of
            the plugin takes the plugin out at start-up, with that reason.

        Township scope: none. A metric counts only townships where its plugin is
        enabled; elsewhere it is absent, not zero.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_jobs(self) -> list[Job] | None:
        """Return the periodic jobs this plugin declares, or ``None``.

        A :class:`core.Job` has a name, a Chinese title, a period and a function
        taking a :class:`core.JobContext`. ``sanmin worker`` (or the demo, in
        process) runs each job once per period, for each township where the
        plugin is enabled, however many workers run.

        :return: a list of :class:`core.Job`; a bad name, a duplicate or a period
            shorter than a minute takes the plugin out at start-up, with that reason.

        Township scope: none for the declaration; each run happens for one
        township where the plugin is enabled (or, with ``per_township=False``,
        once for the installation: always for a core plugin, otherwise while
        the plugin is enabled in at least one township).

        .. versionadded:: 0.1
        """

    @hookspec
    def register_archive_fields(self) -> list[ArchiveField] | None:
        """Return the extra fields this plugin adds to archive persons or households, or ``None``.

        A :class:`core.ArchiveField` names the record kind it extends (``person`` or
        ``household``), a snake_case name unique within the plugin for that kind, a Chinese
        title and how its value is validated: a ``kind`` of the forms service (``text``,
        ``integer``, ``number``, ``boolean``, ``date``, ``choice`` with ``choices``),
        ``required``, ``max_length``, ``minimum``/``maximum`` and a ``help`` text.

        Values are stored namespaced by plugin (``extra[plugin][name]`` on the record) and
        written through the archive API's ``extra`` body field: a create or update is
        validated against the declarations of the plugins enabled in the record's township
        (an unknown plugin or field, a bad value or a plugin off there is a 422 naming
        ``extra.{plugin}.{name}``), an update merges plugin by plugin (``null`` removes a
        field), and both are versioned and audited like the record's other fields. Reads
        show the namespaces of plugins enabled in the record's township only, and the
        household file (一户一档) shows each field with its title.

        :return: a list of :class:`core.ArchiveField`. Not an awaitable. A bad name, kind,
            choice list or bound, or a name declared twice, takes the plugin out at
            start-up, with that reason; the others start.

        Township scope: none for the declaration; the values are read and written only
        where the plugin is enabled. Values stored while it was on stay stored, and show
        again when it is switched back on.

        .. versionadded:: 0.1
        """

    @hookspec
    def register_ticket_types(self) -> list[TicketType] | None:
        """Return the ticket types (诉求类型) this plugin adds to the core's six, or ``None``.

        A :class:`core.TicketType` has a snake_case ``code`` unique in the installation (it
        is the Open311 ``service_code``), a Chinese ``label`` and ``description``, its extra
        fields as a pydantic model with Chinese titles (validated on submission like a
        form's, shown on pages, offered to Open311 clients as attributes), the clocks of a
        normal and of an urgent ticket (:class:`core.TicketClocks`: respond, handle, visit
        back) and whether reporters may stay anonymous or are kept confidential.

        Tickets of the type follow the core lifecycle (受理 → 派单 → 签收 → 办结 → 回访 → 评价,
        with 退回, 延期, 上报 and 重办), the core's deadlines and escalation, and count in the
        core KPIs by type.

        :return: a list of :class:`core.TicketType`. Not an awaitable. A bad code, label,
            clock or field model, or a code already taken, takes the plugin out at
            start-up with that reason; the others start.

        Township scope: the type is offered only in townships where the plugin is enabled;
        tickets already submitted there stay readable and are handled to the end.

        .. versionadded:: 0.1
        """

    @hookspec
    def demo_accounts(self) -> list[DemoAccount] | None:
        """Return the demo accounts this plugin's practice needs, or ``None``.

        ``sanmin demo`` creates each :class:`core.DemoAccount` (username, role, unit code,
        display name) with the demo password and prints it in the log-in table, after the
        core's own demo accounts. The role may be one of this plugin's roles (its
        ``register_roles``) or a core role. Use a username that says what it is for
        (``tea_house_keeper``); an account that already exists is left as it is and only a
        missing role is granted again.

        :return: a list of :class:`core.DemoAccount`. Not an awaitable. Never called in
            production: only by ``sanmin demo`` and by tests that load the demo.

        Township scope: none; the accounts are created whatever the demo's settings.

        .. versionadded:: 0.1
        """

    @hookspec
    def load_demo(self, kernel: Kernel) -> str | None:
        """Write this plugin's demo records into the demo county, after the core's; or ``None``.

        Called by ``sanmin demo`` once the demo units, accounts, archive (persons,
        households, care levels) and tickets are in place and the plugin's migrations have
        run. Write through the same services the plugin's API uses (so the records are
        validated, audited and counted as real ones), with fixed seeds, and only in the
        townships where the demo enables the plugin. It must be **idempotent**: a second
        ``sanmin demo`` on the same database changes nothing.

        :param kernel: the running kernel (engine, settings, ``hooks_for``).
        :return: a one-line Chinese summary for ``sanmin demo`` to print
            (``敲门嫂：探访计划 120 条``), or ``None``. Not an awaitable. An exception
            stops ``sanmin demo`` with the plugin's name and the reason.

        Township scope: called once per installed plugin; keep the records to the townships
        where the demo enables the plugin.

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
    def workbench_panels(
        self, township: ScopeUnit | None, request: Request
    ) -> list[WorkbenchPanel] | Any:
        """Return the panels this plugin adds to the staff workbench (``/admin``, 工作台).

        :param township: the township of the actor's home unit (or the county or city
            when that is where the actor works): only plugins enabled there are called.
        :param request: the current request; ``request.state.actor`` is the signed-in
            staff member the panels are for.
        :return: a list of :class:`core.WorkbenchPanel`, ``None``, or an awaitable of
            either. A panel that reads a few indexed rows (the actor's grid or village)
            does best with one prebuilt statement on ``kernel.loop_engine``, the event
            loop's reserved autocommit connection, with the scope as bound values
            (:func:`core.bound_scope_clause`, :func:`core.scope_ranges`,
            :func:`core.scope_parameters`): no threadpool hop. A read that may take
            milliseconds (a whole township) should be ``async def`` and run in
            ``starlette.concurrency.run_in_threadpool`` so as not to hold up the event
            loop: the plugins' awaitables are awaited at once, so the page waits for the
            slowest panel, not for their sum. Return nothing for an
            actor the panel is not for (the page shows only what a panel contains; what
            its links open checks access itself).

        Township scope: only plugins enabled in ``township`` are called. A failing
        implementation is logged with the plugin's name and skipped (the page still
        answers), so this hook does not support wrappers.

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

    @hookspec
    def workflow_guard(
        self, instance: WorkflowInstance, transition: str, actor: Actor, inputs: dict[str, Any]
    ) -> str | None:
        """Refuse a workflow transition before it is committed, or ``None`` to let it pass.

        Called for every transition of every workflow, after the core has
        checked the transition's permission, source state, version and
        required inputs, and before anything is written.

        :param instance: the :class:`core.WorkflowInstance` as it is now (its
            ``plugin``, ``workflow``, ``state``, ``unit_code``, ``version``).
        :param transition: the name of the transition asked for.
        :param actor: who asks.
        :param inputs: the validated inputs of the transition (e.g. ``reason``).
        :return: a message in Chinese that the user sees (the transition is
            refused with 422 and nothing is written), or ``None``. Not an
            awaitable. Any refusal wins.

        Township scope: only plugins enabled in the instance's township are asked.

        .. versionadded:: 0.1
        """

    @hookspec
    def on_event(self, event: Event, kernel: Kernel) -> Any:
        """React to an event after the change that caused it was committed.

        Events (``form.submitted``, ``workflow.transitioned``, a plugin's own
        ``{plugin}.…``) are written to the outbox in the same transaction as
        the change. After commit, each plugin's reaction is called on its own;
        one that raises is logged and retried with backoff by ``sanmin worker``
        (or the in-process runner) until it succeeds, and the change is never
        undone. A reaction may therefore run more than once: make it idempotent
        (``event.id`` is unique).

        :param event: the :class:`core.Event` (``name``, ``unit_code``,
            ``township_code``, ``subject``, ``payload``, ``actor_id``, ``id``).
        :param kernel: the running :class:`core.Kernel`, for database access.
        :return: ignored; may be an awaitable, which is awaited.

        Township scope: only plugins enabled in the event's township, at the time
        of delivery, are called.

        .. versionadded:: 0.1
        """

    @hookspec
    def care_level_refine(self, person: ArchivePerson, assessment: CareResult) -> CareResult | None:
        """Refine the elderly care level (红/黄/绿) the rule table computed, or ``None``.

        Called each time a person is (re-)assessed: after a change of the care inputs, a
        change of the county's thresholds, and by the daily re-assessment job. An approved
        manual override is never passed here.

        :param person: the :class:`core.archives.models.ArchivePerson` assessed (read it,
            do not change it).
        :param assessment: the :class:`core.CareResult` of the rule table (``level``,
            ``rule``, ``reason`` and the ``inputs`` it looked at).
        :return: a :class:`core.CareResult` with ``level`` one of ``red``, ``yellow``,
            ``green``, a ``rule`` name (prefix it with the plugin's name) and a Chinese
            ``reason``; it is stored instead of the computed one. ``None`` keeps the computed
            level. Not an awaitable. The first refinement returned wins.

        Township scope: only plugins enabled in the person's township are asked.

        .. versionadded:: 0.1
        """

    @hookspec
    def household_file_sections(
        self,
        household: ArchiveHousehold,
        members: list[ArchivePerson],
        actor: Actor,
        kernel: Kernel,
    ) -> list[HouseholdSection] | None:
        """Return sections this plugin adds to 一户一档, the household file, or ``None``.

        Called each time a household file is shown, on the API and on the page, after the
        core has checked that ``actor`` may read the household. Use it to show what the
        practice knows about the household: visits, requests, sessions attended.

        :param household: the :class:`core.archives.models.ArchiveHousehold` shown.
        :param members: its members (:class:`core.archives.models.ArchivePerson`).
        :param actor: who is looking; show only what its roles allow.
        :param kernel: the running :class:`core.Kernel`, for database access.
        :return: a list of :class:`core.HouseholdSection` (a snake_case ``key``, a Chinese
            ``title``, an ``order`` and ``entries``: :class:`core.SectionEntry` with a
            timezone-aware ``at``, a ``text`` of at most 500 characters and an optional
            ``href``, a path on this site), or ``None``. Entries also join the household's
            timeline. Never unmasked ID numbers or phones. Not an awaitable.

        Township scope: only plugins enabled in the household's township are asked. An
        implementation that raises, or returns anything else than sections, is logged
        with the plugin's name and left out: the file is shown without it. Wrappers are
        therefore not supported.

        .. versionadded:: 0.1
        """


TOWNSHIP_HOOK_NAMES: frozenset[str] = frozenset(
    name for name in vars(TownshipSpecs) if not name.startswith("_")
)
INSTALLATION_HOOK_NAMES: frozenset[str] = frozenset(
    name for name in vars(InstallationSpecs) if not name.startswith("_")
)
