"""Tickets (issue 6) under load and at a million: creation and transitions over HTTP with 50
connections, a retry storm of Idempotency-Keys, and the county KPIs over 1,000,000 tickets,
each figure next to a baseline measured in the same run.

Run from the repository root (at full size 9-10 min per database on a busy 2-core machine, of
which the untimed refresh of the aggregates over 1,000,000 tickets takes 2.5 min)::

    python bench/tickets.py              # SQLite (temporary files)
    python bench/tickets.py --postgres   # PostgreSQL, in fresh schemas dropped afterwards
    python bench/tickets.py --quick      # a small trial: fewer requests, 20,000 tickets

What is measured (see docs/benchmarks.md, "Tickets"):

1. ``POST /api/v1/tickets`` under 50 concurrent keep-alive connections: the app as deployed
   (``create_app`` with the installed plugins; knock_door, tea_house, red_proxy and
   mobile_office switched on at county 330802) under uvicorn in a child process (1 worker,
   127.0.0.1), the demo grid worker's bearer token, a public-repair request at the grid
   worker's grid, every request with its own ``Idempotency-Key``: authentication, validation,
   the idempotency check, the workflow instance and its history, the ticket, the key, the
   outbox events and the audit entries. Baseline: a minimal FastAPI app (one ``def``
   endpoint, the same JSON body read into a pydantic model, one prebuilt Core ``INSERT`` of
   one row into a one-table database of the same kind, engine from
   ``core.db.engine.make_engine`` as the project's) under the same uvicorn settings in its own
   child process. The load comes from ``bench/loadgen.py`` (asyncio, standard library) in a
   separate process, sending a fixed list of requests (each its own key, or its own ticket);
   wrk is not installed on the machine the figures come from. Targets: throughput >= 40% of
   the baseline's; p99 <= 2x the baseline's; no error, timeout or unexpected status.
2. ``POST /api/v1/tickets/{id}/transitions/accept`` with ``{"version": 1}`` on the tickets
   the same round just created (each request its own ticket, at its current version),
   against the creation throughput of (1) in the same round. Target >= 50%.
3. A retry storm: 200 distinct Idempotency-Keys x 10 repeats each, shuffled (fixed seed), over
   50 connections. Targets: tickets, workflow instances, keys and audit entries created equal
   the distinct keys exactly (counted in the database); no 5xx, timeout or broken connection.
4. The county KPIs over 1,000,000 tickets (``executemany`` on SQLite, ``COPY`` on PostgreSQL,
   straight into ``workflow_instance`` and ``ticket``, secondary indexes dropped during the
   load and rebuilt after, then ``ANALYZE``), submitted over 2025 across the county's grids
   with realistic milestones (seeded): ``metric_value`` of ``tickets.satisfaction_rate`` and
   ``tickets.resolution_rate`` for county 330802 and one month, served from the daily
   aggregates (refreshed first with ``core.metrics.refresh.refresh_metric``, untimed), against
   the raw SQL aggregate computing the same value in one statement on a connection of the same
   engine. Target <= 2x. Computed live (``aggregates=False``) for information. The answers are
   compared before timing.

Timing of (4) as in bench/hooks.py (whose helpers this imports): batches with the GC off, one
warm-up round then interleaved rounds, ratio = median of the per-round ratios. The HTTP parts
run one warm-up round then rounds of baseline, creation and transition batches (the order of
the first two alternating), ratio = median of the per-round ratios. The exit code is 0 even
when a target is missed or a part fails: this is a report.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, text
from sqlmodel import Session, select

from core.db.engine import make_engine
from core.db.types import UTCDateTime, utcnow
from core.demo.load import load_demo
from core.identity.models import Account
from core.identity.service import issue_token
from core.metrics.compute import metric_value
from core.metrics.periods import local_day
from core.metrics.refresh import refresh_metric
from core.plugins.registry import PluginRegistry
from core.plugins.service import set_plugin_setting
from core.settings import Settings
from core.tickets.models import CHANNELS, SATISFACTION_LEVELS
from core.tickets.types import CORE_TYPES
from core.units.codes import Level, parse_code, path_upper_bound
from core.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python bench/tickets.py``: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

from bench.hooks import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    Stat,
    bench_database,
    free_port,
    interleaved,
    loadavg,
    part,
    report,
    timed_loop,
    wait_ready,
)

EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Timeout)\b")
LOADGEN = Path(__file__).resolve().with_name("loadgen.py")
COUNTY = "330802000000"  # 柯城区, the demo county
GRID = "330802001001001"  # 府山社区第一网格: the demo grid worker's grid
PLUGINS = ("knock_door", "tea_house", "red_proxy", "mobile_office")
SEED = 20261127
CONNECTIONS = 50
TIMEOUT_S = 30.0  # per request: longer counts as a timeout
WARMUP = 100  # requests per batch in the warm-up round
FULL = {"requests": 500, "rounds": 3, "keys": 200, "repeats": 10, "tickets": 1_000_000}
QUICK = {"requests": 200, "rounds": 2, "keys": 50, "repeats": 10, "tickets": 20_000}
METRIC_ROUNDS = 3
METRIC_BATCH = 1  # a live or raw county month over 10^6 tickets takes seconds
YEAR = 2025  # the generated tickets are submitted over this local year
MONTH = (date(YEAR, 6, 1), date(YEAR, 6, 30))  # the KPIs' period
KPIS = ("satisfaction_rate", "resolution_rate")
LOAD_CHUNK = 50_000

CREATE_TARGET = 0.40  # throughput, share of the baseline's
P99_TARGET = 2.0  # p99, times the baseline's
TRANSITION_TARGET = 0.50  # share of the creation throughput
KPI_TARGET = 2.0  # time, times the raw aggregate's


# -- the servers -------------------------------------------------------------------------------

NOTES = MetaData()
NOTE = Table(  # the minimal endpoint's one table
    "bench_note",
    NOTES,
    Column("id", Integer, primary_key=True),
    Column("type", String(40), nullable=False),
    Column("unit_code", String(15), nullable=False),
    Column("title", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("reporter_name", String(100)),
    Column("reporter_phone", String(20)),
    Column("created_at", UTCDateTime(), nullable=False),
)
NOTE_INSERT = insert(NOTE)


class NoteBody(BaseModel):
    """The minimal endpoint's body: the same JSON the ticket requests send."""

    type: str = Field(max_length=40)
    unit_code: str = Field(max_length=15)
    title: str = Field(max_length=100)
    description: str = Field(max_length=2000)
    reporter_name: str | None = Field(None, max_length=100)
    reporter_phone: str | None = Field(None, max_length=20)
    extra: dict[str, Any] = {}


