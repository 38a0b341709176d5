"""Throughput and query cost of the kernel services (forms, workflows, metrics), each against
a hand-written baseline measured in the same run.

Run from the repository root (about 1 min on 2 cores, a fifth of it loading the records)::

    python bench/services.py              # SQLite (a temporary file)
    python bench/services.py --postgres   # PostgreSQL, in a fresh schema dropped afterwards
    python bench/services.py --rows 100000  # fewer metric records, for a quick trial

What is measured (see docs/benchmarks.md, "Kernel services"):

1. Form submissions per second: ``POST /api/v1/p/bench/forms/visit/records`` (a six-field
   form about a grid, submitted by the demo grid worker with a bearer token) against a minimal
   endpoint in the same app that validates the same pydantic body behind the same
   ``require_actor`` dependency and inserts one row into a plain table with one prebuilt
   SQLAlchemy Core ``INSERT``. Both driven in-process through ASGI, one request at a time.
   Target: the form's throughput >= 50 % of the minimal endpoint's. For information: the
   service called directly, the service's four statements as Core in a minimal endpoint, and
   the minimal endpoint without ``require_actor``.
2. Workflow transitions per second, endpoint against endpoint as for forms:
   ``POST /api/v1/p/bench/workflows/case/instances/{id}/transitions/{t}`` (the grid worker's
   bearer token, ``{"version": v}``) against a minimal ``def`` endpoint in the same app behind
   the same ``require_actor`` dependency that runs a plain versioned update of a plain table
   (``UPDATE ... SET state, version = version + 1 WHERE id AND version``, one prebuilt Core
   statement in its own transaction, 409 when it matches no row), first in the route table
   as the forms baseline is. Target >= 50 %. For information, the same endpoint just before
   the route table's entry serving the transition route (both then pay the same route
   matching). Why endpoint against endpoint: a transition must also check scope and
   permission, ask the plugins' guards and write history, audit and outbox in the same
   transaction; against the bare ``UPDATE`` and commit, without HTTP and authentication on
   either side, no implementation can reach 50 % (those writes as prebuilt Core reach about
   25-35 %), so that comparison (``transition_workflow`` and a commit called directly) is
   for information, as are the service's five statements as prebuilt Core.
3. One township's metric for one month over 1,000,000 records of one county:
   ``metric_value(..., aggregates=False)`` (computed live from the records) against the raw
   SQL aggregate ``SELECT count(*) ... WHERE unit_code >= :lo AND unit_code < :hi AND
   visited_at >= :start AND visited_at < :end`` on a connection of the same engine, same
   table, same indexes. Target <= 2x. The pre-aggregated path (``metric_daily``, after a
   full rebuild) is shown for information.

Timing as in bench/hooks.py (whose helpers this imports): ``time.perf_counter_ns`` on short
batches with the GC off, the batches of a round interleaved, one warm-up round, medians (and
minima); ratios are medians of the per-round ratios of adjacent batches. The exit code is 0
even when a target is missed or a part fails: this is a report.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    text,
    update,
)
from sqlmodel import Session, select
from starlette.routing import Match

from core import (
    FormSpec,
    Metric,
    Permission,
    State,
    Transition,
    UTCDateTime,
    Workflow,
    hookimpl,
    start_workflow,
    transition_workflow,
    utcnow,
)
from core.audit.models import AuditEntry
from core.demo.load import DEMO_UNIT_FILES, load_demo
from core.events.models import OutboxEvent
from core.forms import service as forms
from core.forms.api import record_out
from core.forms.models import FormRecord
from core.identity.access import Actor
from core.identity.models import Account
from core.identity.service import actor_from_token, issue_token
from core.identity.web import require_actor
from core.metrics.compute import metric_value
from core.metrics.refresh import rebuild
from core.plugins.manifest import PluginManifest
from core.plugins.registry import PluginRegistry
from core.plugins.service import set_plugin_setting
from core.settings import Settings
from core.units.codes import parse_code, path_upper_bound
from core.web.app import create_app
from core.web.inputs import DB_INT_MAX
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python bench/services.py``: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

from bench.hooks import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    AsgiDriver,
    Stat,
    bench_database,
    part,
    report,
    timed_loop,
)

PLUGIN = "bench"
COUNTY = "330802000000"  # 柯城区, the demo county
TOWNSHIP = "330802001000"  # 府山街道
GRID = "330802001001001"  # 府山社区第一网格: the demo grid worker's grid
SEED = 20261127
ROUNDS = 15  # timed rounds after one warm-up round (forms, workflows)
BATCH = 20  # requests or transitions per batch
INSTANCES = BATCH  # workflow instances per path: each batch moves each of them once
METRIC_ROUNDS = 11
METRIC_BATCH = 3
RECORDS = 1_000_000
YEAR = 2025  # the records' local days: all of it
MONTH = (date(YEAR, 3, 1), date(YEAR, 3, 31))  # the period of the target line
THROUGHPUT_TARGET = 0.50  # at least this share of the baseline's operations per second
METRIC_TARGET = 2.0  # at most this many times the raw aggregate's time

# -- the bench plugin ----------------------------------------------------------------------------

TABLES = MetaData()
VISITS = Table(  # the plugin's own records, which its metric counts
    "bench_visit",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("unit_code", String(15), nullable=False),
    Column("visited_at", UTCDateTime(), nullable=False),
    Index("ix_bench_visit_unit_code", "unit_code"),
    Index("ix_bench_visit_visited_at", "visited_at"),
)
PLAIN_VISITS = Table(  # the minimal endpoint's table: the form's six fields as columns
    "bench_plain_visit",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("unit_code", String(15), nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("visitor", String(20), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("visited_on", Date, nullable=False),
    Column("way", String(8), nullable=False),
    Column("alone", Boolean, nullable=False),
    Column("note", String(500)),
)
PLAIN_CASES = Table(  # the plain versioned rows
    "bench_plain_case",
    TABLES,
    Column("id", Integer, primary_key=True),
    Column("unit_code", String(15), nullable=False),
    Column("state", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


class Visit(BaseModel):
    """A realistic six-field form: a grid worker's visit to a household."""

    visitor: str = Field(title="走访人", max_length=20)
    phone: str = Field(title="联系电话", max_length=20)
    visited_on: date = Field(title="走访日期")
    way: Literal["入户", "电话", "视频"] = Field(title="走访方式")
    alone: bool = Field(title="是否独居")
    note: str | None = Field(None, title="情况说明", max_length=500)


