"""Running the core's and each plugin's Alembic history (CKAN/Indico pattern).

Core owns ``alembic_version``; a plugin owns ``{plugin}_alembic_version`` and
tables prefixed ``{plugin}_``. ``upgrade_all`` runs core first, then plugins
in ``depends_on`` order. Migrations are per installation, never per township.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from core.db.engine import make_engine
from core.plugins.registry import PluginInfo, PluginRegistry

log = logging.getLogger("sanmin.migrate")

CORE_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class History:
    """One Alembic history: core's or a plugin's."""

    name: str
    location: Path
    version_table: str
    table_prefix: str | None

    def config(self, **attributes: Any) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.location))
        config.set_main_option("version_table", self.version_table)
        config.attributes.update(
            version_table=self.version_table, table_prefix=self.table_prefix, **attributes
        )
        return config

    def heads(self) -> set[str]:
        return set(_heads(self.location))


@functools.cache
def _heads(location: Path) -> tuple[str, ...]:
    """A history's heads, read from its scripts once per process (they do not change while
    it runs; parsing them costs more than the check they serve)."""
    config = Config()
    config.set_main_option("script_location", str(location))
    return tuple(ScriptDirectory.from_config(config).get_heads())


def plugin_history(info: PluginInfo) -> History | None:
    """The plugin's history when its package has a ``migrations/`` folder with an ``env.py``."""
    module_file = getattr(info.obj, "__file__", None)
    if module_file is None or Path(module_file).name != "__init__.py":
        return None
    location = Path(module_file).parent / "migrations"
    if not (location / "env.py").is_file():
        return None
    return History(info.name, location, f"{info.name}_alembic_version", f"{info.name}_")


def histories(registry: PluginRegistry) -> list[History]:
    """Core's history, then every loaded plugin's that has one, dependencies first."""
    core = History("core", CORE_MIGRATIONS, "alembic_version", None)
    plugin_histories = [
        history
        for name in registry.dependency_order()
        if not registry.plugins[name].essential
        and (history := plugin_history(registry.plugins[name])) is not None
    ]
    return [core, *plugin_histories]


def _excluded_prefixes(registry: PluginRegistry) -> tuple[str, ...]:
    return tuple(f"{info.name}_" for info in registry.all() if not info.essential)


def upgrade(engine: Engine, history: History, registry: PluginRegistry) -> None:
    """Bring one history to its head in one transaction: a failure leaves nothing behind,
    on SQLite as on PostgreSQL."""
    url = engine.url
    migrating = engine
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        migrating = make_engine(
            url.render_as_string(hide_password=False), transactional_ddl=True, poolclass=NullPool
        )
    try:
        with migrating.begin() as connection:
            config = history.config(
                connection=connection, excluded_prefixes=_excluded_prefixes(registry)
            )
            command.upgrade(config, "heads")
    finally:
        if migrating is not engine:
            migrating.dispose()
    log.info("Migrated %s to %s", history.name, ", ".join(sorted(history.heads())))


class MigrationOrderError(ValueError):
    """A plugin's migrations asked for before the core's (its tables refer to the core's)."""


def upgrade_all(engine: Engine, registry: PluginRegistry, only: str | None = None) -> list[str]:
    """Upgrade core then plugins (or only the history named ``only``); return the names run.

    :raises MigrationOrderError: ``only`` names a plugin while the core is not at its head
        (a plugin's tables refer to the core's units and accounts).
    """
    if only is not None and only != "core":
        core = next(h for h in histories(registry) if h.name == "core")
        if current_revisions(engine, core) != core.heads():
            raise MigrationOrderError(
                "核心尚未迁移到最新，请先运行 sanmin db upgrade / the core is not migrated: "
                "run sanmin db upgrade first"
            )
    done = []
    for history in histories(registry):
        if only is None or history.name == only:
            upgrade(engine, history, registry)
            done.append(history.name)
    return done


def current_revisions(engine: Engine, history: History) -> set[str]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": history.version_table}
        )
        return set(context.get_current_heads())


def pending(engine: Engine, registry: PluginRegistry) -> dict[str, str]:
    """Histories not at head, with a message saying how to fix each."""
    problems = {}
    for history in histories(registry):
        current, heads = current_revisions(engine, history), history.heads()
        if current != heads:
            at = ", ".join(sorted(current)) or "nothing"
            flag = "" if history.name == "core" else f" --plugin {history.name}"
            problems[history.name] = (
                f"unapplied migrations (database at {at}, code at {', '.join(sorted(heads))}); "
                f"run: sanmin db upgrade{flag}"
            )
    return problems