def minimal_app(url: str) -> FastAPI:
    """One ``def`` endpoint inserting one row with one prebuilt Core statement."""
    engine = make_engine(url)
    NOTES.create_all(engine)
    app = FastAPI()

    @app.post("/notes", status_code=201)
    def create_note(body: NoteBody) -> dict[str, int]:
        row = body.model_dump(exclude={"extra"})
        with engine.begin() as conn:
            new_id = conn.execute(NOTE_INSERT, {**row, "created_at": utcnow()}).inserted_primary_key
        return {"id": new_id[0]}

    return app


def serve(kind: str, port: int, url: str) -> None:
    """Child process: the project's app or the minimal one under uvicorn, same settings."""
    import uvicorn

    if kind == "app":
        app = create_app(Settings(database_url=url), registry=PluginRegistry().load())
    else:
        app = minimal_app(url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def server(kind: str, url: str) -> Iterator[int]:
    """A uvicorn child process serving ``kind`` on a free port; yields the port. Its stderr
    goes to a file (a pipe nobody reads would block the server once full); what it wrote is
    summed up afterwards."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(port), url],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            if not wait_ready(port, proc, timeout=60):
                raise RuntimeError(
                    f"uvicorn ({kind}) did not start on 127.0.0.1:{port}: {tail(log, 800)}"
                )
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for line in errors_logged(log):
                print(f"  the {kind} server logged: {line}")


def errors_logged(log: Any) -> list[str]:
    """The exception lines (``...Error: message``) a server wrote to stderr, each with how
    many times."""
    log.seek(0)
    found: dict[str, int] = {}
    for line in log.read().decode(errors="replace").splitlines():
        if EXCEPTION_LINE.match(line):
            found[line[:160]] = found.get(line[:160], 0) + 1
    return [f"{n:,} x {line}" for line, n in found.items()]


def tail(log: Any, size: int) -> str:
    """The last ``size`` bytes of a file, as text."""
    end = log.seek(0, 2)
    log.seek(max(0, end - size))
    return log.read().decode(errors="replace").strip()


# -- the load ----------------------------------------------------------------------------------

Request = tuple[str, str, list[list[str]], str]


@dataclass
class Batch:
    """What the load generator saw for one batch of requests."""

    requests: int
    seconds: float
    latencies: list[int]  # ns
    statuses: dict[int, int]
    timeouts: int
    errors: int
    reconnects: int  # requests resent once: the server had closed their connection
    failed: list[str]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def quantile(self, q: float) -> float:
        """ms."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e6

    def unexpected(self, expected: Sequence[int]) -> int:
        """Timeouts, broken connections and answers of another status."""
        other = sum(n for status, n in self.statuses.items() if status not in expected)
        return self.timeouts + self.errors + other


def generator() -> str:
    """Which load generator runs (wrk is not used: see the module's docstring)."""
    found = "installed, not used" if shutil.which("wrk") else "not installed"
    return f"bench/loadgen.py (asyncio, a separate process; wrk {found})"


def load(port: int, requests: list[Request]) -> Batch:
    """Send ``requests`` over :data:`CONNECTIONS` connections from a separate process."""
    spec = {"port": port, "connections": CONNECTIONS, "timeout": TIMEOUT_S, "requests": requests}
    done = subprocess.run(
        [sys.executable, str(LOADGEN)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * len(requests) / CONNECTIONS + 120,
    )
    if done.returncode:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-2000:]}")
    got = json.loads(done.stdout)
    return Batch(
        len(requests),
        got["seconds"],
        got["latencies_ns"],
        {int(k): v for k, v in got["statuses"].items()},
        got["timeouts"],
        got["errors"],
        got["reconnects"],
        got["failed"],
    )