VISIT_DATA = {
    "visitor": "张三",
    "phone": "13800000000",
    "visited_on": "2026-03-01",
    "way": "入户",
    "alone": True,
    "note": "老人身体尚好，需要定期上门量血压",
}

CASE = Workflow(
    name="case",
    title="代办事项",
    initial="open",
    read_permission="bench.read",
    start_permission="bench.handle",
    states=(
        State("open", "待办"),
        State("working", "办理中"),
        State("done", "已办结", closed=True),
    ),
    transitions=(
        Transition("take", "接办", ("open",), "working", permission="bench.handle"),
        Transition("release", "退回", ("working",), "open", permission="bench.handle"),
        Transition("finish", "办结", ("working",), "done", permission="bench.handle"),
    ),
)
NEXT_STEP = {"open": ("take", "working"), "working": ("release", "open")}


class BenchPlugin:
    """A throwaway township plugin: one form, one workflow, one metric over its table."""

    PLUGIN = PluginManifest(name=PLUGIN, title="基准测试", version="0.1.0")

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        staff = ("grid_worker", "village_cadre", "township_admin", "county_admin")
        return [
            Permission("bench.read", "查看代办事项", granted_to=staff),
            Permission("bench.handle", "办理代办事项", granted_to=staff),
        ]

    @hookimpl
    def register_forms(self) -> list[FormSpec]:
        return [FormSpec(name="visit", title="走访记录", model=Visit)]

    @hookimpl
    def register_workflows(self) -> list[Workflow]:
        return [CASE]

    @hookimpl
    def register_metrics(self) -> list[Metric]:
        return [
            Metric(
                name="visits",
                title="走访次数",
                unit_label="次",
                table=VISITS,
                time_column="visited_at",
            )
        ]


# -- the application -----------------------------------------------------------------------------


@dataclass
class Bench:
    """The application under test, the grid worker's credentials and the database's name."""

    app: FastAPI
    token: str
    actor: Actor
    database: str

    @property
    def kernel(self) -> Any:
        return self.app.state.kernel

    @property
    def engine(self) -> Any:
        return self.app.state.kernel.engine

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


def build(url: str) -> Bench:
    """``create_app`` with the installed plugins and the bench plugin, its tables, the demo
    county, the plugin switched on in the county, and a bearer token for the grid worker."""
    registry = PluginRegistry().load(extra=[(PLUGIN, BenchPlugin())])
    assert PLUGIN in registry.plugins, registry.info(PLUGIN)
    app = create_app(Settings(database_url=url, auto_migrate=True), registry=registry)
    kernel = app.state.kernel
    TABLES.create_all(kernel.engine)
    load_demo(kernel.engine, registry)
    with Session(kernel.engine) as session:
        set_plugin_setting(
            session, registry, plugin=PLUGIN, unit_code=COUNTY, enabled=True, actor="bench"
        )
        worker = session.exec(select(Account).where(Account.username == "grid_worker")).one()
        token = issue_token(session, worker, "bearer", "127.0.0.1")
        session.commit()
        actor = actor_from_token(session, token, "bearer")
        if kernel.engine.dialect.name == "sqlite":
            database = f"SQLite {sqlite3.sqlite_version} (temporary file, WAL)"
        else:
            version = session.execute(text("SHOW server_version")).scalar()
            database = f"PostgreSQL {version} (fresh schema)"
    kernel.toggles.invalidate()
    assert actor is not None
    assert PLUGIN in kernel.scope(GRID).enabled
    return Bench(app, token, actor, database)


