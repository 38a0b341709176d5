"""Pytest fixtures for Sanmin and for plugin authors (registered through ``pytest11``).

A plugin's tests need no conftest::

    def test_page(sanmin):
        township = sanmin.township()
        sanmin.enable("hello", township)
        assert sanmin.client.get("/p/hello/", params={"unit": township.code}).status_code == 200

Every test that uses ``sanmin`` (or ``sanmin_database_url``) runs twice: on
SQLite and on PostgreSQL. PostgreSQL comes from ``SANMIN_TEST_POSTGRES_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets
its own schema, dropped afterwards. When PostgreSQL is unreachable those runs
are skipped with the reason, except under ``CI=true``, where they fail.

Override ``sanmin_plugins`` (entry-point names to load; ``None`` loads all) or
``sanmin_extra_plugins`` (``(name, object)`` pairs registered directly) to
choose the plugins, and ``sanmin_settings`` to change settings.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from core.db.templates import prepare_migrated, recycle
from core.identity.access import Actor, role_at
from core.identity.models import Account
from core.identity.secrets import hash_password
from core.identity.service import grant_role, issue_token
from core.jobs.worker import Worker
from core.kernel import Kernel
from core.plugins.registry import PluginRegistry
from core.plugins.service import bump_config_version, set_plugin_setting
from core.settings import Settings
from core.units.codes import Level, parse_code
from core.units.models import Unit
from core.web.app import create_app

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASES = ("sqlite", "postgresql")


def postgres_url() -> str:
    return os.environ.get("SANMIN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_problem(url: str) -> str | None:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver or network failure means "unreachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def sanmin_postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (``None`` when it can); checked once per session."""
    return _postgres_problem(postgres_url())


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema on PostgreSQL, dropped afterwards; yields a URL whose search_path is it."""
    schema = f"sanmin_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        yield rendered
    finally:
        if not recycle(rendered):  # a migrated schema is kept for the next test instead
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DATABASES)
def sanmin_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sanmin_postgres_problem: str | None
) -> Iterator[str]:
    """A URL of an empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sanmin.db'}"
        return
    if sanmin_postgres_problem is not None:
        message = f"PostgreSQL at {postgres_url()} unreachable: {sanmin_postgres_problem}"
        if in_ci():
            pytest.fail(f"{message} (CI=true requires PostgreSQL)")
        pytest.skip(message)
    with postgres_schema(postgres_url()) as url:
        yield url


@pytest.fixture
def sanmin_plugins() -> Sequence[str] | None:
    """Entry-point plugins to load; ``None`` (the default) loads every installed one."""
    return None


@pytest.fixture
def sanmin_extra_plugins() -> Sequence[tuple[str, Any]]:
    """``(name, module or object)`` plugins to register besides the entry points."""
    return ()


@pytest.fixture
def sanmin_settings(sanmin_database_url: str) -> Settings:
    """Settings for the test app: its own database, migrated at start-up."""
    return Settings(database_url=sanmin_database_url, auto_migrate=True)


@pytest.fixture
def sanmin_registry(
    sanmin_settings: Settings,
    sanmin_plugins: Sequence[str] | None,
    sanmin_extra_plugins: Sequence[tuple[str, Any]],
) -> PluginRegistry:
    """A loaded plugin registry with the chosen plugins."""
    return PluginRegistry().load(
        disabled=sanmin_settings.disabled_plugins,
        only=sanmin_plugins,
        extra=sanmin_extra_plugins,
    )


@pytest.fixture
def sanmin_app(sanmin_settings: Settings, sanmin_registry: PluginRegistry) -> Iterator[FastAPI]:
    """The application, built by ``create_app`` on the test database. A new database is
    migrated from a template made once per set of histories (:mod:`core.db.templates`):
    the same schema as running the migrations, in a fraction of the time."""
    settings = sanmin_settings
    if settings.auto_migrate and prepare_migrated(settings.database_url, sanmin_registry):
        settings = settings.model_copy(update={"auto_migrate": False})
    app = create_app(settings, registry=sanmin_registry)
    yield app
    app.state.kernel.dispose()


TEST_PASSWORD = "sanmin-test-password"


@functools.cache
def test_password_hash() -> str:
    """One Argon2 hash per test session: hashing costs tens of milliseconds."""
    return hash_password(TEST_PASSWORD)