# -- the application ---------------------------------------------------------------------------


@dataclass
class Bench:
    url: str
    minimal_url: str
    engine: Any
    kernel: Any
    token: str
    database: str
    sizes: dict[str, int]

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


def build(url: str, minimal_url: str, sizes: dict[str, int]) -> Bench:
    """Migrate, load the demo (units, accounts), switch the four plugins on at the county and
    issue the grid worker a bearer token."""
    registry = PluginRegistry().load()
    for name in PLUGINS:
        assert name in registry.plugins, registry.info(name)
    app = create_app(Settings(database_url=url, auto_migrate=True), registry=registry)
    kernel = app.state.kernel
    load_demo(kernel.engine, registry)
    with Session(kernel.engine) as session:
        for name in PLUGINS:
            set_plugin_setting(
                session, registry, plugin=name, unit_code=COUNTY, enabled=True, actor="bench"
            )
        worker = session.exec(select(Account).where(Account.username == "grid_worker")).one()
        token = issue_token(session, worker, "bearer", "127.0.0.1")
        session.commit()
        if kernel.engine.dialect.name == "sqlite":
            database = f"SQLite {sqlite3.sqlite_version} (temporary files, WAL)"
        else:
            version = session.execute(text("SHOW server_version")).scalar()
            database = f"PostgreSQL {version} (fresh schemas)"
    kernel.toggles.invalidate()
    enabled = kernel.scope(GRID).enabled
    assert all(name in enabled for name in PLUGINS), enabled
    return Bench(url, minimal_url, kernel.engine, kernel, token, database, sizes)


def ticket_body(title: str) -> str:
    return json.dumps(
        {
            "type": "public_repair",
            "unit_code": GRID,
            "title": title,
            "description": "3 号楼前路灯坏了一周，晚上出行不便",
            "extra": {"facility": "路灯"},
            "reporter_name": "王小明",
            "reporter_phone": "13812345678",
        },
        ensure_ascii=False,
    )


def headers(token: str, key: str | None = None) -> list[list[str]]:
    found = [["Content-Type", "application/json"], ["Authorization", f"Bearer {token}"]]
    return found + ([["Idempotency-Key", key]] if key else [])


# -- 1 and 2: creation and transitions over HTTP -----------------------------------------------


@dataclass
class Line:
    """A figure per round against its baseline's. ``higher``: more is better (throughput: the
    target is a minimum share); else less is better (the target is a maximum ratio)."""

    label: str
    project: list[float]
    baseline: list[float] | None
    key: str
    unit: str
    higher: bool
    target: float | None = None

    @property
    def ratio(self) -> float:
        assert self.baseline is not None
        return statistics.median(p / b for p, b in zip(self.project, self.baseline, strict=True))

    def cells(self) -> tuple[str, str, str, str, bool | None]:
        def fmt(values: list[float]) -> str:
            value = statistics.median(values)
            return f"{value:,.0f}" if self.unit == "/s" else f"{value:,.2f}"

        project = f"{fmt(self.project)} {self.unit}"
        if self.baseline is None:
            return project, "-", "-", "info", None
        baseline = f"{self.key} {fmt(self.baseline)} {self.unit}"
        if self.higher:
            ratio = f"{self.ratio:.1%}"
        else:  # served from the aggregates, a ratio can be far below 0.01
            ratio = f"{self.ratio:.2f}x" if self.ratio >= 0.01 else f"{self.ratio:.4f}x"
        if self.target is None:
            return project, baseline, ratio, "info", None
        ok = self.ratio >= self.target if self.higher else self.ratio <= self.target
        target = f"≥{self.target:.0%}" if self.higher else f"≤{self.target:.1f}x"
        return project, baseline, ratio, target, ok


@dataclass
class Check:
    """A count that must be exactly ``expected``."""

    label: str
    found: int
    expected: int

    @property
    def ok(self) -> bool:
        return self.found == self.expected


