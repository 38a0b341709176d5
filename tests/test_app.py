"""The application factory, migrations and error answers."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from core import Settings, StartupError, create_app, hookimpl
from core.archives.listing import NAME_PREFIX_INDEX
from core.audit.models import AuditEntry
from core.audit.service import record
from core.db.engine import make_engine
from core.db.metadata import metadata
from core.db.migrate import pending
from core.plugins.registry import PluginRegistry
from core.testing import Sanmin
from tests.helpers import manifest


def test_healthz_answers_without_touching_plugins(sanmin) -> None:
    answer = sanmin.client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_openapi_lists_core_routes(sanmin) -> None:
    schema = sanmin.client.get("/openapi.json").json()
    assert schema["info"]["title"] == "三民 Sanmin"
    assert schema["paths"]["/api/v1/units"]["get"]["tags"] == ["units"]
    assert "/p/knock_door/" not in schema["paths"]  # pages stay out of the API schema


def _not_dialect_only(obj, name, kind, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """The name-prefix index exists on PostgreSQL only (migration 0012), not in the metadata."""
    return not (kind == "index" and name == NAME_PREFIX_INDEX)


def test_the_models_match_the_migrations(sanmin) -> None:
    with sanmin.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _not_dialect_only}
        )
        diff = compare_metadata(context, metadata)
    assert [d for d in diff if "alembic_version" not in str(d)] == []


def test_an_unmigrated_database_refuses_to_start(sanmin_database_url: str) -> None:
    with pytest.raises(StartupError, match="sanmin db upgrade"):
        create_app(Settings(database_url=sanmin_database_url))


def test_two_apps_live_side_by_side(sanmin, sanmin_settings: Settings) -> None:
    other = create_app(sanmin_settings, registry=PluginRegistry().load(only=[]))
    assert other.state.kernel is not sanmin.app.state.kernel
    assert "knock_door" not in other.state.kernel.registry.plugins
    assert "knock_door" in sanmin.kernel.registry.plugins


def test_a_crash_in_a_handler_is_a_500_without_a_traceback(sanmin_settings: Settings) -> None:
    router = APIRouter()

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internals")

    class Crashy:
        PLUGIN = manifest("crashy", default_enabled=True)

        @hookimpl
        def register_api_routes(self) -> APIRouter:
            return router

    app = create_app(
        sanmin_settings,
        registry=PluginRegistry().load(discover=False, extra=[("crashy", Crashy())]),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        township = Sanmin(app, client).township()
        answer = client.get("/api/v1/p/crashy/crash", params={"unit": township.code})
    assert answer.status_code == 500
    assert "secret internals" not in answer.text and "Traceback" not in answer.text


def test_unknown_api_paths_answer_json_404(sanmin) -> None:
    answer = sanmin.client.get("/api/v1/p/nothing/x")
    assert answer.status_code == 404
    assert "nothing" in answer.json()["detail"]


def test_validation_errors_name_the_field(sanmin) -> None:
    answer = sanmin.client.get("/api/v1/units", params={"limit": "many"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "limit"]


def test_a_plugin_with_unapplied_migrations_stays_off(sanmin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    module = plugin_with_migration(tmp_path, "pending", "    pass")
    registry = PluginRegistry().load(discover=False, extra=[("pending", module)])
    assert "run: sanmin db upgrade --plugin pending" in pending(sanmin.engine, registry)["pending"]
    settings = Settings(database_url=str(sanmin.engine.url.render_as_string(False)))
    app = create_app(settings, registry=registry)
    error = app.state.kernel.registry.plugins_failed["pending"].error
    assert "unapplied migrations" in error and "--plugin pending" in error


def test_make_engine_turns_on_sqlite_wal_and_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_timestamps_come_back_aware_in_utc_on_both_databases(sanmin) -> None:
    with Session(sanmin.engine) as session:
        record(session, actor="t", action="a", target_type="x", target_id="1")
        session.commit()
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "a")).one()
    assert entry.at.utcoffset() is not None and entry.at.utcoffset().total_seconds() == 0


def test_a_failed_migration_leaves_nothing_behind(sanmin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    from core.db.migrate import upgrade_all

    module = plugin_with_migration(
        tmp_path,
        "halfway",
        "    op.create_table('halfway_thing', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    raise RuntimeError('second step fails')",
    )
    registry = PluginRegistry().load(discover=False, extra=[("halfway", module)])
    with pytest.raises(RuntimeError, match="second step fails"):
        upgrade_all(sanmin.engine, registry, only="halfway")
    tables = inspect(sanmin.engine).get_table_names()
    assert "halfway_thing" not in tables and "halfway_alembic_version" not in tables


def plugin_with_migration(tmp_path, name: str, upgrade: str) -> object:  # type: ignore[no-untyped-def]
    """A throwaway plugin package ``sanmin_{name}`` with one migration whose ``upgrade()``
    body is ``upgrade``; returns the imported module."""
    import importlib.util

    package = tmp_path / f"sanmin_{name}"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from core import PluginManifest\n"
        f"PLUGIN = PluginManifest(name={name!r}, title='测试', version='1.0')\n"
    )
    (package / "migrations" / "env.py").write_text(
        "from core import run_migrations_env\nrun_migrations_env()\n"
    )
    (package / "migrations" / "versions" / f"0001_{name}.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = '0001_{name}'\ndown_revision = None\nbranch_labels = None\n"
        f"depends_on = None\n\n\ndef upgrade():\n{upgrade}\n\n\ndef downgrade():\n    pass\n"
    )
    spec = importlib.util.spec_from_file_location(f"sanmin_{name}", package / "__init__.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
