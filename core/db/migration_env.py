"""The body of every Alembic ``env.py`` in Sanmin, core's and each plugin's.

A history's ``env.py`` is two lines::

    from core import run_migrations_env
    run_migrations_env()

The runner in :mod:`core.db.migrate` passes the connection, the version table
and the table prefix through ``config.attributes``; used from the ``alembic``
command line instead, the database comes from ``SANMIN_DATABASE_URL``.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from core.db.metadata import metadata


def run_migrations_env() -> None:
    """Configure Alembic's context for one history and run its migrations online."""
    import core.models  # noqa: F401  (every core table in the metadata)

    config = context.config
    attributes = config.attributes
    version_table = attributes.get("version_table") or config.get_main_option(
        "version_table", "alembic_version"
    )
    prefix = attributes.get("table_prefix")
    excluded: tuple[str, ...] = tuple(attributes.get("excluded_prefixes", ()))

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        if type_ != "table" or name is None:
            return True
        if name.endswith("alembic_version"):
            return False
        if prefix is not None:
            return name.startswith(prefix)
        return not name.startswith(excluded)

    def configure_and_run(connection: Any) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = attributes.get("connection")
    if connection is not None:
        configure_and_run(connection)
        return
    from core.db.engine import make_engine
    from core.settings import Settings

    engine = make_engine(Settings().database_url)
    with engine.begin() as conn:
        configure_and_run(conn)