def print_report(
    title: str, lines: list[Line], checks: list[Check], legend: dict[str, str], notes: list[str]
) -> list[bool]:
    print(f"\n{title}")
    head = (
        f"{'measurement':<50} {'project':>14} {'baseline':>16} {'ratio':>7} {'target':>7}  result"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for line in lines:
        project, baseline, ratio, target, ok = line.cells()
        if ok is not None:
            verdicts.append(ok)
        result = "" if ok is None else "PASS" if ok else "FAIL"
        print(f"{line.label:<50} {project:>14} {baseline:>16} {ratio:>7} {target:>7}  {result}")
    for check in checks:
        verdicts.append(check.ok)
        found, expected = f"{check.found:,}", f"= {check.expected:,}"
        result = "PASS" if check.ok else "FAIL"
        print(f"{check.label:<50} {found:>14} {'':>16} {'':>7} {expected:>7}  {result}")
    for key, text_ in legend.items():
        print(f"  {key}: {text_}")
    for note in notes:
        print(f"  {note}")
    return verdicts


def bench_http(bench: Bench) -> list[bool]:
    n, rounds_ = bench.sizes["requests"], bench.sizes["rounds"]
    sides: dict[str, list[Batch]] = {"base": [], "create": [], "accept": []}
    answered = {"create": 0, "accept": 0}  # 201s and 200s, warm-up round included
    token = bench.token
    tickets_before = bench.scalar("SELECT count(*) FROM ticket")
    accepted_before = bench.scalar("SELECT count(*) FROM ticket WHERE state = 'accepted'")
    audit_before = bench.scalar("SELECT count(*) FROM audit_entry WHERE action = 'ticket.create'")
    with server("app", bench.url) as app_port, server("minimal", bench.minimal_url) as min_port:
        for round_ in range(rounds_ + 1):
            size = WARMUP if round_ == 0 else n
            bodies = [ticket_body(f"路灯不亮（{round_}-{i}）") for i in range(size)]
            base = [("POST", "/notes", headers(token), body) for body in bodies]
            create = [
                ("POST", "/api/v1/tickets", headers(token, f"create-{round_}-{i}"), body)
                for i, body in enumerate(bodies)
            ]

            def run_create(create: list[Request] = create) -> tuple[Batch, list[int]]:
                last = bench.scalar("SELECT coalesce(max(id), 0) FROM ticket")
                batch = load(app_port, create)
                with bench.engine.connect() as conn:
                    ids = list(
                        conn.execute(
                            text("SELECT id FROM ticket WHERE id > :last ORDER BY id"),
                            {"last": last},
                        ).scalars()
                    )
                return batch, ids

            if round_ % 2:
                base_batch = load(min_port, base)
                create_batch, ids = run_create()
            else:
                create_batch, ids = run_create()
                base_batch = load(min_port, base)
            accept = [
                (
                    "POST",
                    f"/api/v1/tickets/{i}/transitions/accept",
                    headers(token),
                    '{"version": 1}',
                )
                for i in ids
            ]
            accept_batch = load(app_port, accept)
            answered["create"] += create_batch.statuses.get(201, 0)
            answered["accept"] += accept_batch.statuses.get(200, 0)
            if round_:
                sides["base"].append(base_batch)
                sides["create"].append(create_batch)
                sides["accept"].append(accept_batch)
    created = bench.scalar("SELECT count(*) FROM ticket") - tickets_before
    audited = (
        bench.scalar("SELECT count(*) FROM audit_entry WHERE action = 'ticket.create'")
        - audit_before
    )
    accepted = (
        bench.scalar("SELECT count(*) FROM ticket WHERE state = 'accepted'") - accepted_before
    )
    keys = bench.scalar("SELECT count(*) FROM ticket_idempotency WHERE key LIKE 'create-%'")
    minimal = make_engine(bench.minimal_url)
    with minimal.connect() as conn:
        notes_rows = conn.execute(text("SELECT count(*) FROM bench_note")).scalar()
    minimal.dispose()

    def rates(side: str) -> list[float]:
        return [b.rate for b in sides[side]]

    def p(side: str, q: float) -> list[float]:
        return [b.quantile(q) for b in sides[side]]

    def bad(side: str, expected: int) -> int:
        return sum(b.unexpected([expected]) for b in sides[side])

    lines = [
        Line(
            "1. POST /api/v1/tickets, throughput",
            rates("create"),
            rates("base"),
            "M",
            "/s",
            True,
            CREATE_TARGET,
        ),
        Line("   p99 latency", p("create", 0.99), p("base", 0.99), "M", "ms", False, P99_TARGET),
        Line("   p50 latency", p("create", 0.50), p("base", 0.50), "M", "ms", False),
        Line(
            "2. POST .../{id}/transitions/accept, throughput",
            rates("accept"),
            rates("create"),
            "C",
            "/s",
            True,
            TRANSITION_TARGET,
        ),
        Line("   p99 latency", p("accept", 0.99), p("create", 0.99), "C", "ms", False),
        Line("   p50 latency", p("accept", 0.50), p("create", 0.50), "C", "ms", False),
    ]
    checks = [
        Check("1. errors, timeouts or not 201 (timed rounds)", bad("create", 201), 0),
        Check("   baseline M: errors, timeouts or not 201", bad("base", 201), 0),
        Check("   tickets in the database = 201 answers (all rounds)", created, answered["create"]),
        Check("   audit entries = 201 answers", audited, answered["create"]),
        Check("   Idempotency-Keys stored = 201 answers", keys, answered["create"]),
        Check("2. errors, timeouts or not 200 (timed rounds)", bad("accept", 200), 0),
        Check("   tickets accepted in the database = 200 answers", accepted, answered["accept"]),
    ]
    notes = [
        f"load: {generator()}, {CONNECTIONS} connections, {n:,} requests per batch, "
        f"{rounds_} rounds after a warm-up round of {WARMUP}; rows M wrote: {notes_rows:,}",
    ]
    for side in sides:
        for batch in sides[side]:
            notes += [f"{side}: {text_}" for text_ in batch.failed[:2]]
            if batch.timeouts or batch.errors or batch.reconnects:
                notes.append(
                    f"{side}: {batch.timeouts} timeouts, {batch.errors} broken, "
                    f"{batch.reconnects} resent after the server closed the connection"
                )
    per_round = ", ".join(
        f"{b.rate:,.0f}/{c.rate:,.0f}/{a.rate:,.0f}"
        for b, c, a in zip(sides["base"], sides["create"], sides["accept"], strict=True)
    )
    notes.append(f"per round, M/create/accept req/s: {per_round}")
    return print_report(
        f"1-2. Tickets over HTTP (uvicorn, 1 worker, {CONNECTIONS} connections)",
        lines,
        checks,
        {
            "M": "minimal FastAPI app in its own uvicorn child (same settings): a `def` "
            "endpoint, the same JSON body into a pydantic model, one prebuilt Core INSERT of "
            "one row in a one-table database of the same kind (make_engine), 201 + id",
            "C": "ticket creation (line 1) in the same round",
        },
        notes,
    )


# -- 3. the retry storm ------------------------------------------------------------------------


def bench_storm(bench: Bench) -> list[bool]:
    keys, repeats = bench.sizes["keys"], bench.sizes["repeats"]
    order = [k for k in range(keys) for _ in range(repeats)]
    random.Random(SEED).shuffle(order)
    requests = [
        (
            "POST",
            "/api/v1/tickets",
            headers(bench.token, f"storm-{k}"),
            ticket_body(f"井盖松动 {k}"),
        )
        for k in order
    ]
    counts = (
        "SELECT count(*) FROM ticket",
        "SELECT count(*) FROM workflow_instance",
        "SELECT count(*) FROM ticket_idempotency",
        "SELECT count(*) FROM audit_entry WHERE action = 'ticket.create'",
    )
    before = [bench.scalar(sql) for sql in counts]
    with server("app", bench.url) as port:
        batch = load(port, requests)
    after = [bench.scalar(sql) for sql in counts]
    made = [a - b for a, b in zip(after, before, strict=True)]
    server_errors = sum(n for status, n in batch.statuses.items() if status >= 500)
    statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(batch.statuses.items()))
    checks = [
        Check("tickets created (in the database)", made[0], keys),
        Check("workflow instances created", made[1], keys),
        Check("Idempotency-Keys stored", made[2], keys),
        Check("audit entries ticket.create", made[3], keys),
        Check("answers 201 (created)", batch.statuses.get(201, 0), keys),
        Check("answers 5xx", server_errors, 0),
        Check("timeouts or broken connections", batch.timeouts + batch.errors, 0),
    ]
    notes = [
        f"{keys} keys x {repeats} repeats, shuffled (seed {SEED}), {CONNECTIONS} connections, "
        f"{generator()}: {batch.seconds:.1f} s, {batch.rate:,.0f} req/s, p50 "
        f"{batch.quantile(0.5):.1f} ms, p99 {batch.quantile(0.99):.1f} ms",
        f"statuses: {statuses}; {batch.reconnects} requests resent once after the server "
        "closed their keep-alive connection",
        *batch.failed,
    ]
    return print_report(
        f"3. Retry storm: {keys} Idempotency-Keys x {repeats} repeats", [], checks, {}, notes
    )


