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

``sanmin_demo`` is the same harness on a database holding the whole demo county
(:func:`core.demo.load.load_demo`, after the harness's own administrator): the demo is
loaded once per pytest process per database kind, plugin set and settings into a template,
and each test gets its own copy of it (SQLite: the file; PostgreSQL: the rows, copied into
the test's migrated schema) in a fraction of a load's time. A test of loading itself
(idempotence, the report on a fresh database) calls ``load_demo`` on ``sanmin`` instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from core.db.engine import make_engine
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

    from core.demo.load import DemoReport

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
    rendered = _with_search_path(base_url, schema)
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


@dataclass(frozen=True)
class HarnessState:
    """What a :class:`Sanmin` harness keeps besides its database: its administrator's bearer
    token and the counters that number the townships and accounts its factories make."""

    admin_token: str
    next_township: int
    next_account: int


class Sanmin:
    """The test harness: the app, clients, and factories for units, accounts and settings.

    ``client`` is signed in as a system administrator of the province (330000000000), so
    it sees everything under it; ``anonymous`` sends no credentials; ``client_as(role,
    unit)`` makes an account with one role and returns a client signed in as it. Every
    account's password is :data:`TEST_PASSWORD`.
    """

    def __init__(self, app: FastAPI, client: TestClient, state: HarnessState | None = None) -> None:
        """Create the province and its administrator (the ``client``'s account), or, given
        the ``state`` of a harness whose database this one's is a copy of, carry on from it."""
        from fastapi.testclient import TestClient

        self.app = app
        self.client = client
        self.anonymous = TestClient(app)
        if state is not None:
            self._next_township, self._next_account = state.next_township, state.next_account
            self.client.headers["Authorization"] = f"Bearer {state.admin_token}"
            return
        self._next_township = 0
        self._next_account = 0
        self.unit("330000000000", "浙江省")
        admin = self.token_for("system_admin", "330000000000", "admin")
        self.client.headers["Authorization"] = f"Bearer {admin}"

    @property
    def state(self) -> HarnessState:
        """What a harness on a copy of this database needs to carry on from this one."""
        token = self.client.headers["Authorization"].removeprefix("Bearer ")
        return HarnessState(token, self._next_township, self._next_account)

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
        chain = list(reversed(parsed.ancestors()))  # from the province down to ``code``
        with self.session() as session:
            # one query for the whole chain: the harness makes units for nearly every account
            existing = set(session.exec(select(Unit.code).where(col(Unit.code).in_(chain))))
            created = False
            for ancestor in chain:
                level = parse_code(ancestor).level
                skip_province = level is Level.province and ancestor != parsed.code
                if skip_province or ancestor in existing:
                    continue
                label = name if ancestor == parsed.code and name else f"测试{level.label}{ancestor}"
                unit = Unit.build(ancestor, label)
                if unit.parent_code and unit.parent_code not in existing:
                    unit.parent_code = None  # a city is the root when no province is loaded
                session.add(unit)
                session.flush()
                existing.add(ancestor)
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


class SanminDemo(Sanmin):
    """The harness on a copy of a database holding the loaded demo county; ``report`` is what
    :func:`core.demo.load.load_demo` answered when it loaded that database."""

    def __init__(
        self, app: FastAPI, client: TestClient, state: HarnessState, report: DemoReport
    ) -> None:
        super().__init__(app, client, state)
        self.report = report


@dataclass(frozen=True)
class DemoTemplate:
    """A database holding the loaded demo, never written after it was made: an SQLite file,
    or a PostgreSQL schema (with the statements that copy its rows into another schema of
    the same migrations)."""

    url: str
    state: HarnessState
    report: DemoReport
    copy_rows: str = ""  # PostgreSQL: statements on "{schema}", the schema to fill


TEMPLATE_SCHEMA = "{schema}"


class DemoTemplates:
    """The loaded demo county once per pytest process per database kind, plugin set and
    settings (:meth:`get`, made when a test first asks), and copies of it (:meth:`copy_into`).

    Each template is made as a test would make it: the app on a new migrated database, the
    :class:`Sanmin` harness (the province and its administrator), then ``load_demo``.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._templates: dict[tuple[Any, ...], DemoTemplate] = {}
        self._schemas: list[tuple[str, str]] = []  # PostgreSQL (server URL, template schema)
        self._lock = threading.Lock()

    @staticmethod
    def _key(settings: Settings, registry: PluginRegistry) -> tuple[Any, ...]:
        """What a loaded demo depends on: the database kind, the plugins (a test's own plugin
        objects by identity) and every setting but the database's URL."""
        kind = make_url(settings.database_url).get_backend_name()
        plugins = tuple(
            (name, info.source, info.obj if info.source == "test" else None)
            for name, info in sorted(registry.plugins.items())
        )
        values = settings.model_dump(exclude={"database_url", "auto_migrate"})
        flat = tuple(
            (name, tuple(sorted(v)) if isinstance(v, (set, frozenset)) else repr(v))
            for name, v in sorted(values.items())
        )
        return (kind, plugins, flat)

    def get(self, settings: Settings, registry: PluginRegistry) -> DemoTemplate:
        """The template for ``settings`` and ``registry``, made (the demo loaded) if new."""
        key = self._key(settings, registry)
        with self._lock:
            template = self._templates.get(key)
            if template is None:
                template = self._templates[key] = self._make(settings, registry)
        return template

    def _make(self, settings: Settings, registry: PluginRegistry) -> DemoTemplate:
        from fastapi.testclient import TestClient

        from core.demo.load import load_demo

        postgres = make_url(settings.database_url).get_backend_name() == "postgresql"
        if postgres:
            base = _server_url(settings.database_url)
            schema = f"sanmin_demo_{uuid.uuid4().hex[:12]}"
            url = _with_search_path(base, schema)
            admin = make_engine(base)
            try:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            finally:
                admin.dispose()
            self._schemas.append((base, schema))
        else:
            url = f"sqlite:///{self.directory / f'demo-{uuid.uuid4().hex[:8]}.db'}"
        own = settings.model_copy(update={"database_url": url})
        if own.auto_migrate and prepare_migrated(url, registry):
            own = own.model_copy(update={"auto_migrate": False})
        app = create_app(own, registry=registry)
        try:
            with TestClient(app) as client:
                harness = Sanmin(app, client)
                report = load_demo(harness.engine, registry, harness.kernel.settings)
                state = harness.state
        finally:
            app.state.kernel.dispose()
        if postgres:
            return DemoTemplate(url, state, report, _copy_statements(base, schema))
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the main file
        finally:
            engine.dispose()
        return DemoTemplate(url, state, report)

    def copy_into(self, url: str, template: DemoTemplate, registry: PluginRegistry) -> None:
        """Give the new, empty database at ``url`` (of the template's kind) the template's
        schema and rows: a copy of the file on SQLite; on PostgreSQL, the migrated schema
        (:func:`core.db.templates.prepare_migrated`) filled with the template's rows, its
        sequences where the template's are."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            target = Path(parsed.database or "")
            if target.exists():
                raise ValueError(f"{target} exists: a demo copy needs a new database")
            shutil.copyfile(make_url(template.url).database or "", target)
            return
        schema = str(parsed.query.get("options", "")).removeprefix("-csearch_path=")
        if not prepare_migrated(url, registry):
            raise ValueError(f"{schema}: a demo copy needs a new, empty schema")
        engine = make_engine(_server_url(template.url))  # the template's database: one server
        try:
            with engine.begin() as conn:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:  # no parameters: the statements go in one round trip
                    cursor.execute(template.copy_rows.replace(TEMPLATE_SCHEMA, schema))
                finally:
                    cursor.close()
        finally:
            engine.dispose()

    def drop(self) -> None:
        """Drop the PostgreSQL template schemas (the SQLite files go with pytest's tmp)."""
        for base, schema in self._schemas:
            engine = make_engine(base)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                engine.dispose()
        self._schemas.clear()


def _with_search_path(base_url: str, schema: str) -> str:
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _server_url(url: str) -> str:
    """``url`` without the ``search_path`` option: the database itself, any schema."""
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "options"}
    return parsed.set(query=query).render_as_string(hide_password=False)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_statements(base: str, template: str) -> str:
    """Statements that replace the rows of a schema of the same migrations (named
    :data:`TEMPLATE_SCHEMA` in them) by those of the schema ``template``, and set its
    sequences as the template's are. Foreign-key triggers and the append-only guards are off
    for the transaction (as :func:`core.db.templates.recycle` does), so no order is needed;
    the version tables, the same in both, are left alone."""
    engine = make_engine(base)
    try:
        with engine.connect() as conn:
            columns = conn.exec_driver_sql(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                " JOIN information_schema.tables t"
                " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                " WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'"
                " AND c.is_generated = 'NEVER' ORDER BY c.table_name, c.ordinal_position",
                (template,),
            ).all()
            sequences = conn.exec_driver_sql(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s"
                " ORDER BY sequencename",
                (template,),
            ).all()
    finally:
        engine.dispose()
    tables: dict[str, list[str]] = {}
    for table, column in columns:
        if not table.endswith("alembic_version"):
            tables.setdefault(table, []).append(_quoted(column))
    target = _quoted(TEMPLATE_SCHEMA)
    statements = ["SET LOCAL session_replication_role = replica"]
    for table, names in tables.items():
        listed = ", ".join(names)
        statements.append(f"DELETE FROM {target}.{_quoted(table)}")
        statements.append(
            f"INSERT INTO {target}.{_quoted(table)} ({listed}) OVERRIDING SYSTEM VALUE"
            f" SELECT {listed} FROM {_quoted(template)}.{_quoted(table)}"
        )
    for sequence, last in sequences:
        name = f"{target}.{_quoted(sequence)}".replace("'", "''")
        value = f"{last}, true" if last is not None else "1, false"
        statements.append(f"SELECT setval('{name}', {value})")
    return ";\n".join(statements)


@pytest.fixture(scope="session")
def sanmin_demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    """The loaded demo templates of this pytest process, made when first asked for."""
    templates = DemoTemplates(tmp_path_factory.mktemp("demo-templates"))
    try:
        yield templates
    finally:
        templates.drop()


@pytest.fixture
def sanmin_demo(
    sanmin_settings: Settings,
    sanmin_registry: PluginRegistry,
    sanmin_demo_templates: DemoTemplates,
) -> Iterator[SanminDemo]:
    """The harness (as ``sanmin``) on a copy of the loaded demo county: units, plugin
    settings, demo accounts, archive, tickets and each practice's records, with the harness's
    province and administrator made before them. Writes go to this test's copy only;
    ``sanmin_demo.report`` is what ``load_demo`` answered when it loaded the template."""
    from fastapi.testclient import TestClient

    template = sanmin_demo_templates.get(sanmin_settings, sanmin_registry)
    sanmin_demo_templates.copy_into(sanmin_settings.database_url, template, sanmin_registry)
    settings = sanmin_settings.model_copy(update={"auto_migrate": False})  # copied, migrated
    app = create_app(settings, registry=sanmin_registry)
    try:
        with TestClient(app) as client:
            yield SanminDemo(app, client, template.state, deepcopy(template.report))
    finally:
        app.state.kernel.dispose()