class PostDriver(AsgiDriver):
    """:class:`AsgiDriver` for requests with a method and a JSON body."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app)
        self.body = b""

    def request(
        self, method: str, path: str, query: bytes = b"", token: str | None = None
    ) -> dict[str, Any]:
        scope = self.scope(path, query)
        scope["method"] = method
        scope["headers"].append((b"content-type", b"application/json"))
        if token is not None:
            scope["headers"].append((b"authorization", f"Bearer {token}".encode()))
        return scope

    async def _receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, scope: dict[str, Any], body: bytes, status: int) -> None:
        """One request; raise unless it answers ``status``."""
        self.body, self.status = body, 0
        await self.app(dict(scope), self._receive, self._send)
        if self.status != status:
            raise RuntimeError(f"{scope['method']} {scope['path']} answered {self.status}")

    async def timed(self, requests: Sequence[tuple[dict[str, Any], bytes]], status: int) -> float:
        """ns per request over ``requests`` (scope and body), sent one after the other."""
        gc.disable()
        try:
            start = time.perf_counter_ns()
            for scope, body in requests:
                await self.send(scope, body, status)
            return (time.perf_counter_ns() - start) / len(requests)
        finally:
            gc.enable()


def rounds(batches: dict[str, Callable[[], Any]], n: int) -> dict[str, Stat]:
    """One warm-up round and ``n`` timed rounds of the batches, interleaved; a batch returns
    ns per operation, or an awaitable of it."""

    async def measure() -> dict[str, Stat]:
        samples: dict[str, list[float]] = {name: [] for name in batches}
        for round_ in range(n + 1):
            gc.collect()
            for name, batch in batches.items():
                value = batch()
                if asyncio.iscoroutine(value):
                    value = await value
                if round_:
                    samples[name].append(value)
        return {name: Stat(values) for name, values in samples.items()}

    return asyncio.run(measure())


# -- the report ----------------------------------------------------------------------------------


@dataclass
class Line:
    """A measurement against its baseline. ``per_second``: compared as operations per second
    (the target is a minimum share of the baseline's); else as time per operation (the target
    is a maximum ratio)."""

    label: str
    project: Stat  # ns per operation
    baseline: Stat | None
    key: str
    per_second: bool
    target: float | None = None

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios (baseline/project for throughput, project/baseline
        for time); of the medians when the two were not measured in the same rounds."""
        assert self.baseline is not None
        a, b = self.project.samples, self.baseline.samples
        if len(a) == len(b) > 1:
            pairs = zip(a, b, strict=True)
            return statistics.median(y / x if self.per_second else x / y for x, y in pairs)
        if self.per_second:
            return self.baseline.median / self.project.median
        return self.project.median / self.baseline.median

    def figure(self, stat: Stat) -> str:
        if self.per_second:
            return f"{1e9 / stat.median:,.0f} ({1e9 / stat.min:,.0f})"
        return f"{stat.median / 1e6:,.2f} ({stat.min / 1e6:,.2f})"

    def verdict(self) -> tuple[str, str, str, bool | None]:
        """Ratio, target and result cells, and whether the target is met (``None``: info)."""
        if self.baseline is None:
            return "-", "info", "", None
        ratio = f"{self.ratio:.1%}" if self.per_second else f"{self.ratio:.2f}x"
        if self.target is None:
            return ratio, "info", "", None
        if self.per_second:
            ok = self.ratio >= self.target
            target = f"≥{self.target:.0%}"
        else:
            ok = self.ratio <= self.target
            target = f"≤{self.target:.1f}x"
        return ratio, target, "PASS" if ok else "FAIL", ok