# -- 4. the county KPIs over a million tickets -------------------------------------------------


def county_grids(bench: Bench) -> list[str]:
    with bench.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code FROM unit WHERE code LIKE :county AND length(code) = 15"),
            {"county": COUNTY[:6] + "%"},
        )
        return sorted(code for (code,) in rows)


TICKET_COLUMNS = (
    "id", "instance_id", "type", "nature", "channel", "priority", "unit_code", "township_code",
    "origin_code", "county_code", "state", "version", "due_at", "title", "description",
    "reporter_name", "reporter_phone", "anonymous", "confidential", "extra", "submitted_at",
    "respond_due_at", "handle_due_at", "accepted_at", "signed_at", "resolved_at", "rated_at",
    "closed_at", "responded_on_time", "resolved_on_time", "level", "resolved_level",
    "escalations", "reopens", "rating", "satisfaction", "solved", "public", "created_by",
    "updated_at",
)  # fmt: skip
INSTANCE_COLUMNS = (
    "id", "plugin", "workflow", "unit_code", "township_code", "state", "closed", "version",
    "due_at", "created_at", "created_by", "updated_at",
)  # fmt: skip
HOUR = 3600
CLOSED = {"rejected", "rated", "archived", "cancelled"}
NATURES_ = ("help", "help", "help", "complaint", "consult", "suggestion")