def all_routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """Every route's path and methods, including those of included routers.

    Recent FastAPI keeps included routers' routes inside ``_IncludedRouter`` entries of
    ``app.routes``; walking only ``APIRoute`` objects there would miss nearly all of them.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazy router inclusion
        from fastapi.routing import APIRoute

        return [(r.path, set(r.methods or ())) for r in app.routes if isinstance(r, APIRoute)]
    return [(c.path or "", set(c.methods or ())) for c in iter_route_contexts(app.routes)]


class Sanmin:
    """The test harness: the app, clients, and factories for units, accounts and settings.

    ``client`` is signed in as a system administrator of the province (330000000000), so
    it sees everything under it; ``anonymous`` sends no credentials; ``client_as(role,
    unit)`` makes an account with one role and returns a client signed in as it. Every
    account's password is :data:`TEST_PASSWORD`.
    """

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        from fastapi.testclient import TestClient

        self.app = app
        self.client = client
        self.anonymous = TestClient(app)
        self._next_township = 0
        self._next_account = 0
        self.unit("330000000000", "浙江省")
        admin = self.token_for("system_admin", "330000000000", "admin")
        self.client.headers["Authorization"] = f"Bearer {admin}"

    def account(self, role: str, unit: Unit | str, username: str | None = None) -> Account:
        """A new account holding ``role`` at ``unit`` (created with its ancestors)."""
        code = unit if isinstance(unit, str) else unit.code
        self.unit(code)
        self._next_account += 1
        username = username or f"{role.replace('_', '-')}-{self._next_account}"
        with self.session() as session:
            account = Account(username=username, password_hash=test_password_hash())
            session.add(account)
            session.flush()
            grant_role(session, self.kernel.access, account, role=role, unit_code=code, by="test")
        return account

    def token_for(self, role: str, unit: Unit | str, username: str | None = None) -> str:
        """A bearer token of a new account holding ``role`` at ``unit``."""
        account = self.account(role, unit, username)
        with self.session() as session:
            return issue_token(session, account, "bearer", None)

    def actor(self, role: str, unit: Unit | str, username: str | None = None) -> Actor:
        """A new account holding ``role`` at ``unit``, as the services see it: for calling a
        service (``create_ticket``, ``start_workflow`` …) directly, without HTTP."""
        code = unit if isinstance(unit, str) else unit.code
        account = self.account(role, code, username)
        assert account.id is not None
        return Actor("account", account.id, account.username, (role_at(role, code),))

    def client_as(self, role: str, unit: Unit | str, username: str | None = None) -> TestClient:
        """A client signed in (bearer token) as a new account with ``role`` at ``unit``."""
        from fastapi.testclient import TestClient

        token = self.token_for(role, unit, username)
        return TestClient(self.app, headers={"Authorization": f"Bearer {token}"})

    @property
    def kernel(self) -> Kernel:
        return self.app.state.kernel

    @property
    def engine(self) -> Engine:
        return self.kernel.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the test database; commits on success."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def unit(self, code: str, name: str | None = None) -> Unit:
        """The unit with ``code``, created with any missing ancestors (names are generated)."""
        parsed = parse_code(code)
        with self.session() as session:
            created = False
            for ancestor in reversed(parsed.ancestors()):
                level = parse_code(ancestor).level
                skip_province = level is Level.province and ancestor != parsed.code
                if skip_province or session.get(Unit, ancestor) is not None:
                    continue
                label = name if ancestor == parsed.code and name else f"测试{level.label}{ancestor}"
                unit = Unit.build(ancestor, label)
                if unit.parent_code and session.get(Unit, unit.parent_code) is None:
                    unit.parent_code = None  # a city is the root when no province is loaded
                session.add(unit)
                session.flush()
                created = True
            if created:
                bump_config_version(session)
            unit = session.get(Unit, parsed.code)
        self.kernel.toggles.invalidate()
        assert unit is not None
        return unit

    def township(self, name: str | None = None, county: str = "330802") -> Unit:
        """A new township (with its county and city) each call, with deterministic codes."""
        self._next_township += 1
        return self.unit(f"{county}{100 + self._next_township:03d}000", name)

    def assert_scoped(
        self, method: str, url: str, *, role: str, inside: str, outside: str, **kwargs: Any
    ) -> Any:
        """Prove an endpoint respects scope, and return the in-scope answer.

        Two actors with the same ``role``, one at ``inside`` and one at ``outside``, make
        the same request (``url`` names a record or unit under ``inside``): the first gets a
        2xx answer, the second a 404 — never a 403, which would confirm the record exists.
        """
        allowed = self.client_as(role, inside).request(method, url, **kwargs)
        assert 200 <= allowed.status_code < 300, (
            f"{role} at {inside}: {method} {url} -> {allowed.status_code} {allowed.text[:300]}"
        )
        refused = self.client_as(role, outside).request(method, url, **kwargs)
        assert refused.status_code == 404, (
            f"{role} at {outside}: {method} {url} -> {refused.status_code}, expected 404 "
            f"{refused.text[:300]}"
        )
        return allowed

    def set(self, plugin: str, unit: Unit | str, enabled: bool | None) -> None:
        """Switch ``plugin`` on, off or back to inherit at ``unit``, as an admin would."""
        code = unit if isinstance(unit, str) else unit.code
        with self.session() as session:
            set_plugin_setting(
                session,
                self.kernel.registry,
                plugin=plugin,
                unit_code=code,
                enabled=enabled,
                actor="test",
            )
        self.kernel.toggles.invalidate()

    def enable(self, plugin: str, unit: Unit | str) -> None:
        self.set(plugin, unit, True)

    def worker(self, clock: Callable[[], datetime] | None = None) -> Worker:
        """A worker for this app, as ``sanmin worker`` runs one: ``.run_once()`` delivers the
        events due and runs the jobs due, then returns (no sleeping). ``clock`` fakes the
        current time (aware), to reach a job's next period or a reaction's retry."""
        return Worker(self.kernel, clock=clock) if clock else Worker(self.kernel)

    def disable(self, plugin: str, unit: Unit | str) -> None:
        self.set(plugin, unit, False)


@pytest.fixture
def sanmin(sanmin_app: FastAPI) -> Iterator[Sanmin]:
    """The harness, with the app started (its lifespan runs) and a client."""
    from fastapi.testclient import TestClient  # needs httpx2 (or httpx): a test-only dependency

    with TestClient(sanmin_app) as client:
        yield Sanmin(sanmin_app, client)