def print_lines(title: str, unit: str, lines: list[Line], legend: dict[str, str]) -> list[bool]:
    """A table like bench/hooks.py's; returns the verdicts of the lines with a target."""
    print(f"\n{title}")
    head = (
        f"{'measurement':<54} {'project ' + unit:>18} {'baseline ' + unit:>22} "
        f"{'ratio':>7} {'target':>7}  result"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for line in lines:
        baseline = "-" if line.baseline is None else f"{line.key} {line.figure(line.baseline)}"
        ratio, target, result, ok = line.verdict()
        if ok is not None:
            verdicts.append(ok)
        cells = f"{line.figure(line.project):>18} {baseline:>22} {ratio:>7} {target:>7}"
        print(f"{line.label:<54} {cells}  {result}")
    if lines[0].per_second:
        print(
            "per second: 1 / median time per operation (1 / minimum); ratio: median of the "
            "per-round ratios of throughput, project / baseline"
        )
    else:
        print(
            "ms per operation: median of the batches (min); ratio: median of the per-round "
            "ratios of time, project / baseline"
        )
    for key, text_ in legend.items():
        print(f"  {key}: {text_}")
    return verdicts


# -- 1. forms ------------------------------------------------------------------------------------


class PlainVisit(BaseModel):
    """The minimal endpoint's body: the same shape and model as a form submission."""

    subject: str = Field(min_length=1, max_length=64)
    data: Visit


AUDIT_INSERT = insert(AuditEntry.__table__)  # type: ignore[attr-defined]
EVENT_INSERT = insert(OutboxEvent.__table__)  # type: ignore[attr-defined]


def side_rows(
    actor: Actor, action: str, event: str, target: str, unit_code: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit entry and the outbox event a service writes with a change, as Core rows;
    ``target`` is ``type:id``."""
    now = utcnow()
    target_type, target_id = target.split(":")
    audit = {
        "at": now,
        "actor": actor.label,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "unit_code": unit_code,
        "after": payload,
    }
    outbox = {
        "name": event,
        "unit_code": unit_code,
        "township_code": TOWNSHIP,
        "subject": target,
        "actor_id": actor.id,
        "payload": payload,
        "occurred_at": now,
        "next_attempt_at": now,
    }
    return audit, outbox


def add_baseline_routes(app: FastAPI) -> None:
    """Minimal ``def`` endpoints first in the route table, all validating the same body and
    answering 201 with the new id:

    - ``/bench/visits``: behind ``require_actor``, one prebuilt Core ``INSERT`` of the six
      fields as columns, in its own transaction (the baseline);
    - ``/bench/visits-anonymous``: the same without ``require_actor``;
    - ``/bench/visits-same-writes``: behind ``require_actor``, the statements the forms
      service runs, as prebuilt Core statements in one transaction: the subject's unit
      (SELECT), the ``form_record`` row, its audit entry and its outbox event.
    """
    engine = app.state.kernel.engine
    plain = insert(PLAIN_VISITS)
    unit_exists = text("SELECT code FROM unit WHERE code = :code")
    record = insert(FormRecord.__table__)  # type: ignore[attr-defined]

    def store(body: PlainVisit, author: str) -> dict[str, int]:
        values = {"unit_code": body.subject, "author": author, "created_at": utcnow()}
        with engine.begin() as conn:
            found = conn.execute(plain, {**values, **body.data.model_dump()})
        return {"id": found.inserted_primary_key[0]}

    def with_actor(
        body: PlainVisit, actor: Annotated[Actor, Depends(require_actor)]
    ) -> dict[str, int]:
        return store(body, actor.label)

    def anonymous(body: PlainVisit) -> dict[str, int]:
        return store(body, "anonymous")

    def same_writes(
        body: PlainVisit, actor: Annotated[Actor, Depends(require_actor)]
    ) -> dict[str, int]:
        now = utcnow()
        with engine.begin() as conn:
            unit_code = conn.execute(unit_exists, {"code": body.subject}).scalar_one()
            row = {
                "plugin": PLUGIN,
                "form": "visit",
                "schema_version": 1,
                "subject_kind": "unit",
                "subject_id": body.subject,
                "unit_code": unit_code,
                "author": actor.label,
                "author_id": actor.id,
                "created_at": now,
                "data": body.data.model_dump(mode="json"),
            }
            record_id = conn.execute(record, row).inserted_primary_key[0]
            about = {"plugin": PLUGIN, "form": "visit", "record_id": record_id}
            entry, outbox = side_rows(
                actor, "form.submit", "form.submitted", f"form_record:{record_id}", unit_code, about
            )
            conn.execute(AUDIT_INSERT, entry)
            conn.execute(EVENT_INSERT, outbox)
        return {"id": record_id}

    before = len(app.router.routes)
    # ``response_model=None``: a ``def`` endpoint whose return is validated against its
    # annotation pays a second threadpool hop; the baseline must not be made slower than it is.
    for path, endpoint in [
        ("/bench/visits", with_actor),
        ("/bench/visits-anonymous", anonymous),
        ("/bench/visits-same-writes", same_writes),
    ]:
        app.add_api_route(path, endpoint, methods=["POST"], status_code=201, response_model=None)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added


def bench_forms(bench: Bench) -> list[Line]:
    add_baseline_routes(bench.app)
    driver = PostDriver(bench.app)
    unit = f"unit={GRID}".encode()
    body = json.dumps({"subject": GRID, "data": VISIT_DATA}, ensure_ascii=False).encode()
    form = driver.request("POST", f"/api/v1/p/{PLUGIN}/forms/visit/records", unit, bench.token)
    plain = driver.request("POST", "/bench/visits", unit, bench.token)
    anonymous = driver.request("POST", "/bench/visits-anonymous", unit)
    same_writes = driver.request("POST", "/bench/visits-same-writes", unit, bench.token)
    kernel, actor = bench.kernel, bench.actor
    spec = kernel.forms.get(PLUGIN, "visit")

    def direct(_: object) -> None:  # the route's work without FastAPI: service and output
        with Session(bench.engine) as session:
            new = forms.Submission(GRID, dict(VISIT_DATA))
            record, created = forms.submit(session, kernel, actor, PLUGIN, spec, new)
            assert created
            record_out(spec, record)

    stats = rounds(
        {  # not a target batch first: the first batch after gc.collect() runs on cold caches
            "direct": lambda: timed_loop(direct, range(BATCH)),
            "form": lambda: driver.timed([(form, body)] * BATCH, 201),
            "plain": lambda: driver.timed([(plain, body)] * BATCH, 201),
            "anonymous": lambda: driver.timed([(anonymous, body)] * BATCH, 201),
            "same_writes": lambda: driver.timed([(same_writes, body)] * BATCH, 201),
        },
        ROUNDS,
    )
    with bench.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM form_record")).scalar()
    assert stored == 3 * (ROUNDS + 1) * BATCH, stored
    return [
        Line(
            "form submission, POST .../forms/visit/records",
            stats["form"],
            stats["plain"],
            "M",
            True,
            THROUGHPUT_TARGET,
        ),
        Line(
            "  forms.submit + record_out called directly",
            stats["direct"],
            stats["plain"],
            "M",
            True,
        ),
        Line(
            "  the service's 4 statements, minimal endpoint (Core)",
            stats["same_writes"],
            stats["plain"],
            "M",
            True,
        ),
        Line(
            "  the minimal endpoint without require_actor",
            stats["anonymous"],
            stats["plain"],
            "M",
            True,
        ),
    ]


# -- 2. workflows --------------------------------------------------------------------------------


class SeenVersion(BaseModel):
    """The baseline endpoint's body: the version the caller saw, bounded as the route's is."""

    version: int = Field(ge=1, le=DB_INT_MAX)


CASE_TARGETS = dict(NEXT_STEP.values())  # the plain cases' transitions: take, release


CASES_PATH = "/bench/cases/{case_id}/transitions/{transition}"


def add_case_routes(app: FastAPI, driver: PostDriver, project_path: str) -> None:
    """The baseline endpoint E, a minimal ``def`` endpoint taking ``{"version": v}`` behind the
    same ``require_actor`` dependency as every Sanmin route: one prebuilt Core versioned update
    of ``bench_plain_case`` in its own transaction, 409 when it matches no row (a stale
    version), 404 for an unknown transition, else 200 with the id, the state and the new
    version. One threadpool hop, like the route it is compared with.

    Added twice: at ``CASES_PATH`` first in the route table, as the forms baseline is (the
    baseline of the target: no route matching before it); and at ``/api/v1{CASES_PATH}`` just
    before the entry of the table that serves ``project_path`` (the route under test), so that
    both pay the same route matching, for information.
    """
    engine = app.state.kernel.engine
    versioned = versioned_update(PLAIN_CASES)

    def move(case_id: int, transition: str, body: SeenVersion) -> dict[str, Any]:
        target = CASE_TARGETS.get(transition)
        if target is None:
            raise HTTPException(404, "no such transition")
        params = {"row_id": case_id, "seen": body.version, "new_state": target, "now": utcnow()}
        with engine.begin() as conn:
            if conn.execute(versioned, params).rowcount != 1:
                raise HTTPException(409, "stale version")
        return {"id": case_id, "state": target, "version": body.version + 1}

    probe = driver.request("POST", project_path)
    routes = app.router.routes
    serving = next(i for i, route in enumerate(routes) if route.matches(probe)[0] == Match.FULL)
    # At ``serving`` before at 0: an insertion at 0 moves every later entry one place down.
    for place, path in ((serving, f"/api/v1{CASES_PATH}"), (0, CASES_PATH)):
        app.add_api_route(
            path,
            move,
            methods=["POST"],
            dependencies=[Depends(require_actor)],
            response_model=None,  # else FastAPI validates the dict in a second threadpool hop
        )
        routes.insert(place, routes.pop())


def start_instances(bench: Bench, n: int) -> dict[int, tuple[str, int]]:
    """``n`` instances at the grid, by id: their state and version."""
    found = {}
    with Session(bench.engine) as session:
        for _ in range(n):
            started = start_workflow(session, bench.kernel, bench.actor, PLUGIN, CASE.name, GRID)
            found[started.id] = (started.state, started.version)
        session.commit()
    return found


def plain_cases(bench: Bench, n: int) -> dict[int, tuple[str, int]]:
    """``n`` rows of ``bench_plain_case`` at the grid, by id: their state and version."""
    with bench.engine.begin() as conn:
        ids = conn.execute(
            insert(PLAIN_CASES).returning(PLAIN_CASES.c.id),
            [
                {"unit_code": GRID, "state": "open", "version": 1, "updated_at": utcnow()}
                for _ in range(n)
            ],
        ).scalars()
        return {row_id: ("open", 1) for row_id in ids}


def bench_workflows(bench: Bench) -> list[Line]:
    kernel, engine, actor = bench.kernel, bench.engine, bench.actor
    driver = PostDriver(bench.app)
    api_prefix = f"/api/v1/p/{PLUGIN}/workflows/{CASE.name}/instances"
    add_case_routes(bench.app, driver, f"{api_prefix}/1/transitions/take")
    via_api, via_service, via_core = (start_instances(bench, INSTANCES) for _ in range(3))
    via_endpoint, via_alongside, plain = (plain_cases(bench, INSTANCES) for _ in range(3))
    versioned = versioned_update(PLAIN_CASES)

    def posts(instances: dict[int, tuple[str, int]], prefix: str) -> list[tuple[Any, bytes]]:
        """One transition request per instance, at its current version; moves the records."""
        requests = []
        for row_id, (state, version) in instances.items():
            step, target = NEXT_STEP[state]
            path = f"{prefix}/{row_id}/transitions/{step}"
            scope = driver.request("POST", path, token=bench.token)
            requests.append((scope, json.dumps({"version": version}).encode()))
            instances[row_id] = (target, version + 1)
        return requests

    def service_step(instance_id: int) -> None:
        state, version = via_service[instance_id]
        step, _ = NEXT_STEP[state]
        with Session(engine) as session:
            moved = transition_workflow(
                session,
                kernel,
                actor,
                instance_id,
                step,
                version,
                plugin=PLUGIN,
                workflow=CASE.name,
            )
            session.commit()
        via_service[instance_id] = (moved.state, moved.version)

    def plain_step(case_id: int) -> None:
        state, version = plain[case_id]
        _, target = NEXT_STEP[state]
        params = {"row_id": case_id, "seen": version, "new_state": target, "now": utcnow()}
        with engine.begin() as conn:
            if conn.execute(versioned, params).rowcount != 1:
                raise RuntimeError("stale version")
        plain[case_id] = (target, version + 1)

    core_step = same_statements(bench, via_core)
    # The first batch of a round runs just after gc.collect(), on cold caches, and is slower
    # for it: neither side of the target's ratio goes first.
    stats = rounds(
        {
            "service": lambda: timed_loop(service_step, list(via_service)),
            "plain": lambda: timed_loop(plain_step, list(plain)),
            "core": lambda: timed_loop(core_step, list(via_core)),
            "api": lambda: driver.timed(posts(via_api, api_prefix), 200),
            "endpoint": lambda: driver.timed(posts(via_endpoint, "/bench/cases"), 200),
            "alongside": lambda: driver.timed(posts(via_alongside, "/api/v1/bench/cases"), 200),
        },
        ROUNDS,
    )
    with engine.connect() as conn:
        steps = conn.execute(text("SELECT count(*) FROM workflow_history")).scalar()
        moved = conn.execute(text("SELECT sum(version - 1) FROM bench_plain_case")).scalar()
    assert steps == 3 * INSTANCES * (ROUNDS + 2), steps  # the starts and every round's moves
    assert moved == 3 * INSTANCES * (ROUNDS + 1), moved
    return [
        Line(
            "transition, POST .../instances/{id}/transitions/{t}",
            stats["api"],
            stats["endpoint"],
            "E",
            True,
            THROUGHPUT_TARGET,
        ),
        Line(
            "  same, against E where the route is in the table",
            stats["api"],
            stats["alongside"],
            "A",
            True,
        ),
        Line(
            "  transition_workflow + commit called directly",
            stats["service"],
            stats["plain"],
            "V",
            True,
        ),
        Line(
            "  the service's 5 statements as prebuilt Core",
            stats["core"],
            stats["plain"],
            "V",
            True,
        ),
        Line("  the baseline endpoint E itself", stats["endpoint"], stats["plain"], "V", True),
    ]


def versioned_update(table: Any) -> Any:
    """``UPDATE table SET state, version = version + 1, updated_at WHERE id AND version``."""
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.version == bindparam("seen"))
        .values(
            state=bindparam("new_state"), version=table.c.version + 1, updated_at=bindparam("now")
        )
    )


def same_statements(bench: Bench, instances: dict[int, tuple[str, int]]) -> Callable[[int], None]:
    """A transition written as the service writes it, with prebuilt Core statements in one
    transaction: the scoped read of the instance, the versioned update, the history row, the
    audit entry and the outbox event. No permission logic, no guard hook, no ORM."""
    engine, actor = bench.engine, bench.actor
    rows = WorkflowInstanceRow.__table__  # type: ignore[attr-defined]
    path = parse_code(GRID).path
    read = select(rows.c.state, rows.c.version, rows.c.unit_code).where(
        rows.c.id == bindparam("row_id"),
        rows.c.plugin == PLUGIN,
        rows.c.workflow == CASE.name,
        rows.c.unit_code >= path,
        rows.c.unit_code < path_upper_bound(path),
    )
    moved = versioned_update(rows)
    history = insert(WorkflowHistoryRow.__table__)  # type: ignore[attr-defined]

    def step(instance_id: int) -> None:
        now = utcnow()
        with engine.begin() as conn:
            state, version, unit_code = conn.execute(read, {"row_id": instance_id}).one()
            name, target = NEXT_STEP[state]
            params = {"row_id": instance_id, "seen": version, "new_state": target, "now": now}
            if conn.execute(moved, params).rowcount != 1:
                raise RuntimeError("stale version")
            change = {"from_state": state, "to_state": target, "version": version + 1}
            conn.execute(
                history,
                {
                    **change,
                    "instance_id": instance_id,
                    "transition": name,
                    "unit_code": unit_code,
                    "actor": actor.label,
                    "inputs": {},
                    "at": now,
                },
            )
            entry, outbox = side_rows(
                actor,
                f"workflow.{name}",
                "workflow.transitioned",
                f"workflow_instance:{instance_id}",
                unit_code,
                change,
            )
            conn.execute(AUDIT_INSERT, entry)
            conn.execute(EVENT_INSERT, outbox)
        instances[instance_id] = (target, version + 1)

    return step


# -- 3. metrics ----------------------------------------------------------------------------------


def county_units() -> list[str]:
    """The demo county's villages and grids: where records are attached."""
    codes = []
    for path in DEMO_UNIT_FILES:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            codes += [row[0] for row in list(csv.reader(handle))[1:]]
    return sorted(
        {c for c in codes if c.startswith(COUNTY[:6]) and (len(c) == 15 or c[9:] != "000")}
    )


def load_records(bench: Bench, n: int, zone: ZoneInfo) -> float:
    """``n`` visits spread evenly over the local year, on random villages and grids of the
    county, in time order; indexes built afterwards, then ANALYZE. Returns seconds taken."""
    rng = random.Random(SEED)
    units = rng.choices(county_units(), k=n)
    first = datetime(YEAR, 1, 1, tzinfo=zone).astimezone(UTC).timestamp()
    step = (datetime(YEAR + 1, 1, 1, tzinfo=zone).timestamp() - first) / n
    suffix = ".000000" if bench.sqlite else "+00"  # SQLite: SQLAlchemy's stored text
    stamps = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(first + int(i * step))) + suffix
        for i in range(n)
    )
    rows = zip(units, stamps, strict=False)
    started = time.perf_counter()
    with bench.engine.begin() as conn:
        for index in VISITS.indexes:
            index.drop(conn)
        if bench.sqlite:
            conn.exec_driver_sql(
                "INSERT INTO bench_visit (unit_code, visited_at) VALUES (?, ?)", list(rows)
            )
        else:
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy("COPY bench_visit (unit_code, visited_at) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for index in VISITS.indexes:
            index.create(conn)
    with bench.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - started


@dataclass(frozen=True)
class RawQuery:
    """The hand-written aggregate for one unit subtree and period, in driver SQL."""

    engine: Any
    sql: str
    params: tuple[Any, ...]

    def __call__(self, _: object = None) -> int:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(self.sql, self.params).scalar()

    def plan(self) -> str:
        """The database's query plan, on one line."""
        sqlite = self.engine.dialect.name == "sqlite"
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        with self.engine.connect() as conn:
            rows = [
                str(row[-1]).strip() for row in conn.exec_driver_sql(prefix + self.sql, self.params)
            ]
        if not sqlite:  # the scan nodes, without their costs
            rows = [re.sub(r"\s*\(cost=[^)]*\)", "", row) for row in rows if "Scan" in row]
        return " / ".join(rows)


def raw_aggregate(bench: Bench, unit_code: str, start: date, end: date, zone: ZoneInfo) -> RawQuery:
    """The subtree's unit-code range and the local days as UTC instants, bound as the column
    stores them (SQLite: SQLAlchemy's text form; PostgreSQL: ``timestamptz``)."""
    path = parse_code(unit_code).path
    lo, hi = (
        datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        for day in (start, end + timedelta(days=1))
    )
    sql = (
        "SELECT count(*) FROM bench_visit WHERE unit_code >= {0} AND unit_code < {0} "
        "AND visited_at >= {0} AND visited_at < {0}"
    )
    if bench.sqlite:
        stamp = "%Y-%m-%d %H:%M:%S.%f"
        times: tuple[Any, ...] = (lo.strftime(stamp), hi.strftime(stamp))
        return RawQuery(bench.engine, sql.format("?"), (path, path_upper_bound(path), *times))
    return RawQuery(bench.engine, sql.format("%s"), (path, path_upper_bound(path), lo, hi))


def metric_call(bench: Bench, unit_code: str, period: tuple[date, date], aggregates: bool) -> Any:
    """``metric_value`` of the bench metric, as a one-argument callable for ``timed_loop``."""

    def call(_: object = None) -> Any:
        return metric_value(
            bench.engine, bench.kernel, PLUGIN, "visits", unit_code, *period, aggregates=aggregates
        )

    return call


def bench_metrics(bench: Bench, n: int, notes: list[str]) -> list[Line]:
    kernel = bench.kernel
    zone = ZoneInfo(kernel.settings.timezone)
    seconds = load_records(bench, n, zone)
    notes.append(f"{n:,} records loaded and indexed in {seconds:.1f} s ({n / seconds:,.0f}/s)")
    cases = {
        "month": (TOWNSHIP, MONTH),
        "year": (TOWNSHIP, (date(YEAR, 1, 1), date(YEAR, 12, 31))),
        "county": (COUNTY, MONTH),
    }
    raw = {
        name: raw_aggregate(bench, unit, *period, zone) for name, (unit, period) in cases.items()
    }
    live = {name: metric_call(bench, unit, period, False) for name, (unit, period) in cases.items()}
    for name, (unit_code, (start, end)) in cases.items():
        expected = raw[name]()
        assert live[name]() == expected, (name, live[name](), expected)
        notes.append(f"{name}: {unit_code} {start}..{end}: {expected:,} records")
    notes.append(f"plan of the raw month query: {raw['month'].plan()}")

    started = time.perf_counter()
    fresh = rebuild(kernel, datetime(YEAR + 1, 1, 2, 12, tzinfo=zone))
    notes.append(
        f"daily aggregates rebuilt in {time.perf_counter() - started:.1f} s "
        f"(fresh through {fresh[f'{PLUGIN}.visits']})"
    )
    served = metric_call(bench, TOWNSHIP, MONTH, True)
    assert served() == raw["month"]()
    calls = range(METRIC_BATCH)
    batches: dict[str, Callable[[], float]] = {}
    for name in cases:
        batches[f"raw_{name}"] = lambda q=raw[name]: timed_loop(q, calls)
        batches[f"live_{name}"] = lambda f=live[name]: timed_loop(f, calls)
    batches["served_month"] = lambda: timed_loop(served, calls)
    stats = rounds(batches, METRIC_ROUNDS)
    month = f"{MONTH[0]:%Y-%m}"
    return [
        Line(
            f"township {TOWNSHIP}, {month}: computed live",
            stats["live_month"],
            stats["raw_month"],
            "R",
            False,
            METRIC_TARGET,
        ),
        Line(
            "  same, served from the daily aggregates",
            stats["served_month"],
            stats["raw_month"],
            "R",
            False,
        ),
        Line(
            f"  township, all of {YEAR}: computed live",
            stats["live_year"],
            stats["raw_year"],
            "R",
            False,
        ),
        Line(
            f"  county {COUNTY}, {month}: computed live",
            stats["live_county"],
            stats["raw_county"],
            "R",
            False,
        ),
    ]


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[bool]:
    verdicts: list[bool] = []
    with bench_database(args.postgres) as url:
        bench = build(url)
        print(f"database: {bench.database}; demo county; plugin {PLUGIN!r} on in {COUNTY}")
        verdicts += part(
            "1. forms",
            lambda: print_lines(
                f"1. Form submissions per second (in-process ASGI, one at a time, {BATCH} per "
                f"batch, {ROUNDS} rounds)",
                "/s",
                bench_forms(bench),
                {
                    "M": "POST /bench/visits: a minimal `def` endpoint in the same app, the same "
                    "pydantic body (subject + the six-field model), require_actor, one prebuilt "
                    "Core INSERT of the six fields as columns in its own transaction, 201 + id",
                },
            ),
        )
        verdicts += part(
            "2. workflows",
            lambda: print_lines(
                f"2. Workflow transitions per second ({INSTANCES} instances per path, each moved "
                f"once per batch, {ROUNDS} rounds)",
                "/s",
                bench_workflows(bench),
                {
                    "E": "POST /bench/cases/{id}/transitions/{t}: a minimal `def` endpoint "
                    "first in the route table of the same app (as M above), the same "
                    '{"version": v} body, require_actor, the versioned update V, 409 when it '
                    "matches no row, 200 + id, state, version",
                    "A": "E at /api/v1/bench/cases/..., just before the route table's entry "
                    "serving the transition route: the same route matching as that route",
                    "V": "plain versioned update: one prebuilt Core `UPDATE bench_plain_case SET "
                    "state, version = version + 1, updated_at WHERE id = :id AND version = "
                    ":seen` in its own transaction (engine.begin), rowcount checked",
                },
            ),
        )
        notes: list[str] = []

        def metrics() -> list[bool]:
            lines = bench_metrics(bench, args.rows, notes)
            verdicts = print_lines(
                f"3. A metric over {args.rows:,} records of one county ({METRIC_BATCH} calls per "
                f"batch, {METRIC_ROUNDS} rounds)",
                "ms",
                lines,
                {
                    "R": "the raw SQL aggregate on a connection of the same engine (checked out "
                    "per call, as metric_value does): SELECT count(*) FROM bench_visit WHERE "
                    "unit_code >= :lo AND unit_code < :hi AND visited_at >= :start AND "
                    "visited_at < :end; indexes on unit_code and on visited_at",
                },
            )
            for note in notes:
                print(f"  {note}")
            return verdicts

        verdicts += part("3. metrics", metrics)
        bench.engine.dispose()
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (SANMIN_TEST_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES_URL}) in a fresh schema, dropped afterwards",
    )
    parser.add_argument(
        "--rows", type=int, default=RECORDS, help=f"metric records (default {RECORDS:,})"
    )
    args = parser.parse_args(argv)

    return report("kernel services", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