def generate(
    n: int, grids: list[str], first_id: int, sqlite: bool
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """``n`` (instance, ticket) rows: submitted evenly over the local year :data:`YEAR` on
    random grids; 2% still submitted, 1% rejected, 3% in progress, the rest resolved (5% of
    those escalated to the township, 4% reopened once), 75% of the resolved rated (5-level
    scale weighted towards satisfied); the milestones follow each other by random delays."""
    rng = random.Random(SEED)
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(YEAR, 1, 1, tzinfo=zone).timestamp()
    step = (datetime(YEAR + 1, 1, 1, tzinfo=zone).timestamp() - start) / n
    suffix = ".000000" if sqlite else "+00"
    townships = {g: parse_code(g).ancestor_at(Level.township) or g for g in grids}
    types = [t.code for t in CORE_TYPES]
    channels = list(CHANNELS)

    days: dict[int, str] = {}
    minutes = [f" {m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
    seconds_ = [f"{s:02d}{suffix}" for s in range(60)]
    ratings = [5] * 50 + [4] * 25 + [3] * 10 + [2] * 7 + [1] * 8  # weights of the 5 levels

    def stamp(seconds: float | None) -> str | None:
        """The UTC instant as the column stores it (whole seconds), from tables rather than
        ``strftime`` per call (eight per ticket)."""
        if seconds is None:
            return None
        day, rest = divmod(int(seconds), 86400)
        if day not in days:
            days[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
        return days[day] + minutes[rest // 60] + seconds_[rest % 60]

    for i in range(n):
        row_id = first_id + i
        grid = grids[rng.randrange(len(grids))]
        township = townships[grid]
        submitted = start + i * step
        outcome = rng.random()
        accepted = signed = resolved = rated = closed = None
        responded = on_time = resolved_level = rating = satisfaction = solved = None
        unit, level, escalations, reopens, due = grid, 0, 0, 0, None
        if outcome < 0.02:
            state, version, due = "submitted", 1, submitted + 24 * HOUR
        else:
            accepted = submitted + rng.uniform(0.2, 8) * HOUR
            if outcome < 0.03:
                state, version, closed = "rejected", 2, accepted
            else:
                signed = accepted + rng.uniform(0.1, 30) * HOUR
                responded = signed - submitted <= 24 * HOUR
                if rng.random() < 0.05:
                    unit, level, escalations = township, 2, 1
                if outcome < 0.06:
                    state, version, due = "in_progress", 3 + escalations, signed + 120 * HOUR
                else:
                    resolved = signed + min(rng.expovariate(1 / 40), 600) * HOUR
                    on_time = resolved - signed <= 120 * HOUR
                    resolved_level = level if level else (0 if rng.random() < 0.85 else 1)
                    reopens = 1 if rng.random() < 0.04 else 0
                    version = 4 + escalations + 3 * reopens
                    if rng.random() < 0.75:
                        rated = resolved + rng.uniform(1, 72) * HOUR
                        rating = ratings[rng.randrange(100)]
                        satisfaction = SATISFACTION_LEVELS[rating][1]
                        solved = rating >= 3 or rng.random() < 0.2
                        state, version, closed = "rated", version + 1, rated
                    else:
                        state = "resolved"
        last = max(t for t in (submitted, accepted, signed, resolved, rated) if t is not None)
        created_by = "account:grid_worker"
        instance = (
            row_id, "tickets", "ticket", unit, township, state, state in CLOSED, version,
            stamp(due), stamp(submitted), created_by, stamp(last),
        )  # fmt: skip
        ticket = (
            row_id, row_id, types[i % len(types)], NATURES_[i % len(NATURES_)],
            channels[rng.randrange(len(channels))], "urgent" if i % 10 == 0 else "normal",
            unit, township, grid, COUNTY, state, version, stamp(due), "路灯不亮",
            "3 号楼前路灯坏了一周", "王小明", "13812345678", False, False, "{}",
            stamp(submitted), stamp(submitted + 24 * HOUR),
            stamp(None if signed is None else signed + 120 * HOUR), stamp(accepted),
            stamp(signed), stamp(resolved), stamp(rated), stamp(closed), responded, on_time,
            level, resolved_level, escalations, reopens, rating, satisfaction, solved, False,
            created_by, stamp(last),
        )  # fmt: skip
        yield instance, ticket


def secondary_indexes(conn: Any, table: str, sqlite: bool) -> list[tuple[str, str]]:
    """(name, CREATE statement) of ``table``'s indexes that no constraint owns."""
    if sqlite:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND schemaname = current_schema() AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint)",
            (table,),
        )
    return [(name, sql) for name, sql in rows]


def load_tickets(bench: Bench, n: int) -> tuple[float, float]:
    """``n`` tickets and their workflow instances, secondary indexes dropped during the load
    and rebuilt after, then ANALYZE. Returns (seconds loading, seconds indexing)."""
    grids = county_grids(bench)
    first_id = 1 + max(
        bench.scalar("SELECT coalesce(max(id), 0) FROM ticket"),
        bench.scalar("SELECT coalesce(max(id), 0) FROM workflow_instance"),
    )
    rows = generate(n, grids, first_id, bench.sqlite)
    started = time.perf_counter()
    with bench.engine.begin() as conn:
        dropped = []
        for table in ("workflow_instance", "ticket"):
            for name, sql in secondary_indexes(conn, table, bench.sqlite):
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
                dropped.append(sql)
        columns = {"workflow_instance": INSTANCE_COLUMNS, "ticket": TICKET_COLUMNS}
        if bench.sqlite:
            statements = {
                table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                f"({', '.join('?' * len(cols))})"
                for table, cols in columns.items()
            }
            while chunk := [row for _, row in zip(range(LOAD_CHUNK), rows, strict=False)]:
                conn.exec_driver_sql(statements["workflow_instance"], [i for i, _ in chunk])
                conn.exec_driver_sql(statements["ticket"], [t for _, t in chunk])
        else:
            cursor = conn.connection.driver_connection.cursor()
            while chunk := [row for _, row in zip(range(LOAD_CHUNK), rows, strict=False)]:
                for position, table in enumerate(columns):
                    sql = f"COPY {table} ({', '.join(columns[table])}) FROM STDIN"
                    with cursor.copy(sql) as copy:
                        for row in chunk:
                            copy.write_row(row[position])
            for table in columns:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        loaded = time.perf_counter()
        for sql in dropped:
            conn.exec_driver_sql(sql)
    indexed = time.perf_counter()
    with bench.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return loaded - started, indexed - loaded


@dataclass(frozen=True)
class RawKpi:
    """The hand-written aggregate of one KPI in one statement, in driver SQL."""

    engine: Any
    sql: str
    params: tuple[Any, ...]

    def __call__(self, _: object = None) -> float | None:
        with self.engine.connect() as conn:
            value = conn.exec_driver_sql(self.sql, self.params).scalar()
        return None if value is None else round(float(value), 6)


def raw_kpi(bench: Bench, name: str, zone: ZoneInfo) -> RawKpi:
    """``100 * satisfied / rated`` (dated by the rating) or ``100 * resolved / submitted``
    of the requests submitted in the month's local days, over the county's ``origin_code``
    range."""
    path = parse_code(COUNTY).path
    lo, hi = (
        datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        for day in (MONTH[0], MONTH[1] + timedelta(days=1))
    )
    mark = "?" if bench.sqlite else "%s"
    if bench.sqlite:
        bounds: tuple[Any, ...] = tuple(t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in (lo, hi))
    else:
        bounds = (lo, hi)
    where = f"origin_code >= {mark} AND origin_code < {mark}"
    units = (path, path_upper_bound(path))
    if name == "satisfaction_rate":
        sql = (
            "SELECT 100.0 * sum(CASE WHEN satisfaction IN ('satisfied', 'basic') THEN 1 ELSE 0 "
            f"END) / nullif(count(*), 0) FROM ticket WHERE {where} AND rated_at >= {mark} "
            f"AND rated_at < {mark}"
        )
        return RawKpi(bench.engine, sql, units + bounds)
    sql = (  # the month's requests, and the share of them resolved by now
        "SELECT 100.0 * sum(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END) / "
        f"nullif(count(*), 0) FROM ticket WHERE {where} AND submitted_at >= {mark} "
        f"AND submitted_at < {mark}"
    )
    return RawKpi(bench.engine, sql, units + bounds)


def kpi_call(bench: Bench, name: str, aggregates: bool) -> Callable[[object], Any]:
    def call(_: object = None) -> Any:
        return metric_value(
            bench.engine, bench.kernel, "tickets", name, COUNTY, *MONTH, aggregates=aggregates
        )

    return call


def bench_kpis(bench: Bench) -> list[bool]:
    n = bench.sizes["tickets"]
    kernel = bench.kernel
    zone = ZoneInfo(kernel.settings.timezone)
    notes: list[str] = []
    loading, indexing = load_tickets(bench, n)
    print(  # now: the load takes a while
        f"  {n:,} tickets + {n:,} workflow instances loaded in {loading:.1f} s "
        f"({n / loading:,.0f} tickets/s), indexes rebuilt in {indexing:.1f} s, then ANALYZE"
    )
    now = datetime(YEAR + 1, 1, 2, 12, tzinfo=zone)  # the aggregates' "today": all of YEAR
    today = local_day(now, zone)
    started = time.perf_counter()
    refreshed = []
    for name in KPIS:
        for counted in kernel.metrics.parts(kernel.metrics.get("tickets", name)):
            if counted.key not in refreshed:
                refresh_metric(kernel.engine, counted, zone, today, now, full=True)
                refreshed.append(counted.key)
    print(
        f"  daily aggregates of {', '.join(refreshed)} rebuilt (refresh_metric, full) in "
        f"{time.perf_counter() - started:.1f} s, fresh through {today - timedelta(days=1)}"
    )
    batches: dict[str, Callable[[], float]] = {}
    calls = range(METRIC_BATCH)
    for name in KPIS:
        raw, served = raw_kpi(bench, name, zone), kpi_call(bench, name, True)
        live = kpi_call(bench, name, False)
        answers = (raw(), served(), live())
        assert answers[0] is not None and all(
            a is not None and abs(a - answers[0]) < 1e-6 for a in answers
        ), (name, answers)
        notes.append(f"{name}: raw {answers[0]}, served {answers[1]}, live {answers[2]}")
        batches[f"raw_{name}"] = lambda q=raw: timed_loop(q, calls)
        batches[f"served_{name}"] = lambda f=served: timed_loop(f, calls)
        batches[f"live_{name}"] = lambda f=live: timed_loop(f, calls)
    stats = interleaved(batches, METRIC_ROUNDS)

    def ms(stat: Stat) -> list[float]:
        return [s / 1e6 for s in stat.samples]

    month = f"{MONTH[0]:%Y-%m}"
    lines = []
    for name in KPIS:
        raw = ms(stats[f"raw_{name}"])
        lines += [
            Line(f"tickets.{name}, county, {month}: served", ms(stats[f"served_{name}"]), raw,
                 "R", "ms", False, KPI_TARGET),
            Line("   same, computed live (aggregates=False)", ms(stats[f"live_{name}"]), raw,
                 "R", "ms", False),
        ]  # fmt: skip
    return print_report(
        f"4. County KPIs over {n:,} tickets ({METRIC_BATCH} calls per batch, {METRIC_ROUNDS} "
        "rounds)",
        lines,
        [],
        {
            "R": "the raw SQL aggregate computing the same value in one statement (driver SQL "
            "on a connection of the same engine, checked out per call as metric_value does): "
            "100.0 * sum(CASE ...) / count over ticket WHERE origin_code in the county's range "
            "AND the milestone(s) in the month's local days; same table, same indexes",
        },
        notes,
    )


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[bool]:
    sizes = dict(QUICK if args.quick else FULL)
    if args.tickets is not None:
        sizes["tickets"] = args.tickets
    verdicts: list[bool] = []
    with ExitStack() as stack:
        url = stack.enter_context(bench_database(args.postgres))
        minimal_url = stack.enter_context(bench_database(args.postgres))
        bench = build(url, minimal_url, sizes)
        print(
            f"database: {bench.database}; demo county {COUNTY}, plugins {', '.join(PLUGINS)} "
            f"on at the county; the demo grid worker's bearer token; load: {generator()}"
        )
        verdicts += part("1-2. HTTP", lambda: bench_http(bench))
        print(f"  load average now {loadavg()}")
        verdicts += part("3. retry storm", lambda: bench_storm(bench))
        print(f"  load average now {loadavg()}")
        verdicts += part("4. KPIs", lambda: bench_kpis(bench))
        bench.engine.dispose()
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (SANMIN_TEST_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES_URL}) in fresh schemas, dropped afterwards",
    )
    parser.add_argument("--quick", action="store_true", help="a small trial")
    parser.add_argument("--tickets", type=int, help="tickets for the KPIs (default 1,000,000)")
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "PORT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        kind, port, url = args.serve
        serve(kind, int(port), url)
        return 0
    return report("tickets", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
