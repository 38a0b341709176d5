"""The running kernel: settings, engine, plugins and per-township hook resolution.

One :class:`Kernel` per application, kept on ``app.state.kernel``; nothing
lives in module globals, so tests can build as many as they like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from core.db.engine import make_engine
from core.forms.catalog import FormCatalog
from core.identity.access import Actor, build_catalog, combine
from core.jobs.catalog import JobCatalog
from core.metrics.catalog import MetricCatalog
from core.plugins.errors import PluginDisabled
from core.plugins.registry import PluginRegistry
from core.plugins.scoping import HookScoper, TownshipHooks
from core.plugins.toggles import PluginState, ScopeUnit, ToggleState
from core.settings import Settings
from core.units.codes import UnitCode
from core.workflows.catalog import WorkflowCatalog

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates
    from itsdangerous import URLSafeTimedSerializer


@dataclass(frozen=True, slots=True)
class Scope:
    """What the kernel resolved for one request: the unit, its township and the hooks to call."""

    unit: UnitCode
    township: ScopeUnit
    enabled: frozenset[str]
    hooks: TownshipHooks


def separate_engine(engine: Engine, **pool: Any) -> Engine:
    """Another engine on the same database, with its own pool (by default none), so that its
    user never waits for a connection that request handlers hold (an in-memory SQLite
    database cannot be reopened, so it keeps the shared engine)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return engine
    return make_engine(
        url.render_as_string(hide_password=False), **(pool or {"poolclass": NullPool})
    )


MAX_CACHED_SCOPES = 10_000  # per settings snapshot; beyond it scopes are built per request


class Kernel:
    """Settings, engine, plugin registry, per-township toggles and the template environment."""

    def __init__(self, settings: Settings, registry: PluginRegistry, engine: Engine) -> None:
        self.settings = settings
        self.registry = registry
        self.engine = engine
        # Each may take out plugins with bad declarations, naming the reason.
        self.access = build_catalog(registry)
        self.forms = FormCatalog.build(registry, self.access)
        self.workflows = WorkflowCatalog.build(registry, self.access)
        self.metrics = MetricCatalog.build(registry)
        self.jobs = JobCatalog.build(registry)
        # Short indexed reads on the event loop (credentials, one record) use a connection
        # of their own: no threadpool hop, and never a wait for the request pool.
        self.loop_engine = separate_engine(
            engine, pool_size=1, max_overflow=0, pool_pre_ping=False, isolation_level="AUTOCOMMIT"
        )
        # The refresher's own single connection: it never waits for the request pool.
        refresher = separate_engine(
            engine, pool_size=1, max_overflow=0, pool_pre_ping=False, isolation_level="AUTOCOMMIT"
        )
        self.toggles = ToggleState(refresher, registry, settings.toggle_refresh_seconds)
        self._scoper = HookScoper(registry.pm, frozenset(p.name for p in registry.optional()))
        self.templates: Jinja2Templates | None = None
        self.signer: URLSafeTimedSerializer | None = None  # set by create_app
        # Per settings snapshot: each township's enabled set and hooks (bounded by townships).
        self._townships: tuple[
            object, dict[str, tuple[frozenset[str], TownshipHooks]], dict[str, Scope]
        ] = (None, {}, {})

    @property
    def pm(self):  # type: ignore[no-untyped-def]
        return self.registry.pm

    def scope(self, unit_code: str) -> Scope:
        """Resolve a unit code to its township, the plugins enabled there and their hooks.

        :raises UnitCodeError: malformed code. :raises UnitNotFound: unknown township.
        """
        snapshot = self.toggles.snapshot()
        cache = self._townships
        if cache[0] is not snapshot:  # one (snapshot, entries, scopes): never mixes snapshots
            cache = self._townships = (snapshot, {}, {})
        scope = cache[2].get(unit_code)
        if scope is not None:
            return scope
        township, parsed = self.toggles.resolve(unit_code, snapshot)
        entry = cache[1].get(township.code)
        if entry is None:
            enabled = snapshot.enabled(township.code)
            entry = cache[1][township.code] = (enabled, self._scoper.for_enabled(enabled))
        scope = Scope(parsed, township, *entry)
        if len(cache[2]) < MAX_CACHED_SCOPES:  # bounded: arbitrary codes cannot grow it
            cache[2][unit_code] = scope
        return scope

    def hooks_for(self, township: ScopeUnit | str | None) -> TownshipHooks:
        """The township-scoped hook relay for a unit (or only core plugins for ``None``)."""
        if township is None:
            return self._scoper.for_enabled(self.toggles.snapshot().essential)
        code = township if isinstance(township, str) else township.code
        return self.scope(code).hooks

    def require(self, plugin: str, scope: Scope) -> None:
        """Raise :class:`PluginDisabled` if ``plugin`` is off in ``scope``'s township."""
        if plugin not in scope.enabled:
            info = self.registry.info(plugin)
            raise PluginDisabled(
                plugin, info.title if info else plugin, scope.township.name, scope.township.code
            )

    def dispose(self) -> None:
        """Close every connection of the kernel's engines (the app's, the loop's, the
        refresher's)."""
        for engine in {self.engine, self.loop_engine, self.toggles.engine}:
            engine.dispose()

    def allowed(self, actor: Actor, permission: str, unit_code: str) -> bool:
        """Whether ``actor`` may use ``permission`` at ``unit_code``.

        The role map answers first; plugins enabled in the unit's township may then
        veto or grant through ``permission_allowed`` (:func:`core.identity.access.combine`).
        """
        role_answer = actor.role_allows(self.access, permission, unit_code)
        answers = self.scope(unit_code).hooks.permission_allowed(
            actor=actor, permission=permission, unit_code=unit_code
        )
        return combine(answers, role_answer)

    def plugin_states(self, unit_code: str | None) -> dict[str, PluginState]:
        """Every plugin's state at a unit (or its default when ``unit_code`` is ``None``)."""
        states: dict[str, PluginState] = {}
        scope_code = self.toggles.resolve(unit_code)[0].code if unit_code else None
        snapshot = self.toggles.snapshot() if scope_code else None
        for info in self.registry.all():
            if not info.loaded:
                states[info.name] = PluginState(info.name, False, "failed")
            elif scope_code is None:
                enabled = info.essential or info.manifest.default_enabled  # type: ignore[union-attr]
                states[info.name] = PluginState(
                    info.name, enabled, "core" if info.essential else "default"
                )
            else:
                assert snapshot is not None
                states[info.name] = snapshot.state(scope_code, info.name)
        return states
